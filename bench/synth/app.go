package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
)

// refName is the OCI layout annotation that tags an image.
const refName = "org.opencontainers.image.ref.name"

// app writes an OCI layout at out with two images: "latest", the image
// tagged in the layout base ("DIR:TAG") with one app layer added (what a
// build on a cached base adds), and "alone", that layer by itself (what
// the layer costs to scan with nothing else). The layer holds 2,000 small
// source files and a 16 MiB executable of random bytes, gzip-compressed.
func app(base, out string) error {
	img, err := tagged(base)
	if err != nil {
		return err
	}
	blob, err := appLayer()
	if err != nil {
		return err
	}
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil })
	if err != nil {
		return err
	}
	add := mutate.Addendum{Layer: l, History: v1.History{CreatedBy: "COPY app/ /app/", Created: v1.Time{Time: imagetest.Epoch}}}
	withBase, err := mutate.Append(img, add)
	if err != nil {
		return err
	}
	alone, err := mutate.Append(empty.Image, add)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(out); err != nil {
		return err
	}
	p, err := layout.Write(out, empty.Index)
	if err != nil {
		return err
	}
	for _, t := range []struct {
		tag string
		img v1.Image
	}{{"latest", withBase}, {"alone", alone}} {
		if err := p.AppendImage(t.img, layout.WithAnnotations(map[string]string{refName: t.tag})); err != nil {
			return fmt.Errorf("writing %s: %w", t.tag, err)
		}
	}
	return nil
}

// tagged returns the image an OCI layout tags, named "DIR:TAG" (-base).
func tagged(base string) (v1.Image, error) {
	dir, tag, ok := strings.Cut(base, ":")
	if !ok {
		return nil, fmt.Errorf("-base %q: want DIR:TAG", base)
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("-base %s: %w", base, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("-base %s: %w", base, err)
	}
	for _, d := range m.Manifests {
		if d.Annotations[refName] == tag {
			return idx.Image(d.Digest)
		}
	}
	return nil, fmt.Errorf("-base %s: no image tagged %q", base, tag)
}

// appLayer returns the app layer's tar, uncompressed (tarball compresses
// it).
func appLayer() ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	put := func(name string, mode int64, content []byte) error {
		h := &tar.Header{Name: name, Mode: mode, Size: int64(len(content)), ModTime: imagetest.Epoch, Typeflag: tar.TypeReg}
		if strings.HasSuffix(name, "/") {
			h.Typeflag, h.Size = tar.TypeDir, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		_, err := tw.Write(content)
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	if err := put("app/", 0o755, nil); err != nil {
		return nil, err
	}
	for d := range 20 {
		if err := put(fmt.Sprintf("app/mod%02d/", d), 0o755, nil); err != nil {
			return nil, err
		}
		for f := range 100 {
			var src strings.Builder
			for line := range 60 {
				fmt.Fprintf(&src, "def handler_%d_%d(request):\n    return render(request, %q)\n", f, line, fmt.Sprintf("page-%d.html", rng.IntN(1000)))
			}
			if err := put(fmt.Sprintf("app/mod%02d/view%03d.py", d, f), 0o644, []byte(src.String())); err != nil {
				return nil, err
			}
		}
	}
	bin := make([]byte, 16<<20)
	for i := 0; i < len(bin); i += 8 {
		v := rng.Uint64()
		for j := range 8 {
			bin[i+j] = byte(v >> (8 * j))
		}
	}
	if err := put("app/server", 0o755, bin); err != nil {
		return nil, err
	}
	if err := put("app/requirements.txt", 0o644, []byte("django==4.2.0\nrequests==2.31.0\n")); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
