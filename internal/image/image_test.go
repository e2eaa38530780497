package image

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSplitTransport(t *testing.T) {
	tests := []struct {
		in   string
		t    Transport
		rest string
	}{
		{"docker-daemon:app:1", Daemon, "app:1"},
		{"docker://reg.io/a/b:1", Registry, "//reg.io/a/b:1"},
		{"docker-archive:/x.tar:app:1", DockerArchive, "/x.tar:app:1"},
		{"oci:/dir:tag", OCILayout, "/dir:tag"},
		{"oci-archive:/x.tar", OCIArchive, "/x.tar"},
		{"dir:/rootfs", Dir, "/rootfs"},
		{"registry:reg.io/a", Registry, "reg.io/a"},
		{"alpine:3.20", "", "alpine:3.20"},
	}
	for _, tt := range tests {
		tr, rest := splitTransport(tt.in)
		if tr != tt.t || rest != tt.rest {
			t.Errorf("splitTransport(%q) = %q, %q", tt.in, tr, rest)
		}
	}
}

func TestOpenErrorsNameTheInput(t *testing.T) {
	dir := t.TempDir()
	notTar := filepath.Join(dir, "notes.txt")
	os.WriteFile(notTar, []byte("hello"), 0o644)
	emptyDir := filepath.Join(dir, "layout")
	os.Mkdir(emptyDir, 0o755)
	os.WriteFile(filepath.Join(emptyDir, "index.json"), []byte(`{"manifests": []}`), 0o644)
	escape := filepath.Join(dir, "escape")
	os.Mkdir(escape, 0o755)
	os.WriteFile(filepath.Join(escape, "index.json"), []byte(`{"manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:`+strings.Repeat("a", 64)+`", "size": 10}]}`), 0o644)
	tests := []struct{ ref, want string }{
		{"docker-archive:" + filepath.Join(dir, "missing.tar"), "missing.tar: no such file"},
		{"docker-archive:" + notTar, "notes.txt"},
		{"oci:" + emptyDir, "index.json lists no manifest"},
		{"oci:" + escape, "blobs/sha256/aaaa"},
		{"dir:" + notTar, "not a directory"},
		{"oci-archive:" + notTar, "notes.txt"},
	}
	for _, tt := range tests {
		_, err := Open(context.Background(), tt.ref, Options{TempDir: t.TempDir()})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%s) = %v, want an error containing %q", tt.ref, err, tt.want)
		}
	}
}
