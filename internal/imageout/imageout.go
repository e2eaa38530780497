// Package imageout writes images that shipshape made (a fixed image, a
// slimmed image) to the places users keep them: a docker-save archive, an
// OCI layout, the Docker Engine or a registry. Destinations use the same
// transport syntax as the images shipshape reads.
package imageout

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
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
}

// Destination is a parsed output reference.
type Destination struct {
	Transport image.Transport
	// Path is the file or directory for archives and layouts.
	Path string
	// Ref is the tag or reference (may be empty for archives/layouts).
	Ref string
}

// Parse parses an output destination: docker-archive:PATH[:TAG],
// oci:DIR[:TAG], oci-archive is not supported, docker-daemon:NAME[:TAG],
// docker://REF (or a bare registry reference).
func Parse(dest string) (Destination, error) {
	cut := func(s string) (string, string) {
		// The tag follows the last colon after the last slash.
		i := strings.LastIndex(s, ":")
		if i > strings.LastIndex(s, "/") && i > 0 {
			return s[:i], s[i+1:]
		}
		return s, ""
	}
	switch {
	case strings.HasPrefix(dest, "docker-archive:"):
		p, t := splitPathTag(strings.TrimPrefix(dest, "docker-archive:"))
		return Destination{Transport: image.DockerArchive, Path: p, Ref: t}, nil
	case strings.HasPrefix(dest, "oci:"):
		p, t := cut(strings.TrimPrefix(dest, "oci:"))
		return Destination{Transport: image.OCILayout, Path: p, Ref: t}, nil
	case strings.HasPrefix(dest, "docker-daemon:"):
		return Destination{Transport: image.Daemon, Ref: strings.TrimPrefix(dest, "docker-daemon:")}, nil
	case strings.HasPrefix(dest, "docker://"):
		return Destination{Transport: image.Registry, Ref: strings.TrimPrefix(dest, "docker://")}, nil
	case strings.Contains(dest, ":") && !strings.HasPrefix(dest, "/") && !strings.HasPrefix(dest, "."):
		if strings.HasPrefix(dest, "oci-archive:") || strings.HasPrefix(dest, "dir:") {
			return Destination{}, fmt.Errorf("output %q: writing %s is not supported; use docker-archive:, oci:, docker-daemon: or docker://", dest, strings.SplitN(dest, ":", 2)[0])
		}
		return Destination{Transport: image.Registry, Ref: dest}, nil
	}
	// A bare path is a docker-save archive.
	return Destination{Transport: image.DockerArchive, Path: dest}, nil
}

// splitPathTag splits "PATH[:NAME:TAG]" for docker-archive: the reference
// starts after the first colon.
func splitPathTag(s string) (string, string) {
	if i := strings.Index(s, ":"); i > 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// Write writes img to dest and returns a description of where it went.
func Write(ctx context.Context, img v1.Image, dest string, opts Options) (string, error) {
	d, err := Parse(dest)
	if err != nil {
		return "", err
	}
	if opts.Keychain == nil {
		opts.Keychain = authn.DefaultKeychain
	}
	switch d.Transport {
	case image.DockerArchive:
		ref := d.Ref
		if ref == "" {
			ref = DefaultTag
		}
		tag, err := name.NewTag(ref)
		if err != nil {
			return "", fmt.Errorf("output %s: tag %q: %w", dest, ref, err)
		}
		if err := tarball.WriteToFile(d.Path, tag, img); err != nil {
			return "", fmt.Errorf("output %s: %w", dest, err)
		}
		return "docker-archive:" + d.Path, nil
	case image.OCILayout:
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
		if d.Ref != "" {
			lopts = append(lopts, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": d.Ref}))
		}
		if err := p.AppendImage(img, lopts...); err != nil {
			return "", fmt.Errorf("output %s: %w", dest, err)
		}
		return "oci:" + d.Path, nil
	case image.Daemon:
		tag, err := name.NewTag(d.Ref)
		if err != nil {
			return "", fmt.Errorf("output %s: tag %q: %w", dest, d.Ref, err)
		}
		if _, err := daemon.Write(tag, img, daemon.WithContext(ctx)); err != nil {
			return "", fmt.Errorf("output %s: loading into the Docker Engine: %w", dest, err)
		}
		return "docker-daemon:" + tag.Name(), nil
	case image.Registry:
		var nopts []name.Option
		if opts.Insecure {
			nopts = append(nopts, name.Insecure)
		}
		ref, err := name.ParseReference(d.Ref, nopts...)
		if err != nil {
			return "", fmt.Errorf("output %s: %w", dest, err)
		}
		ropts := []remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(opts.Keychain)}
		if opts.Insecure {
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for --insecure
			ropts = append(ropts, remote.WithTransport(tr))
		}
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
// be changed with mutate and written with Write. Layer blobs are read from
// the source again when written; their digests are computed by reading.
func ToV1(ctx context.Context, img *image.Image) (v1.Image, error) {
	base := empty.Image
	var adds []mutate.Addendum
	for _, l := range img.Layers {
		l := l
		tl, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return l.Open(ctx) })
		if err != nil {
			return nil, fmt.Errorf("layer %d (%s): %w", l.Index, l.Name(), err)
		}
		adds = append(adds, mutate.Addendum{Layer: tl})
	}
	out, err := mutate.Append(base, adds...)
	if err != nil {
		return nil, err
	}
	cfg := img.Config.DeepCopy()
	out, err = mutate.ConfigFile(out, cfg)
	if err != nil {
		return nil, err
	}
	return out, nil
}
