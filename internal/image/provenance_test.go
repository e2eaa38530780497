package image

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"runtime"

	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"

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

// TestRegistryProvenance pushes an index with an attestation manifest to an
// in-memory registry and opens the image through docker://.
func TestRegistryProvenance(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	img, err := random.Image(64, 1)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{OS: "linux", Architecture: runtime.GOARCH, RootFS: v1.RootFS{Type: "layers", DiffIDs: mustDiffIDs(t, img)}})
	if err != nil {
		t.Fatal(err)
	}
	dig, _ := img.Digest()
	statement := []byte(`{"predicateType":"https://slsa.dev/provenance/v0.2","predicate":{"materials":[{"uri":"pkg:docker/alpine@3.22"}]}}`)
	att, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:       static.NewLayer(statement, "application/vnd.in-toto+json"),
		Annotations: map[string]string{"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"},
	})
	if err != nil {
		t.Fatal(err)
	}
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
		mutate.IndexAddendum{Add: att, Descriptor: v1.Descriptor{
			Platform:    &v1.Platform{OS: "unknown", Architecture: "unknown"},
			Annotations: map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": dig.String()},
		}})
	ref, err := name.ParseReference(host+"/app:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	got, err := Open(context.Background(), "docker://"+host+"/app:1", Options{Insecure: true, Keychain: authn.DefaultKeychain})
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	if got.Digest != dig || !strings.Contains(string(got.Provenance), "pkg:docker/alpine@3.22") {
		t.Errorf("digest %s (want %s), provenance %q", got.Digest, dig, got.Provenance)
	}
}

func mustDiffIDs(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []v1.Hash
	for _, l := range ls {
		d, err := l.DiffID()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d)
	}
	return out
}
