package image_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// Asking for a platform the image does not have is an error that names
// the platforms it has, whatever the transport.
func TestPlatformNotInImage(t *testing.T) {
	dir := t.TempDir()
	one := imagetest.Image{RepoTag: "app:1", Layers: []imagetest.Layer{{Files: []imagetest.File{imagetest.Reg("a", "x")}}}}
	archive := filepath.Join(dir, "amd64.tar")
	one.WriteDockerArchive(t, archive, false)
	ociArchive := filepath.Join(dir, "amd64-oci.tar")
	one.WriteOCIArchive(t, ociArchive)
	layoutDir := filepath.Join(dir, "layout")
	one.WriteOCILayout(t, layoutDir)
	multi := filepath.Join(dir, "multi")
	imagetest.Index{Images: map[string]imagetest.Image{"linux/amd64": one, "linux/arm64/v8": one}, RepoTag: "app:multi"}.WriteOCILayout(t, multi)

	tests := []struct {
		ref, platform, want string
	}{
		{"docker-archive:" + archive, "linux/arm64", "the image has only linux/amd64"},
		{"oci-archive:" + ociArchive, "linux/arm64", "the image has only linux/amd64"},
		{"oci:" + layoutDir, "linux/s390x", "linux/amd64"},
		{"oci:" + multi, "linux/s390x", "linux/amd64, linux/arm64/v8"},
		{"docker-archive:" + archive, "linux/amd64", ""},
		{"oci:" + multi, "linux/arm64", ""},
	}
	for _, tt := range tests {
		img, err := image.Open(context.Background(), tt.ref, image.Options{Platform: tt.platform, TempDir: t.TempDir()})
		if tt.want == "" {
			if err != nil {
				t.Errorf("Open(%s, %s): %v", tt.ref, tt.platform, err)
			} else {
				img.Close()
			}
			continue
		}
		if err == nil {
			img.Close()
			t.Errorf("Open(%s, --platform %s) scanned %s/%s", tt.ref, tt.platform, img.Config.OS, img.Config.Architecture)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.platform) {
			t.Errorf("Open(%s, --platform %s) = %v, want the platforms it has (%s)", tt.ref, tt.platform, err, tt.want)
		}
	}
}

// A FIFO given as the image is refused at once instead of blocking on open
// (and a FIFO inside an OCI layout too).
func TestNonRegularFilesRefused(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "image.tar")
	testenv.Require(t, "mkfifo", syscall.Mkfifo(fifo, 0o600))
	layoutDir := filepath.Join(dir, "layout")
	w := imagetest.Image{Layers: []imagetest.Layer{{Files: []imagetest.File{imagetest.Reg("a", "x")}}}}.WriteOCILayout(t, layoutDir)
	blob := filepath.Join(layoutDir, "blobs", "sha256", strings.TrimPrefix(w.ConfigDigest, "sha256:"))
	if err := os.Remove(blob); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(blob, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{fifo, "docker-archive:" + fifo, "oci-archive:" + fifo, "oci:" + layoutDir} {
		done := make(chan error, 1)
		go func() {
			img, err := image.Open(context.Background(), ref, image.Options{TempDir: t.TempDir()})
			if err == nil {
				img.Close()
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "FIFO") && !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("Open(%s) = %v, want a refusal naming the file kind", ref, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("Open(%s) blocks on a FIFO", ref)
		}
	}
}
