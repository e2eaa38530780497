package image

import (
	"context"
	"fmt"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// V1 presents the image as a go-containerregistry v1.Image, so it can be
// changed with mutate and written anywhere. A registry image is returned
// as read; an image whose manifest is known (OCI layouts and archives)
// reuses the manifest's digests, so nothing is read until a blob is
// written; only images without a manifest (legacy docker-save archives,
// root filesystems) have their layers read to compute digests.
// Blobs are opened with ctx.
func (i *Image) V1(ctx context.Context) (v1.Image, error) {
	if i.v1 != nil {
		return i.v1, nil
	}
	if i.RawManifest != nil && i.Manifest != nil && len(i.Manifest.Layers) == len(i.Layers) {
		return partial.CompressedToImage(&compressedCore{img: i, ctx: ctx})
	}
	return i.appendLayers(ctx)
}

// appendLayers builds the image from its layers' blobs and its config.
func (i *Image) appendLayers(ctx context.Context) (v1.Image, error) {
	var adds []mutate.Addendum
	for _, l := range i.Layers {
		tl, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return l.Open(ctx) })
		if err != nil {
			return nil, fmt.Errorf("layer %d (%s): %w", l.Index, l.Name(), err)
		}
		adds = append(adds, mutate.Addendum{Layer: tl})
	}
	out, err := mutate.Append(empty.Image, adds...)
	if err != nil {
		return nil, err
	}
	return mutate.ConfigFile(out, i.Config.DeepCopy())
}

// compressedCore is partial.CompressedImageCore over an opened image with
// a known manifest.
type compressedCore struct {
	img *Image
	ctx context.Context
}

func (c *compressedCore) RawConfigFile() ([]byte, error) { return c.img.RawConfig, nil }

func (c *compressedCore) MediaType() (types.MediaType, error) {
	if c.img.Manifest.MediaType != "" {
		return c.img.Manifest.MediaType, nil
	}
	return types.OCIManifestSchema1, nil
}

func (c *compressedCore) RawManifest() ([]byte, error) { return c.img.RawManifest, nil }

func (c *compressedCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range c.img.Layers {
		if l.Digest == h {
			return &compressedLayer{l: l, ctx: c.ctx}, nil
		}
	}
	return nil, fmt.Errorf("image %s: no layer %s", c.img.Reference, h)
}

// compressedLayer is partial.CompressedLayer over one layer's blob.
type compressedLayer struct {
	l   *Layer
	ctx context.Context
}

func (c *compressedLayer) Digest() (v1.Hash, error)           { return c.l.Digest, nil }
func (c *compressedLayer) Compressed() (io.ReadCloser, error) { return c.l.Open(c.ctx) }
func (c *compressedLayer) Size() (int64, error)               { return c.l.Size, nil }
func (c *compressedLayer) MediaType() (types.MediaType, error) {
	return types.MediaType(c.l.MediaType), nil
}
