// Package build writes a slimmed image: one layer holding the kept files of
// the original filesystem, on an empty image carrying the original config.
package build

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/shipshape-dev/shipshape/internal/slim/rootfs"
)

// Stats count what a layer holds.
type Stats struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

// WriteLayer writes the kept paths (sorted, parents first) of fs as an
// uncompressed layer tar to w; regular files in replace get that content.
func WriteLayer(fs *rootfs.FS, paths []string, replace map[string][]byte, w io.Writer) (Stats, error) {
	var st Stats
	tw := tar.NewWriter(w)
	for _, p := range paths {
		e := fs.Lookup(p)
		if e == nil {
			continue
		}
		h := *e.Header
		h.Name = strings.TrimPrefix(p, "/")
		h.Format = tar.FormatPAX
		h.Uname, h.Gname = "", ""
		switch h.Typeflag {
		case tar.TypeDir:
			h.Name += "/"
			h.Size = 0
		case tar.TypeReg:
			if b, ok := replace[p]; ok {
				h.Size = int64(len(b))
			}
			st.Files++
			st.Bytes += h.Size
		case tar.TypeSymlink:
			st.Files++
			h.Size = 0
		default:
			h.Size = 0
		}
		if err := tw.WriteHeader(&h); err != nil {
			return st, fmt.Errorf("layer: %s: %w", p, err)
		}
		if b, ok := replace[p]; ok && h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(b); err != nil {
				return st, fmt.Errorf("layer: %s: %w", p, err)
			}
		} else if h.Typeflag == tar.TypeReg {
			if _, err := io.Copy(tw, fs.Open(e)); err != nil {
				return st, fmt.Errorf("layer: %s: %w", p, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return st, fmt.Errorf("layer: %w", err)
	}
	return st, nil
}

// The OCI keys that name an image's base, as annotations or labels.
const (
	BaseNameKey   = "org.opencontainers.image.base.name"
	BaseDigestKey = "org.opencontainers.image.base.digest"
)

// Base is the base image of the original, when something named it.
type Base struct {
	Name, Digest string
}

// Image makes a one-layer image from the layer tar at layerPath with the
// original config (entrypoint, cmd, env, user, workdir, ports, labels,
// healthcheck …) and a history entry naming the source digest. The
// original's base image stays the slimmed image's base: its labels are
// copied, and a base the original named only in manifest annotations
// (base) becomes a label, so that scanners find the same base instead of
// taking the one-layer result for a base image of its own.
func Image(layerPath string, orig *v1.ConfigFile, source string, created time.Time, base Base) (v1.Image, error) {
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return os.Open(layerPath) })
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	cfg := orig.DeepCopy()
	cfg.RootFS = v1.RootFS{Type: "layers"}
	cfg.History = nil
	cfg.Created = v1.Time{Time: created}
	cfg.Container = ""
	if base.Name != "" && cfg.Config.Labels[BaseNameKey] == "" {
		labels := map[string]string{BaseNameKey: base.Name}
		if base.Digest != "" {
			labels[BaseDigestKey] = base.Digest
		}
		for k, v := range cfg.Config.Labels {
			labels[k] = v
		}
		cfg.Config.Labels = labels
	}
	img, err := mutate.ConfigFile(empty.Image, cfg)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
		Created:   v1.Time{Time: created},
		CreatedBy: "shipshape slim " + source,
		Comment:   "files the application used, from " + source,
	}})
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	return img, nil
}
