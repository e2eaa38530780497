// Package layertest builds small in-memory images for tests of analyzers:
// each layer is a list of files (and whiteouts) written as an
// uncompressed tar, fed to the walker without touching the disk.
package layertest

import (
	"bytes"
	"context"
	"io"
	"maps"
	"path"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imagetest"
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

// Tar writes the layer as a tar archive (with imagetest), parents first:
// a directory entry for every parent, then the files in path order.
func Tar(t testing.TB, l Layer) []byte {
	t.Helper()
	dirs := map[string]bool{}
	paths := slices.Sorted(maps.Keys(l.Files))
	for _, p := range paths {
		rel := strings.TrimPrefix(p, "/")
		for d := path.Dir(rel); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	var out imagetest.Layer
	for _, d := range slices.Sorted(maps.Keys(dirs)) {
		out.Files = append(out.Files, imagetest.Dir(d+"/"))
	}
	for _, p := range paths {
		f := l.Files[p]
		rel := strings.TrimPrefix(p, "/")
		switch {
		case f.Whiteout:
			out.Files = append(out.Files, imagetest.Whiteout(rel))
		case f.Link != "":
			out.Files = append(out.Files, imagetest.Symlink(rel, f.Link))
		default:
			out.Files = append(out.Files, imagetest.File{Name: rel, Content: f.Content, Mode: f.Mode})
		}
	}
	var buf bytes.Buffer
	if err := out.WriteTar(&buf); err != nil {
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
