package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// dockerManifestEntry is one image of a docker-save manifest.json.
type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// openDockerArchive reads a docker-save archive, in the legacy layout
// (<id>/layer.tar) or Docker 25+'s (blobs/sha256/<hex>). selector picks an
// image by tag when the archive holds several.
func openDockerArchive(s blobStore, selector string) (*Image, error) {
	var entries []dockerManifestEntry
	if _, err := readJSON(s, "manifest.json", &entries); err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%s: manifest.json lists no image", s.where())
	}
	entry := entries[0]
	if selector != "" {
		found := false
		want := selector
		if ref, err := name.ParseReference(selector); err == nil {
			want = ref.Name()
		}
		for _, e := range entries {
			for _, t := range e.RepoTags {
				if t == selector || t == want || normalizeTag(t) == want {
					entry, found = e, true
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("%s: no image tagged %q in manifest.json", s.where(), selector)
		}
	} else if len(entries) > 1 {
		var tags []string
		for _, e := range entries {
			tags = append(tags, e.RepoTags...)
		}
		return nil, fmt.Errorf("%s: archive holds %d images; name one as docker-archive:PATH:TAG (tags: %s)", s.where(), len(entries), strings.Join(tags, ", "))
	}
	cfgBytes, cfg, cfgDigest, err := readConfig(s, entry.Config)
	if err != nil {
		return nil, err
	}
	img := &Image{
		Transport:    DockerArchive,
		Config:       cfg,
		RawConfig:    cfgBytes,
		ConfigDigest: cfgDigest,
		RepoTags:     slices.Clone(entry.RepoTags),
	}
	for _, lp := range entry.Layers {
		lp := lp
		size, err := s.size(lp)
		if err != nil {
			return nil, fmt.Errorf("%s: layer %s: %w", s.where(), lp, err)
		}
		l := &Layer{Size: size, open: func(context.Context) (io.ReadCloser, error) {
			rc, _, err := s.open(lp)
			return rc, err
		}}
		if h, ok := blobPathDigest(lp); ok {
			l.Digest = h
		}
		img.Layers = append(img.Layers, l)
	}
	if err := img.finish(); err != nil {
		return nil, fmt.Errorf("%s: %w", s.where(), err)
	}
	return img, nil
}

func normalizeTag(t string) string {
	if ref, err := name.ParseReference(t); err == nil {
		return ref.Name()
	}
	return t
}

// readConfig reads and parses an image config blob and checks its digest
// when the name carries one (legacy "<hex>.json" or "blobs/sha256/<hex>").
func readConfig(s blobStore, p string) ([]byte, *v1.ConfigFile, v1.Hash, error) {
	rc, size, err := s.open(p)
	if err != nil {
		return nil, nil, v1.Hash{}, fmt.Errorf("%s: config %s: %w", s.where(), p, err)
	}
	defer rc.Close()
	if size > maxMetadataBytes {
		return nil, nil, v1.Hash{}, fmt.Errorf("%s: config %s is %d bytes, more than the %d allowed", s.where(), p, size, maxMetadataBytes)
	}
	b, err := io.ReadAll(rc)
	if err != nil {
		return nil, nil, v1.Hash{}, fmt.Errorf("%s: config %s: %w", s.where(), p, err)
	}
	sum := sha256.Sum256(b)
	got := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
	base := strings.TrimSuffix(path.Base(p), ".json")
	if isHex64(base) && base != got.Hex {
		return nil, nil, v1.Hash{}, fmt.Errorf("%s: config %s: digest mismatch: content hashes to %s", s.where(), p, got)
	}
	cfg, err := parseConfig(b)
	if err != nil {
		return nil, nil, v1.Hash{}, fmt.Errorf("%s: config %s: %w", s.where(), p, err)
	}
	return b, cfg, got, nil
}

func parseConfig(b []byte) (*v1.ConfigFile, error) {
	cfg, err := v1.ParseConfigFile(strings.NewReader(string(b)))
	if err != nil {
		return nil, fmt.Errorf("malformed config JSON: %w", err)
	}
	for i, d := range cfg.RootFS.DiffIDs {
		if d.Algorithm != "sha256" || !isHex64(d.Hex) {
			return nil, fmt.Errorf("rootfs.diff_ids[%d] %q is not a sha256 digest", i, d.String())
		}
	}
	return cfg, nil
}

// blobPathDigest reads the digest out of a "blobs/sha256/<hex>" path.
func blobPathDigest(p string) (v1.Hash, bool) {
	dir, file := path.Split(p)
	if path.Base(path.Clean(dir)) == "sha256" && isHex64(file) {
		return v1.Hash{Algorithm: "sha256", Hex: file}, true
	}
	return v1.Hash{}, false
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
