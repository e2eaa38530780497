// Package imageout writes images that shipshape made (a fixed image, a
// slimmed image) to the places users keep them: a docker-save archive, an
// OCI layout, the Docker Engine or a registry. Destinations use the same
// transport syntax as the images shipshape reads.
package imageout

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/daemon"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/shipshape-dev/shipshape/internal/atomicfile"
	"github.com/shipshape-dev/shipshape/internal/image"
)

// DefaultTag names an image written without a tag.
const DefaultTag = "shipshape.local/output:latest"

// Options tune writing.
type Options struct {
	// Insecure allows plain-HTTP and unverified-TLS registries.
	Insecure bool
	// Keychain resolves registry credentials; nil means the Docker config.
	Keychain authn.Keychain
	// Name tags an archive or layout written without a name of its own
	// (see DerivedName); empty means DefaultTag.
	Name string
}

// DerivedName names an image made from the image ref names, the way
// docker-slim does: "app:1.0" with suffix "slim" becomes "app.slim:1.0".
// repoTags are the source image's own names, preferred over ref when it
// is a file. An input without any name gives "shipshape.local/BASE.SUFFIX".
func DerivedName(ref string, repoTags []string, suffix string) string {
	n := ""
	if r, err := image.ParseReference(ref); err == nil {
		switch {
		case r.Transport == "" || r.Transport == image.Daemon || r.Transport == image.Registry:
			n = r.Name
		case r.Name != "":
			n = r.Name
		}
		if n == "" && len(repoTags) > 0 {
			n = repoTags[0]
		}
		if n == "" && r.Path != "" {
			base := strings.TrimSuffix(filepath.Base(r.Path), filepath.Ext(r.Path))
			base = strings.TrimSuffix(base, ".tar")
			n = "shipshape.local/" + strings.ToLower(base)
		}
	}
	if i := strings.Index(n, "@"); i >= 0 {
		n = n[:i]
	}
	if strings.HasPrefix(n, "sha256:") {
		n = "" // an image ID names nothing
	}
	tag := "latest"
	if i := strings.LastIndex(n, ":"); i > strings.LastIndex(n, "/") {
		n, tag = n[:i], n[i+1:]
	}
	if n == "" || strings.HasPrefix(n, "sha256") {
		n = "shipshape.local/image"
	}
	out := n + "." + suffix + ":" + tag
	if _, err := name.NewTag(out); err != nil {
		return "shipshape.local/image." + suffix + ":latest"
	}
	return out
}

// tagSuffix is ":REF" for a non-empty ref.
func tagSuffix(ref string) string {
	if ref == "" {
		return ""
	}
	return ":" + ref
}

// Write writes img to dest and returns a description of where it went.
func Write(ctx context.Context, img v1.Image, dest string, opts Options) (string, error) {
	d, err := image.ParseDestination(dest)
	if err != nil {
		return "", err
	}
	if opts.Keychain == nil {
		opts.Keychain = authn.DefaultKeychain
	}
	switch d.Transport {
	case image.DockerArchive:
		ref := d.Name
		if ref == "" {
			ref = cmp.Or(opts.Name, DefaultTag)
		}
		tag, err := name.NewTag(ref)
		if err != nil {
			return "", fmt.Errorf("output %s: tag %q: %w", dest, ref, err)
		}
		// Written next to the destination and renamed into place only when
		// complete: an interrupted run leaves the previous archive.
		f, err := atomicfile.Create(d.Path, 0o644)
		if err != nil {
			return "", fmt.Errorf("output %s: %w", dest, err)
		}
		defer f.Abort()
		if err := tarball.Write(tag, img, f); err != nil {
			return "", fmt.Errorf("output %s: %w", dest, err)
		}
		if err := ctx.Err(); err != nil {
			return "", fmt.Errorf("output %s: %w", dest, err)
		}
		if err := f.Commit(); err != nil {
			return "", fmt.Errorf("output %s: %w", dest, err)
		}
		return "docker-archive:" + d.Path, nil
	case image.OCILayout:
		if _, err := os.Lstat(d.Path); errors.Is(err, os.ErrNotExist) {
			// A new layout is written beside its name and renamed into
			// place when complete.
			tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(d.Path)), "."+filepath.Base(d.Path)+".tmp-*")
			if err != nil {
				return "", fmt.Errorf("output %s: %w", dest, err)
			}
			defer os.RemoveAll(tmp)
			if _, err := Write(ctx, img, "oci:"+tmp+tagSuffix(d.Name), opts); err != nil {
				if inner := errors.Unwrap(err); inner != nil {
					err = inner
				}
				return "", fmt.Errorf("output %s: %w", dest, err)
			}
			if err := ctx.Err(); err != nil {
				return "", fmt.Errorf("output %s: %w", dest, err)
			}
			if err := os.Chmod(tmp, 0o755); err != nil {
				return "", fmt.Errorf("output %s: %w", dest, err)
			}
			if err := os.Rename(tmp, d.Path); err != nil {
				return "", fmt.Errorf("output %s: %w", dest, err)
			}
			return "oci:" + d.Path, nil
		}
		p, err := layout.FromPath(d.Path)
		if err != nil {
			if _, serr := os.Stat(d.Path); serr == nil {
				entries, _ := os.ReadDir(d.Path)
				if len(entries) > 0 {
					return "", fmt.Errorf("output %s: %s exists and is not an OCI layout", dest, d.Path)
				}
			}
			if p, err = layout.Write(d.Path, empty.Index); err != nil {
				return "", fmt.Errorf("output %s: %w", dest, err)
			}
		}
		if img, err = ociMediaTypes(img); err != nil {
			return "", fmt.Errorf("output %s: %w", dest, err)
		}
		var lopts []layout.Option
		if d.Name != "" {
			lopts = append(lopts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": d.Name}))
		}
		if err := p.AppendImage(img, lopts...); err != nil {
			return "", fmt.Errorf("output %s: %w", dest, err)
		}
		return "oci:" + d.Path, nil
	case image.Daemon:
		tag, err := name.NewTag(d.Name)
		if err != nil {
			return "", fmt.Errorf("output %s: tag %q: %w", dest, d.Name, err)
		}
		if _, err := daemon.Write(tag, img, daemon.WithContext(ctx)); err != nil {
			return "", fmt.Errorf("output %s: loading into the Docker Engine: %w", dest, err)
		}
		return "docker-daemon:" + tag.Name(), nil
	case image.Registry:
		ref, err := name.ParseReference(d.Name, image.NameOptions(opts.Insecure)...)
		if err != nil {
			return "", fmt.Errorf("output %s: %w", dest, err)
		}
		ropts := image.RemoteOptions(ctx, image.Options{Insecure: opts.Insecure, Keychain: opts.Keychain})
		if err := remote.Write(ref, img, ropts...); err != nil {
			return "", fmt.Errorf("output %s: %w", dest, err)
		}
		dig, err := img.Digest()
		if err != nil {
			return "", err
		}
		return ref.Context().Digest(dig.String()).Name(), nil
	}
	return "", fmt.Errorf("output %s: unsupported destination", dest)
}

// ociMediaTypes returns img with OCI media types for its manifest, config
// and layers when it has Docker ones: an OCI layout holding Docker schema 2
// manifests is one that umoci refuses and skopeo cannot find by tag. The
// blobs are the same bytes (Docker's gzip layer is OCI's), so layer digests
// and diffIDs do not change; the manifest digest does.
func ociMediaTypes(img v1.Image) (v1.Image, error) {
	mt, err := img.MediaType()
	if err != nil {
		return nil, err
	}
	if mt != types.DockerManifestSchema2 {
		return img, nil
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	var adds []mutate.Addendum
	for i, l := range layers {
		lmt, err := l.MediaType()
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i+1, err)
		}
		switch lmt {
		case types.DockerLayer:
			lmt = types.OCILayer
		case types.DockerUncompressedLayer:
			lmt = types.OCIUncompressedLayer
		case types.DockerForeignLayer:
			lmt = types.OCIRestrictedLayer
		}
		adds = append(adds, mutate.Addendum{Layer: l, MediaType: lmt})
	}
	out, err := mutate.Append(mutate.MediaType(empty.Image, types.OCIManifestSchema1), adds...)
	if err != nil {
		return nil, err
	}
	// The original config, history and diffIDs included: the layers are
	// the same.
	if out, err = mutate.ConfigFile(out, cf); err != nil {
		return nil, err
	}
	out = mutate.ConfigMediaType(out, types.OCIConfigJSON)
	if m, err := img.Manifest(); err == nil && len(m.Annotations) > 0 {
		out = mutate.Annotations(out, m.Annotations).(v1.Image)
	}
	return out, nil
}

// ToV1 presents an opened image as a go-containerregistry image, so it can
// be changed with mutate and written with Write (see image.Image.V1).
func ToV1(ctx context.Context, img *image.Image) (v1.Image, error) { return img.V1(ctx) }
