package trust

import (
	"context"
	"crypto"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/static"

	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// Every key type signs a bundle (referrers tag schema) and a legacy .sig;
// the right key verifies both, another key of the same type neither.
func TestSignVerifyKeyTypes(t *testing.T) {
	addr := registry(t)
	ctx := context.Background()
	for _, kind := range []string{"p256", "p384", "ed25519", "rsa"} {
		t.Run(kind, func(t *testing.T) {
			d := push(t, addr, "keys/"+kind+":1")
			k := newKey(t, kind)
			if _, err := Sign(ctx, d, SignOptions{Key: k, Remote: ropts()}); err != nil {
				t.Fatal(err)
			}
			if _, err := Sign(ctx, d, SignOptions{Key: k, LegacyTags: true, Remote: ropts()}); err != nil {
				t.Fatal(err)
			}
			fs := discover(t, d)
			kinds := map[string]int{}
			for _, f := range fs {
				kinds[f.Kind]++
			}
			if kinds[KindBundle] != 1 || kinds[KindCosignSignature] != 1 {
				t.Fatalf("found %v, want one bundle and one legacy signature", kinds)
			}
			good, bad := keySigner(t, k), keySigner(t, newKey(t, kind))
			for _, f := range fs {
				c := Verify(f, good)
				if !c.Verified {
					t.Errorf("%s with its key: %s", f.Kind, c.Reason)
				}
				if c.Digest != d.DigestStr() || !strings.Contains(c.Key, good.Key.Fingerprint) || c.Transparency == "" {
					t.Errorf("%s: check does not say what it checked: %+v", f.Kind, c)
				}
				c = Verify(f, bad)
				if c.Verified || !strings.Contains(c.Reason, "does not verify") {
					t.Errorf("%s with another %s key: verified=%v reason %q", f.Kind, kind, c.Verified, c.Reason)
				}
				if c.Key != "" {
					t.Errorf("a failed check names a key: %q", c.Key)
				}
			}
		})
	}
}

// Tampering: each case attaches something to image B and must fail with
// its reason.
func TestTampering(t *testing.T) {
	addr := registry(t)
	ctx := context.Background()
	k := newKey(t, "p256")
	signer := keySigner(t, k)
	cases := []struct {
		name   string
		setup  func(t *testing.T, a, b name.Digest)
		kind   string
		reason string
	}{
		{"bundle for another digest", func(t *testing.T, a, b name.Digest) {
			if _, err := Sign(ctx, a, SignOptions{Key: k, Remote: ropts()}); err != nil {
				t.Fatal(err)
			}
			f := only(t, discover(t, a), KindBundle)
			// Re-attach A's genuine bundle to B.
			if _, err := writeReferrer(ctx, b, bundleV03MediaType, bundleV03MediaType, f.data, map[string]string{annBundlePredicateType: cosignSignPredicateType}, ropts()); err != nil {
				t.Fatal(err)
			}
		}, KindBundle, "another digest"},
		{"legacy signature for another digest", func(t *testing.T, a, b name.Digest) {
			if _, err := Sign(ctx, a, SignOptions{Key: k, LegacyTags: true, Remote: ropts()}); err != nil {
				t.Fatal(err)
			}
			f := only(t, discover(t, a), KindCosignSignature)
			if _, err := appendLegacy(ctx, b, ".sig", static.NewLayer(f.data, simpleSigningMediaType), f.annotations, ropts()); err != nil {
				t.Fatal(err)
			}
		}, KindCosignSignature, "another digest"},
		{"legacy attestation for another digest", func(t *testing.T, a, b name.Digest) {
			if _, err := Attest(ctx, a, "https://cyclonedx.org/bom", json.RawMessage(`{"bomFormat":"CycloneDX"}`), SignOptions{Key: k, LegacyTags: true, Remote: ropts()}); err != nil {
				t.Fatal(err)
			}
			f := only(t, discover(t, a), KindCosignAttestation)
			if _, err := appendLegacy(ctx, b, ".att", static.NewLayer(f.data, dsseMediaType), f.annotations, ropts()); err != nil {
				t.Fatal(err)
			}
		}, KindCosignAttestation, "another digest"},
		{"unknown key", func(t *testing.T, a, b name.Digest) {
			if _, err := Sign(ctx, b, SignOptions{Key: newKey(t, "p256"), Remote: ropts()}); err != nil {
				t.Fatal(err)
			}
		}, KindBundle, "does not verify"},
		{"edited payload of a legacy signature", func(t *testing.T, a, b name.Digest) {
			if _, err := Sign(ctx, a, SignOptions{Key: k, LegacyTags: true, Remote: ropts()}); err != nil {
				t.Fatal(err)
			}
			f := only(t, discover(t, a), KindCosignSignature)
			// Point the payload at B: the digest now matches, the signature does not.
			edited := strings.Replace(string(f.data), a.DigestStr(), b.DigestStr(), 1)
			if _, err := appendLegacy(ctx, b, ".sig", static.NewLayer([]byte(edited), simpleSigningMediaType), f.annotations, ropts()); err != nil {
				t.Fatal(err)
			}
		}, KindCosignSignature, "does not verify"},
		{"referrer lies about its predicate", func(t *testing.T, a, b name.Digest) {
			if _, err := Sign(ctx, a, SignOptions{Key: k, Remote: ropts()}); err != nil {
				t.Fatal(err)
			}
			// A genuine signature of B, announced as SLSA provenance.
			if _, err := Sign(ctx, b, SignOptions{Key: k, Remote: ropts()}); err != nil {
				t.Fatal(err)
			}
			f := only(t, discover(t, b), KindBundle)
			if _, err := writeReferrer(ctx, b, bundleV03MediaType, bundleV03MediaType, f.data, map[string]string{annBundlePredicateType: "https://slsa.dev/provenance/v1"}, ropts()); err != nil {
				t.Fatal(err)
			}
		}, KindBundle, "claims predicate"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := push(t, addr, "tamper/a:"+string(rune('a'+i)))
			b := push(t, addr, "tamper/b:"+string(rune('a'+i)))
			c.setup(t, a, b)
			var hit bool
			for _, f := range discover(t, b) {
				if f.Kind != c.kind {
					continue
				}
				got := Verify(f, signer)
				if got.Verified {
					if c.name == "referrer lies about its predicate" && f.PredicateType == cosignSignPredicateType {
						continue // the honest copy
					}
					t.Fatalf("%s verified: %+v", f.Kind, got)
				}
				t.Logf("%s: %s", f.Kind, got.Reason)
				if !strings.Contains(got.Reason, c.reason) {
					t.Errorf("reason %q, want it to say %q", got.Reason, c.reason)
				}
				hit = true
			}
			if !hit {
				t.Fatalf("no %s found on B", c.kind)
			}
		})
	}
}

func only(t *testing.T, fs []*Found, kind string) *Found {
	t.Helper()
	var out *Found
	for _, f := range fs {
		if f.Kind == kind {
			if out != nil {
				t.Fatalf("more than one %s", kind)
			}
			out = f
		}
	}
	if out == nil {
		t.Fatalf("no %s among %d found", kind, len(fs))
	}
	return out
}

func rulesOf(fs []scorecard.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule+"/"+string(f.Severity))
	}
	return out
}

// The analyzer's verdicts: unsigned, signed without policy, policy met,
// policy not met (need all, wrong key), required attestations, and an
// index signature covering its platform manifest.
func TestAnalyzerVerdicts(t *testing.T) {
	addr := registry(t)
	ctx := context.Background()
	ka, kb := newKey(t, "p256"), newKey(t, "ed25519")
	type tc struct {
		name     string
		prepare  func(t *testing.T, d name.Digest)
		rule     func(t *testing.T) *policy.TrustRule
		want     []string
		met      bool
		summary  string
		platform string
		index    bool
	}
	signWith := func(ks ...crypto.Signer) func(t *testing.T, d name.Digest) {
		return func(t *testing.T, d name.Digest) {
			for _, k := range ks {
				if _, err := Sign(ctx, d, SignOptions{Key: k, Remote: ropts()}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	sbom := json.RawMessage(`{"bomFormat":"CycloneDX","specVersion":"1.6"}`)
	prov := json.RawMessage(`{"buildDefinition":{"buildType":"x"},"runDetails":{"builder":{"id":"https://ci.example/builder@v1"}}}`)
	cases := []tc{
		{name: "unsigned, no policy", prepare: func(*testing.T, name.Digest) {}, want: []string{"SS-P6-001/medium"}, summary: "unsigned"},
		{name: "signed, no policy", prepare: signWith(ka), want: []string{"SS-P6-003/low"}, summary: "none verified"},
		{name: "unsigned, policy", prepare: func(*testing.T, name.Digest) {}, rule: func(t *testing.T) *policy.TrustRule { return keyRule(t, 0, ka) }, want: []string{"SS-P6-002/high"}},
		{name: "policy met", prepare: signWith(ka), rule: func(t *testing.T) *policy.TrustRule { return keyRule(t, 0, ka) }, met: true, summary: "signed by key"},
		{name: "wrong key", prepare: signWith(kb), rule: func(t *testing.T) *policy.TrustRule { return keyRule(t, 0, ka) }, want: []string{"SS-P6-002/high"}},
		{name: "need all, one signed", prepare: signWith(ka), rule: func(t *testing.T) *policy.TrustRule { return keyRule(t, policy.NeedAll, ka, kb) }, want: []string{"SS-P6-002/high"}},
		{name: "need 2, both signed", prepare: signWith(ka, kb), rule: func(t *testing.T) *policy.TrustRule { return keyRule(t, 2, ka, kb) }, met: true},
		{name: "required SBOM attached", prepare: func(t *testing.T, d name.Digest) {
			signWith(ka)(t, d)
			if _, err := Attest(ctx, d, "https://cyclonedx.org/bom", sbom, SignOptions{Key: ka, Remote: ropts()}); err != nil {
				t.Fatal(err)
			}
		}, rule: func(t *testing.T) *policy.TrustRule {
			r := keyRule(t, 0, ka)
			r.Attestations = []policy.RequiredAttestation{{Type: "sbom"}}
			return r
		}, met: true},
		{name: "required SBOM signed by an unknown key", prepare: func(t *testing.T, d name.Digest) {
			signWith(ka)(t, d)
			if _, err := Attest(ctx, d, "https://cyclonedx.org/bom", sbom, SignOptions{Key: kb, Remote: ropts()}); err != nil {
				t.Fatal(err)
			}
		}, rule: func(t *testing.T) *policy.TrustRule {
			r := keyRule(t, 0, ka)
			r.Attestations = []policy.RequiredAttestation{{Type: "sbom"}}
			return r
		}, want: []string{"SS-P6-004/high"}},
		{name: "provenance from another builder", prepare: func(t *testing.T, d name.Digest) {
			signWith(ka)(t, d)
			if _, err := Attest(ctx, d, "https://slsa.dev/provenance/v1", prov, SignOptions{Key: ka, LegacyTags: true, Remote: ropts()}); err != nil {
				t.Fatal(err)
			}
		}, rule: func(t *testing.T) *policy.TrustRule {
			r := keyRule(t, 0, ka)
			r.Attestations = []policy.RequiredAttestation{{Type: "slsa-provenance", BuilderID: "https://ci.example/other"}}
			return r
		}, want: []string{"SS-P6-004/high"}},
		{name: "provenance from the builder", prepare: func(t *testing.T, d name.Digest) {
			signWith(ka)(t, d)
			if _, err := Attest(ctx, d, "https://slsa.dev/provenance/v1", prov, SignOptions{Key: ka, Remote: ropts()}); err != nil {
				t.Fatal(err)
			}
		}, rule: func(t *testing.T) *policy.TrustRule {
			r := keyRule(t, 0, ka)
			r.Attestations = []policy.RequiredAttestation{{Type: "slsa-provenance", BuilderID: "https://ci.example/builder@v1"}}
			return r
		}, met: true},
		{name: "index signed, platform scanned", index: true, platform: "linux/arm64", prepare: signWith(ka),
			rule: func(t *testing.T) *policy.TrustRule { return keyRule(t, 0, ka) }, met: true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tag := "verdict/app:" + string(rune('a'+i))
			var d name.Digest
			if c.index {
				d = pushIndex(t, addr, tag)
			} else {
				d = push(t, addr, tag)
			}
			c.prepare(t, d)
			img := open(t, addr+"/"+tag, c.platform)
			a := &Analyzer{}
			if c.rule != nil {
				a.Rule = c.rule(t)
			}
			res, cov, err := a.Check(ctx, img)
			if err != nil {
				t.Fatal(err)
			}
			if res == nil || !cov.Ran {
				t.Fatalf("did not run: %s", cov.Reason)
			}
			got := rulesOf(res.Findings)
			if strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("findings %v, want %v; summary %q", got, c.want, cov.Summary)
				for _, f := range res.Findings {
					t.Log(f.Description)
				}
			}
			if res.Met != c.met {
				t.Errorf("met = %v, want %v", res.Met, c.met)
			}
			if c.summary != "" && !strings.Contains(cov.Summary, c.summary) {
				t.Errorf("summary %q, want %q", cov.Summary, c.summary)
			}
			if cov.FailAt != scorecard.Medium {
				t.Errorf("FailAt %q: unsigned must fail at medium", cov.FailAt)
			}
			if c.index {
				if len(res.Section.Subjects) != 2 || res.Section.Subjects[1].Digest.String() != d.DigestStr() {
					t.Errorf("subjects %v, want the manifest and index %s", res.Section.Subjects, d.DigestStr())
				}
				if img.Digest.String() == d.DigestStr() {
					t.Fatal("the platform manifest was not chosen")
				}
			}
			b, err := json.Marshal(res.Section)
			if err != nil {
				t.Fatal(err)
			}
			if c.met && !strings.Contains(string(b), `"verified":true`) {
				t.Errorf("section does not list the verified signature: %s", b)
			}
		})
	}
}

// Images that carry no registry digest are not judged, and say why; the
// analyzer needs the network only for registry images.
func TestNotRun(t *testing.T) {
	if !(&Analyzer{}).Needs().Network || (&Analyzer{Local: true}).Needs().Network {
		t.Error("Needs: the network for registry images only")
	}
	for _, c := range []struct {
		img  *image.Image
		want string
	}{
		{&image.Image{Transport: image.DockerArchive}, "no registry manifest digest"},
		{&image.Image{Transport: image.Daemon}, "built locally"},
		{&image.Image{Transport: image.Dir}, "no signatures to check"},
		{&image.Image{Transport: image.OCILayout}, "no manifest digest"},
	} {
		res, cov, err := (&Analyzer{Local: true}).Check(context.Background(), c.img)
		if err != nil || res != nil || cov.Ran || !strings.Contains(cov.Reason, c.want) || cov.Practice != scorecard.P6 {
			t.Errorf("%s: res %v, err %v, coverage %+v; want not run because %q", c.img.Transport, res, err, cov, c.want)
		}
	}
}
