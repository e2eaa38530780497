// Package layertest builds small in-memory images for tests of analyzers:
// each layer is a list of files (and whiteouts) written as an
// uncompressed tar, fed to the walker without touching the disk.
package layertest

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"path"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/shipshape-dev/shipshape/internal/image"
)

// File is one file of a layer. A Content of nil with Whiteout set deletes
// the path from lower layers.
type File struct {
	Content  []byte
	Mode     int64 // default 0644
	Whiteout bool
	Link     string // symlink target when set
}

// Layer is a layer's files by absolute path, with its history line.
type Layer struct {
	Files     map[string]File
	CreatedBy string
}

// Tar writes the layer as a tar archive, parents first.
func Tar(t testing.TB, l Layer) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	var paths []string
	for p := range l.Files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		rel := strings.TrimPrefix(p, "/")
		for d := path.Dir(rel); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var ds []string
	for d := range dirs {
		ds = append(ds, d)
	}
	sort.Strings(ds)
	for _, d := range ds {
		if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range paths {
		f := l.Files[p]
		rel := strings.TrimPrefix(p, "/")
		switch {
		case f.Whiteout:
			name := path.Join(path.Dir(rel), ".wh."+path.Base(rel))
			if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
				t.Fatal(err)
			}
		case f.Link != "":
			if err := tw.WriteHeader(&tar.Header{Name: rel, Typeflag: tar.TypeSymlink, Linkname: f.Link, Mode: 0o777}); err != nil {
				t.Fatal(err)
			}
		default:
			mode := f.Mode
			if mode == 0 {
				mode = 0o644
			}
			if err := tw.WriteHeader(&tar.Header{Name: rel, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(f.Content))}); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write(f.Content); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Image returns an image made of the layers, bottom first.
func Image(t testing.TB, layers ...Layer) *image.Image {
	t.Helper()
	img := &image.Image{
		Reference: "layertest:image",
		Transport: "docker-archive",
		Config:    &v1.ConfigFile{OS: "linux", Architecture: "amd64"},
	}
	for i, l := range layers {
		b := Tar(t, l)
		il := image.NewLayer(func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(b)), nil
		})
		il.Index = i + 1
		il.Size = int64(len(b))
		il.CreatedBy = l.CreatedBy
		img.Layers = append(img.Layers, il)
	}
	return img
}
