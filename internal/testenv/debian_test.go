package testenv

import (
	"archive/tar"
	"io"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// TestCleanDebianImage builds (or finds in the cache) the clean Debian
// image and checks it is a one-layer docker-archive holding a Debian root
// filesystem with the packages it promises.
func TestCleanDebianImage(t *testing.T) {
	ref := CleanDebianImage(t)
	path, ok := strings.CutPrefix(ref, "docker-archive:")
	if !ok {
		t.Fatalf("CleanDebianImage = %q, want docker-archive:PATH", ref)
	}
	img, err := tarball.ImageFromPath(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers, %v; want 1", len(layers), err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	found := map[string]bool{}
	want := []string{"etc/debian_version", "usr/bin/python3", "usr/bin/node", "usr/bin/ruby", "usr/bin/java"}
	if err := eachTarName(rc, func(name string) {
		for _, w := range want {
			if name == w {
				found[w] = true
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		if !found[w] {
			t.Errorf("%s has no /%s", path, w)
		}
	}
}

// eachTarName calls fn with the name of every entry of the tar stream r,
// without a leading "./".
func eachTarName(r io.Reader, fn func(string)) error {
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		fn(strings.TrimPrefix(h.Name, "./"))
	}
}
