package image

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseReference(t *testing.T) {
	dir := t.TempDir()
	colon := filepath.Join(dir, "a:b.tar")
	os.WriteFile(colon, nil, 0o644)
	tests := []struct {
		in   string
		want Reference
		str  string
	}{
		{"docker-daemon:app:1", Reference{Transport: Daemon, Name: "app:1"}, "docker-daemon:app:1"},
		{"docker://reg.io/a/b:1", Reference{Transport: Registry, Name: "reg.io/a/b:1"}, "docker://reg.io/a/b:1"},
		{"registry:reg.io/a", Reference{Transport: Registry, Name: "reg.io/a"}, "docker://reg.io/a"},
		{"docker-archive:/x.tar:app:1", Reference{Transport: DockerArchive, Path: "/x.tar", Name: "app:1"}, "docker-archive:/x.tar:app:1"},
		{"docker-archive:" + colon, Reference{Transport: DockerArchive, Path: colon}, "docker-archive:" + colon},
		{"oci:/dir:tag", Reference{Transport: OCILayout, Path: "/dir", Name: "tag"}, "oci:/dir:tag"},
		{"oci:/a:b/dir", Reference{Transport: OCILayout, Path: "/a:b/dir"}, "oci:/a:b/dir"},
		{"oci-archive:/x.tar", Reference{Transport: OCIArchive, Path: "/x.tar"}, "oci-archive:/x.tar"},
		{"dir:/rootfs", Reference{Transport: Dir, Path: "/rootfs"}, "dir:/rootfs"},
		{"alpine:3.20", Reference{Name: "alpine:3.20"}, "alpine:3.20"},
		{"myorg/app", Reference{Name: "myorg/app"}, "myorg/app"},
		// Whatever looks like a path is a path, never a registry name.
		{"/no/such/x.tar", Reference{Transport: pathTransport, Path: "/no/such/x.tar"}, "path:/no/such/x.tar"},
		{"./x", Reference{Transport: pathTransport, Path: "./x"}, "path:./x"},
		{"out.tar.gz", Reference{Transport: pathTransport, Path: "out.tar.gz"}, "path:out.tar.gz"},
		{dir, Reference{Transport: pathTransport, Path: dir}, "path:" + dir},
	}
	for _, tt := range tests {
		got, err := ParseReference(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseReference(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		if s := got.String(); err == nil && s != tt.str {
			t.Errorf("ParseReference(%q).String() = %q, want %q", tt.in, s, tt.str)
		}
	}
	for _, bad := range []string{"", "docker://", "docker-daemon:", "dir:"} {
		if _, err := ParseReference(bad); err == nil {
			t.Errorf("ParseReference(%q) succeeded", bad)
		}
	}
}

func TestParseDestination(t *testing.T) {
	ok := map[string]Reference{
		"docker-archive:out.tar":            {Transport: DockerArchive, Path: "out.tar"},
		"docker-archive:out.tar:app:clean":  {Transport: DockerArchive, Path: "out.tar", Name: "app:clean"},
		"oci:dir:v1":                        {Transport: OCILayout, Path: "dir", Name: "v1"},
		"docker-daemon:app:clean":           {Transport: Daemon, Name: "app:clean"},
		"docker://registry.example/app:1.0": {Transport: Registry, Name: "registry.example/app:1.0"},
	}
	for in, want := range ok {
		got, err := ParseDestination(in)
		if err != nil || got != want {
			t.Errorf("ParseDestination(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	// A typo of a transport, a bare name and a bare path are refused: none
	// of them may become a push to a registry.
	for _, bad := range []string{"docker-arhive:out.tar", "myorg/app:clean", "out.tar", "oci-archive:x.tar", "dir:/x", "docker-archive:", "docker-daemon:"} {
		_, err := ParseDestination(bad)
		if err == nil {
			t.Errorf("ParseDestination(%q) succeeded", bad)
			continue
		}
		if !strings.Contains(err.Error(), "docker-archive:PATH") {
			t.Errorf("ParseDestination(%q) error %q does not list the forms", bad, err)
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
