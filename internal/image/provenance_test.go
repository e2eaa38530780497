package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
)

// TestLayoutProvenance adds a BuildKit-style attestation manifest to an OCI
// layout and checks that the image's provenance statement is found.
func TestLayoutProvenance(t *testing.T) {
	dir := t.TempDir()
	w := imagetest.Image{Layers: []imagetest.Layer{{Files: []imagetest.File{imagetest.Reg("etc/hostname", "x")}}}}.WriteOCILayout(t, dir)
	blob := func(b []byte) string {
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])
		os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755)
		if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", h), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return "sha256:" + h
	}
	statement := []byte(`{"predicateType":"https://slsa.dev/provenance/v0.2","predicate":{"materials":[{"uri":"pkg:docker/alpine@3.22"}]}}`)
	sd := blob(statement)
	cfg := []byte(`{"architecture":"unknown","os":"unknown","rootfs":{"type":"layers","diff_ids":[]}}`)
	cd := blob(cfg)
	att, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(cfg)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.in-toto+json", "digest": sd, "size": len(statement),
			"annotations": map[string]string{"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}},
	})
	ad := blob(att)
	var idx map[string]any
	ib, _ := os.ReadFile(filepath.Join(dir, "index.json"))
	if err := json.Unmarshal(ib, &idx); err != nil {
		t.Fatal(err)
	}
	idx["manifests"] = append(idx["manifests"].([]any), map[string]any{
		"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": ad, "size": len(att),
		"platform":    map[string]string{"os": "unknown", "architecture": "unknown"},
		"annotations": map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": w.ManifestDigest},
	})
	ib, _ = json.Marshal(idx)
	os.WriteFile(filepath.Join(dir, "index.json"), ib, 0o644)

	img, err := Open(context.Background(), "oci:"+dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if !strings.Contains(string(img.Provenance), "pkg:docker/alpine@3.22") {
		t.Errorf("provenance %q", img.Provenance)
	}
}
