package image

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// hostPlatform parses a platform string, defaulting to the host's.
func hostPlatform(s string) v1.Platform {
	if s == "" {
		p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
		if runtime.GOARCH == "arm" {
			p.Variant = "v7"
		}
		return p
	}
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return v1.Platform{OS: s}
	}
	return *p
}

// ParsePlatform checks a --platform value.
func ParsePlatform(s string) error {
	if s == "" {
		return nil
	}
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return fmt.Errorf("platform %q: %w", s, err)
	}
	if p.OS == "" || p.Architecture == "" {
		return fmt.Errorf("platform %q: want OS/ARCH[/VARIANT], such as linux/arm64", s)
	}
	return nil
}

// indexPlatforms lists the platforms of the index r names, for an error
// message; empty when it cannot be read.
func indexPlatforms(r name.Reference, ropts []remote.Option) string {
	idx, err := remote.Index(r, ropts...)
	if err != nil {
		return ""
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return ""
	}
	var have []string
	for _, d := range m.Manifests {
		if d.Platform != nil && d.Platform.OS != "unknown" {
			have = append(have, d.Platform.String())
		}
	}
	return strings.Join(have, ", ")
}

// NameOptions are the options of name.ParseReference for a registry
// reference: plain HTTP is allowed only when insecure.
func NameOptions(insecure bool) []name.Option {
	if insecure {
		return []name.Option{name.Insecure}
	}
	return nil
}

// RemoteOptions are the go-containerregistry options every registry
// request of shipshape uses, reading or writing: credentials from the
// keychain, the user agent, and — only when insecure — a transport that
// accepts unverified TLS. The one place TLS is relaxed.
func RemoteOptions(ctx context.Context, opts Options) []remote.Option {
	opts = opts.withDefaults()
	ropts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(opts.Keychain),
		remote.WithUserAgent("shipshape"),
	}
	if opts.Insecure {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the user asked for --insecure
		ropts = append(ropts, remote.WithTransport(tr))
	}
	return ropts
}

// openRemote opens an image in a registry. Layer blobs are streamed when
// the walker asks for them; go-containerregistry checks their digests.
func openRemote(ctx context.Context, ref string, opts Options) (*Image, error) {
	r, err := name.ParseReference(ref, NameOptions(opts.Insecure)...)
	if err != nil {
		return nil, fmt.Errorf("registry reference %q: %w", ref, err)
	}
	ropts := append(RemoteOptions(ctx, opts), remote.WithPlatform(hostPlatform(opts.Platform)))
	ri, err := remote.Image(r, ropts...)
	if err != nil {
		if strings.Contains(err.Error(), "no child with platform") {
			if have := indexPlatforms(r, ropts); have != "" {
				return nil, fmt.Errorf("registry %s: no image for platform %s; the index has %s", r.Name(), hostPlatform(opts.Platform), have)
			}
		}
		return nil, fmt.Errorf("registry %s: %w", r.Name(), err)
	}
	dig, err := ri.Digest()
	if err != nil {
		return nil, fmt.Errorf("registry %s: manifest: %w", r.Name(), err)
	}
	m, err := ri.Manifest()
	if err != nil {
		return nil, fmt.Errorf("registry %s: manifest: %w", r.Name(), err)
	}
	cb, err := ri.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("registry %s: config: %w", r.Name(), err)
	}
	cfg, err := parseConfig(cb)
	if err != nil {
		return nil, fmt.Errorf("registry %s: config %s: %w", r.Name(), m.Config.Digest, err)
	}
	img := &Image{
		Transport:    Registry,
		Digest:       dig,
		ConfigDigest: m.Config.Digest,
		Config:       cfg,
		RawConfig:    cb,
		Manifest:     m,
		v1:           ri,
		Registry:     &RegistrySource{Ref: r, Options: ropts},
	}
	if _, ok := r.(name.Tag); ok {
		img.RepoTags = []string{r.Name()}
	}
	repo := r.Context()
	img.Provenance = remoteProvenance(r, dig, ropts)
	for _, ld := range m.Layers {
		ld := ld
		if strings.HasPrefix(string(ld.MediaType), "application/vnd.oci.image.layer.nondistributable") ||
			strings.Contains(string(ld.MediaType), "foreign") {
			return nil, fmt.Errorf("registry %s: layer %s is a foreign layer (%s): not supported", r.Name(), ld.Digest, ld.MediaType)
		}
		img.Layers = append(img.Layers, &Layer{
			Digest:    ld.Digest,
			Size:      ld.Size,
			MediaType: string(ld.MediaType),
			Verified:  true,
			open: func(ctx context.Context) (io.ReadCloser, error) {
				// Layers open concurrently: each gets its own option list.
				opts := append(slices.Clip(ropts), remote.WithContext(ctx))
				l, err := remote.Layer(repo.Digest(ld.Digest.String()), opts...)
				if err != nil {
					return nil, err
				}
				return l.Compressed()
			},
		})
	}
	if err := img.finish(); err != nil {
		return nil, fmt.Errorf("registry %s: %w", r.Name(), err)
	}
	return img, nil
}

// remoteProvenance fetches the SLSA provenance statement BuildKit attaches
// to the image manifest dig in the index r points to. Any failure yields
// nil: provenance is evidence, not a requirement to open an image.
func remoteProvenance(r name.Reference, dig v1.Hash, ropts []remote.Option) []byte {
	desc, err := remote.Get(r, ropts...)
	if err != nil || !desc.MediaType.IsIndex() {
		return nil
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil
	}
	for _, d := range im.Manifests {
		if d.Annotations["vnd.docker.reference.type"] != "attestation-manifest" || d.Annotations["vnd.docker.reference.digest"] != dig.String() {
			continue
		}
		att, err := remote.Image(r.Context().Digest(d.Digest.String()), ropts...)
		if err != nil {
			return nil
		}
		m, err := att.Manifest()
		if err != nil {
			return nil
		}
		for _, l := range m.Layers {
			if !strings.Contains(l.Annotations["in-toto.io/predicate-type"], "slsa.dev/provenance") || l.Size > maxMetadataBytes {
				continue
			}
			bl, err := att.LayerByDigest(l.Digest)
			if err != nil {
				return nil
			}
			rc, err := bl.Compressed()
			if err != nil {
				return nil
			}
			b, err := io.ReadAll(io.LimitReader(rc, maxMetadataBytes))
			rc.Close()
			if err != nil {
				return nil
			}
			return b
		}
		return nil
	}
	return nil
}
