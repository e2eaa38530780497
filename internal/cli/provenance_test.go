package cli_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
)

// addAttestation adds a BuildKit-style provenance attestation manifest for
// the image manifest digest to an OCI layout.
func addAttestation(t *testing.T, dir, manifestDigest string, statement []byte) {
	t.Helper()
	blob := func(b []byte) string {
		sum := sha256.Sum256(b)
		h := hex.EncodeToString(sum[:])
		if err := os.WriteFile(filepath.Join(dir, "blobs", "sha256", h), b, 0o644); err != nil {
			t.Fatal(err)
		}
		return "sha256:" + h
	}
	cfg := []byte(`{"architecture":"unknown","os":"unknown","rootfs":{"type":"layers","diff_ids":[]}}`)
	att, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
		"config": map[string]any{"mediaType": "application/vnd.oci.image.config.v1+json", "digest": blob(cfg), "size": len(cfg)},
		"layers": []any{map[string]any{"mediaType": "application/vnd.in-toto+json", "digest": blob(statement), "size": len(statement),
			"annotations": map[string]string{"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}},
	})
	var idx map[string]any
	ib, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil || json.Unmarshal(ib, &idx) != nil {
		t.Fatalf("index.json: %v", err)
	}
	idx["manifests"] = append(idx["manifests"].([]any), map[string]any{
		"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": blob(att), "size": len(att),
		"platform":    map[string]string{"os": "unknown", "architecture": "unknown"},
		"annotations": map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": manifestDigest},
	})
	ib, _ = json.Marshal(idx)
	if err := os.WriteFile(filepath.Join(dir, "index.json"), ib, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestProvenanceBuildArgSecret: a max-mode provenance attestation records
// build-arg values; a token passed that way is a P1 finding.
func TestProvenanceBuildArgSecret(t *testing.T) {
	dir := t.TempDir()
	img := imagetest.Image{RepoTag: "p/p:1", Layers: []imagetest.Layer{{Files: []imagetest.File{imagetest.Reg("etc/hostname", "x")}}}}
	w := img.WriteOCILayout(t, dir)
	token := "glpat-" + "Zx8Kq2LmN4vB7tW1sY5u"
	addAttestation(t, dir, w.ManifestDigest, []byte(`{"predicateType":"https://slsa.dev/provenance/v0.2","predicate":{"invocation":{"parameters":{"args":{"build-arg:GITLAB_TOKEN":"`+token+`"}}}}}`))
	rep := scanJSON(t, "oci:"+dir)
	var found bool
	for _, f := range rep.Findings {
		if f.Field == `Provenance.args["build-arg:GITLAB_TOKEN"]` {
			found = true
			if strings.Contains(f.Title, token) || !strings.Contains(f.Fix, "provenance") {
				t.Errorf("finding leaks the token or lacks the fix: %+v", f)
			}
		}
	}
	if !found {
		t.Errorf("no finding for the build-arg in the provenance: %+v", rep.Findings)
	}
}
