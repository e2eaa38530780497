package trust

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// copyToLayout writes the manifests refs name (images, referrers) into a
// new OCI layout, in order, and returns its directory.
func copyToLayout(t *testing.T, refs ...name.Reference) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range refs {
		img, err := remote.Image(r, ropts()...)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.AppendImage(img); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func openLayout(t *testing.T, dir string) *image.Image {
	t.Helper()
	img, err := image.Open(context.Background(), "oci:"+dir, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { img.Close() })
	return img
}

// Signatures stored in an OCI layout next to the image: a referrer (a
// Sigstore bundle whose subject is the image) and cosign save's legacy
// signature image; a layout whose signature names another image fails.
func TestLayout(t *testing.T) {
	addr := registry(t)
	ctx := context.Background()
	k := newKey(t, "p256")
	rule := keyRule(t, 0, k)

	d := push(t, addr, "layout/app:1")
	if _, err := Sign(ctx, d, SignOptions{Key: k, Remote: ropts()}); err != nil {
		t.Fatal(err)
	}
	w, err := Sign(ctx, d, SignOptions{Key: k, LegacyTags: true, Remote: ropts()})
	if err != nil {
		t.Fatal(err)
	}
	bundle := only(t, discover(t, d), KindBundle)
	other := push(t, addr, "layout/other:1")

	cases := []struct {
		name   string
		refs   []name.Reference
		kinds  string
		met    bool
		reason string
	}{
		{"bundle referrer in the layout", []name.Reference{d, d.Context().Digest(bundle.Manifest)}, KindBundle, true, ""},
		{"cosign save layout", []name.Reference{d, d.Context().Digest(w.Manifest)}, KindCosignSignature, true, ""},
		{"signature of another image", []name.Reference{other, d.Context().Digest(w.Manifest)}, KindCosignSignature, false, "another digest"},
		{"no signature", []name.Reference{d}, "", false, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := copyToLayout(t, c.refs...)
			if c.kinds == KindCosignSignature {
				markCosignSigs(t, dir)
			}
			img := openLayout(t, dir)
			if img.Digest.String() != c.refs[0].(name.Digest).DigestStr() {
				t.Fatalf("the layout opened %s, not the image", img.Digest)
			}
			res, cov, err := (&Analyzer{Rule: rule, Local: true}).Check(ctx, img)
			if err != nil {
				t.Fatal(err)
			}
			if res == nil {
				t.Fatalf("not run: %s", cov.Reason)
			}
			if res.Met != c.met {
				t.Fatalf("met = %v, want %v: %v %s", res.Met, c.met, rulesOf(res.Findings), cov.Summary)
			}
			var kinds []string
			for _, e := range res.Section.Signatures {
				kinds = append(kinds, e.Kind)
				if c.reason != "" && (len(e.Checks) != 1 || !strings.Contains(e.Checks[0].Reason, c.reason)) {
					t.Errorf("checks %+v, want the reason to say %q", e.Checks, c.reason)
				}
			}
			if strings.Join(kinds, ",") != c.kinds {
				t.Errorf("signatures %v, want %s", kinds, c.kinds)
			}
			if c.kinds == "" && (len(res.Findings) != 1 || res.Findings[0].Rule != "SS-P6-002" || res.Findings[0].Severity != scorecard.High) {
				t.Errorf("unsigned layout: %v", rulesOf(res.Findings))
			}
		})
	}
}

// markCosignSigs annotates the layout's second manifest as cosign save
// does (kind: dev.cosignproject.cosign/sigs).
func markCosignSigs(t *testing.T, dir string) {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	sig := im.Manifests[1]
	img, err := idx.Image(sig.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.RemoveDescriptors(func(d v1.Descriptor) bool { return d.Digest == sig.Digest }); err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"kind": layoutSigs})); err != nil {
		t.Fatal(err)
	}
}

// A manifest in the layout that cannot be read (a referrer, maybe) is not
// silently absent: DiscoverLayout says so in its notes.
func TestDiscoverLayoutUnreadable(t *testing.T) {
	subject := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}
	other := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("b", 64)}
	ls := &image.LayoutSource{
		Index: &v1.IndexManifest{Manifests: []v1.Descriptor{
			{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: subject, Size: 500},
			{MediaType: "application/vnd.oci.image.manifest.v1+json", Digest: other, Size: 500},
		}},
		Blob: func(h v1.Hash) ([]byte, error) { return nil, fmt.Errorf("blob %s: the archive is too big", h) },
	}
	found, notes := DiscoverLayout(ls, []Subject{{Digest: subject, Type: "manifest"}})
	if len(found) != 0 || len(notes) != 1 || !strings.Contains(notes[0], other.String()) || !strings.Contains(notes[0], "too big") {
		t.Errorf("found %d, notes %q: want one note naming %s and why", len(found), notes, other)
	}
}
