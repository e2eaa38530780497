package image

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

func tarOf(files map[string]string) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	return b.Bytes()
}

// FuzzOpenArchive opens arbitrary archives as docker-save and OCI
// archives: a result or an error, never a panic.
func FuzzOpenArchive(f *testing.F) {
	f.Add(tarOf(map[string]string{"manifest.json": `[{"Config":"c.json","Layers":["l.tar"]}]`, "c.json": `{"rootfs":{"diff_ids":["sha256:` + string(bytes.Repeat([]byte("a"), 64)) + `"]}}`, "l.tar": ""}))
	f.Add(tarOf(map[string]string{"index.json": `{"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:` + string(bytes.Repeat([]byte("b"), 64)) + `"}]}`}))
	f.Add(tarOf(map[string]string{"manifest.json": `[{"Config":"../../etc/passwd"}]`}))
	f.Fuzz(func(t *testing.T, archive []byte) {
		p := filepath.Join(t.TempDir(), "img.tar")
		if err := os.WriteFile(p, archive, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, ref := range []string{"docker-archive:" + p, "oci-archive:" + p} {
			img, err := Open(context.Background(), ref, Options{TempDir: t.TempDir(), MaxArchiveBytes: 16 << 20})
			if err == nil {
				img.Close()
			}
		}
	})
}
