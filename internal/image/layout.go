package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// openLayoutDir opens an OCI image layout directory.
func openLayoutDir(dir, selector string, opts Options) (*Image, error) {
	return openLayout(dirStore{dir: dir}, selector, opts, OCILayout)
}

// openLayout reads an OCI image layout (directory or archive). selector
// picks a manifest by its org.opencontainers.image.ref.name annotation;
// otherwise the platform decides among several.
func openLayout(s blobStore, selector string, opts Options, t Transport) (*Image, error) {
	b, err := readBlobLimited(s, "index.json", v1.Hash{})
	if err != nil {
		return nil, err
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%s: index.json: malformed JSON: %w", s.where(), err)
	}
	desc, err := pickManifest(s, idx, selector, opts.Platform, 0)
	if err != nil {
		return nil, err
	}
	mb, err := readBlobLimited(s, blobPath(desc.Digest), desc.Digest)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(mb))
	if err != nil {
		return nil, fmt.Errorf("%s: manifest %s: malformed JSON: %w", s.where(), desc.Digest, err)
	}
	cb, err := readBlobLimited(s, blobPath(m.Config.Digest), m.Config.Digest)
	if err != nil {
		return nil, err
	}
	cfg, err := parseConfig(cb)
	if err != nil {
		return nil, fmt.Errorf("%s: config %s: %w", s.where(), m.Config.Digest, err)
	}
	img := &Image{
		Transport:    t,
		Digest:       desc.Digest,
		ConfigDigest: m.Config.Digest,
		Config:       cfg,
		RawConfig:    cb,
		Manifest:     m,
		RawManifest:  mb,
	}
	if n := desc.Annotations["org.opencontainers.image.ref.name"]; n != "" {
		img.RepoTags = []string{n}
	}
	img.Layout = &LayoutSource{Index: idx, Blob: func(h v1.Hash) ([]byte, error) { return readBlobLimited(s, blobPath(h), h) }}
	img.Provenance = findProvenance(s, idx, desc.Digest, 0)
	for _, ld := range m.Layers {
		ld := ld
		if ld.Digest.Algorithm != "sha256" || !isHex64(ld.Digest.Hex) {
			return nil, fmt.Errorf("%s: manifest %s: layer digest %q is not sha256", s.where(), desc.Digest, ld.Digest)
		}
		img.Layers = append(img.Layers, &Layer{
			Digest:    ld.Digest,
			Size:      ld.Size,
			MediaType: string(ld.MediaType),
			open: func(context.Context) (io.ReadCloser, error) {
				rc, _, err := s.open(blobPath(ld.Digest))
				return rc, err
			},
		})
	}
	if err := img.finish(); err != nil {
		return nil, fmt.Errorf("%s: %w", s.where(), err)
	}
	return img, nil
}

// attached tells signatures and other artifacts stored next to an image in
// a layout (cosign save's sigs and atts, OCI 1.1 referrers) from images.
func attached(d v1.Descriptor) bool {
	switch d.Annotations["kind"] {
	case "dev.cosignproject.cosign/sigs", "dev.cosignproject.cosign/atts":
		return true
	}
	switch types.MediaType(d.ArtifactType) {
	case "", types.DockerConfigJSON, types.OCIConfigJSON:
		// go-containerregistry's layouts give images their config's
		// media type as artifact type.
		return false
	}
	return true
}

func blobPath(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

// readBlobLimited reads a metadata blob and checks its digest when given.
func readBlobLimited(s blobStore, p string, want v1.Hash) ([]byte, error) {
	if want.Hex != "" && (want.Algorithm != "sha256" || !isHex64(want.Hex)) {
		return nil, fmt.Errorf("%s: digest %q is not sha256", s.where(), want)
	}
	rc, size, err := s.open(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", s.where(), p, err)
	}
	defer rc.Close()
	if size > maxMetadataBytes {
		return nil, fmt.Errorf("%s: %s is %d bytes, more than the %d allowed for metadata", s.where(), p, size, maxMetadataBytes)
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", s.where(), p, err)
	}
	if want.Hex != "" {
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != want.Hex {
			return nil, fmt.Errorf("%s: %s: digest mismatch: content hashes to sha256:%s", s.where(), p, got)
		}
	}
	return b, nil
}

// pickManifest chooses one image manifest from an index, following nested
// indexes.
func pickManifest(s blobStore, idx *v1.IndexManifest, selector, platform string, depth int) (v1.Descriptor, error) {
	if depth > 4 {
		return v1.Descriptor{}, fmt.Errorf("%s: image indexes nested too deep", s.where())
	}
	var cands []v1.Descriptor
	for _, d := range idx.Manifests {
		if attached(d) {
			continue
		}
		if selector != "" {
			n := d.Annotations["org.opencontainers.image.ref.name"]
			if n != selector && d.Annotations["io.containerd.image.name"] != selector && !strings.HasSuffix(d.Annotations["io.containerd.image.name"], ":"+selector) {
				continue
			}
		}
		cands = append(cands, d)
	}
	if len(cands) == 0 {
		if selector != "" {
			return v1.Descriptor{}, fmt.Errorf("%s: no manifest named %q in index.json", s.where(), selector)
		}
		return v1.Descriptor{}, fmt.Errorf("%s: index.json lists no manifest", s.where())
	}
	want := hostPlatform(platform)
	var chosen *v1.Descriptor
	for i, d := range cands {
		if d.Platform != nil && !d.Platform.Satisfies(want) {
			continue
		}
		if d.Platform != nil && d.Platform.OS == "unknown" {
			continue // attestation manifests
		}
		chosen = &cands[i]
		break
	}
	if chosen == nil {
		var have []string
		for _, d := range cands {
			if d.Platform != nil && d.Platform.OS != "unknown" {
				have = append(have, d.Platform.String())
			}
		}
		return v1.Descriptor{}, fmt.Errorf("%s: no manifest for platform %s; the index has %s", s.where(), want, strings.Join(have, ", "))
	}
	switch chosen.MediaType {
	case types.OCIImageIndex, types.DockerManifestList:
		b, err := readBlobLimited(s, blobPath(chosen.Digest), chosen.Digest)
		if err != nil {
			return v1.Descriptor{}, err
		}
		child, err := v1.ParseIndexManifest(bytes.NewReader(b))
		if err != nil {
			return v1.Descriptor{}, fmt.Errorf("%s: index %s: malformed JSON: %w", s.where(), chosen.Digest, err)
		}
		return pickManifest(s, child, "", platform, depth+1)
	}
	return *chosen, nil
}

// findProvenance looks in an index (and the indexes it nests) for the
// attestation manifest BuildKit attaches to the image manifest digest, and
// returns its SLSA provenance statement. Anything missing or malformed
// yields nil: provenance is evidence, not a requirement to open an image.
func findProvenance(s blobStore, idx *v1.IndexManifest, digest v1.Hash, depth int) []byte {
	if depth > 4 {
		return nil
	}
	for _, d := range idx.Manifests {
		switch {
		case d.MediaType == types.OCIImageIndex || d.MediaType == types.DockerManifestList:
			b, err := readBlobLimited(s, blobPath(d.Digest), d.Digest)
			if err != nil {
				continue
			}
			if child, err := v1.ParseIndexManifest(bytes.NewReader(b)); err == nil {
				if p := findProvenance(s, child, digest, depth+1); p != nil {
					return p
				}
			}
		case d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" && d.Annotations["vnd.docker.reference.digest"] == digest.String():
			b, err := readBlobLimited(s, blobPath(d.Digest), d.Digest)
			if err != nil {
				return nil
			}
			m, err := v1.ParseManifest(bytes.NewReader(b))
			if err != nil {
				return nil
			}
			for _, l := range m.Layers {
				if !strings.Contains(l.Annotations["in-toto.io/predicate-type"], "slsa.dev/provenance") {
					continue
				}
				if p, err := readBlobLimited(s, blobPath(l.Digest), l.Digest); err == nil {
					return p
				}
			}
			return nil
		}
	}
	return nil
}
