package trust

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/static"

	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// cosignEnv runs the real cosign CLI offline in a private home.
type cosignEnv struct {
	t   *testing.T
	bin string
	dir string
}

const cosignPassword = "correct horse"

func newCosign(t *testing.T) *cosignEnv {
	t.Helper()
	c := &cosignEnv{t: t, bin: testenv.Cosign(t), dir: t.TempDir()}
	if _, err := c.run("generate-key-pair"); err != nil {
		t.Fatal(err)
	}
	// A signing config without a transparency log: cosign signs offline.
	if _, err := c.run("signing-config", "create", "--out", "signing-config.json"); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *cosignEnv) path(n string) string { return filepath.Join(c.dir, n) }

func (c *cosignEnv) run(args ...string) (string, error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "COSIGN_PASSWORD="+cosignPassword, "HOME="+c.dir, "TUF_ROOT="+filepath.Join(c.dir, "tuf"), "SIGSTORE_NO_CACHE=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), &cosignError{args: args, out: out.String(), err: err}
	}
	return out.String(), nil
}

type cosignError struct {
	args []string
	out  string
	err  error
}

func (e *cosignError) Error() string {
	return "cosign " + strings.Join(e.args, " ") + ": " + e.err.Error() + ": " + lastLines(e.out, 4)
}

func lastLines(s string, n int) string {
	ls := strings.Split(strings.TrimSpace(s), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, " | ")
}

func (c *cosignEnv) sign(d name.Digest, key string) error {
	_, err := c.run("sign", "--key", key, "--allow-http-registry", "--signing-config", "signing-config.json", "-y", d.String())
	return err
}

func (c *cosignEnv) verify(d name.Digest, pub string) error {
	_, err := c.run("verify", "--key", pub, "--allow-http-registry", "--insecure-ignore-tlog=true", d.String())
	return err
}

func (c *cosignEnv) signer() *Signer {
	pk, err := LoadPublicKey(c.path("cosign.pub"))
	if err != nil {
		c.t.Fatal(err)
	}
	return &Signer{Key: pk}
}

func keyRuleFromFile(pub string) *policy.TrustRule {
	return &policy.TrustRule{Repositories: []string{"**"}, Signers: []policy.TrustSigner{{Key: pub}}}
}

// cosign signs → shipshape verifies; shipshape signs (with cosign's own
// encrypted key) → cosign verify --key accepts; the same for attestations.
func TestCosignInterop(t *testing.T) {
	c := newCosign(t)
	addr := registry(t)
	ctx := context.Background()
	signer := c.signer()
	key, err := LoadPrivateKey(c.path("cosign.key"), []byte(cosignPassword))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("cosign signs, shipshape verifies", func(t *testing.T) {
		d := push(t, addr, "interop/cosign:1")
		if err := c.sign(d, "cosign.key"); err != nil {
			t.Fatal(err)
		}
		f := only(t, discover(t, d), KindBundle)
		if !f.IsSignature() || f.PredicateType != cosignSignPredicateType {
			t.Errorf("cosign's bundle read as %s %q", f.Kind, f.PredicateType)
		}
		if ch := Verify(f, signer); !ch.Verified {
			t.Fatalf("shipshape rejects cosign's signature: %s", ch.Reason)
		}
	})
	t.Run("shipshape signs, cosign verifies", func(t *testing.T) {
		d := push(t, addr, "interop/shipshape:1")
		if _, err := Sign(ctx, d, SignOptions{Key: key, Remote: ropts()}); err != nil {
			t.Fatal(err)
		}
		if err := c.verify(d, "cosign.pub"); err != nil {
			t.Fatalf("cosign rejects shipshape's bundle: %v", err)
		}
	})
	t.Run("shipshape signs legacy .sig, cosign verifies", func(t *testing.T) {
		d := push(t, addr, "interop/legacy:1")
		if _, err := Sign(ctx, d, SignOptions{Key: key, LegacyTags: true, Remote: ropts()}); err != nil {
			t.Fatal(err)
		}
		if err := c.verify(d, "cosign.pub"); err != nil {
			t.Fatalf("cosign rejects shipshape's .sig: %v", err)
		}
	})
	t.Run("cosign signs legacy and saves a layout, shipshape verifies it", func(t *testing.T) {
		d := push(t, addr, "interop/saved:1")
		if _, err := c.run("sign", "--key", "cosign.key", "--allow-http-registry", "--new-bundle-format=false", "--use-signing-config=false", "--tlog-upload=false", "-y", d.String()); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "saved")
		if _, err := c.run("save", "--allow-http-registry", "--dir", dir, d.String()); err != nil {
			t.Fatal(err)
		}
		img := openLayout(t, dir)
		res, cov, err := (&Analyzer{Rule: keyRuleFromFile(c.path("cosign.pub")), Local: true}).Check(ctx, img)
		if err != nil {
			t.Fatal(err)
		}
		if res == nil || !res.Met {
			t.Fatalf("shipshape rejects cosign save's layout: %s %s", cov.Reason, cov.Summary)
		}
		if s := res.Section.Signatures; len(s) != 1 || s[0].Kind != KindCosignSignature || !strings.HasPrefix(s[0].Source, "layout") {
			t.Errorf("signatures: %+v", s)
		}
	})
	sbom := filepath.Join(c.dir, "sbom.cdx.json")
	if err := os.WriteFile(sbom, []byte(`{"bomFormat":"CycloneDX","specVersion":"1.6","version":1,"components":[]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("cosign attests, shipshape verifies", func(t *testing.T) {
		d := push(t, addr, "interop/cosign-att:1")
		if _, err := c.run("attest", "--key", "cosign.key", "--allow-http-registry", "--signing-config", "signing-config.json", "--type", "cyclonedx", "--predicate", sbom, "-y", d.String()); err != nil {
			t.Fatal(err)
		}
		var att *Found
		for _, f := range discover(t, d) {
			if !f.IsSignature() {
				att = f
			}
		}
		if att == nil || att.Attestation != "sbom-cyclonedx" {
			t.Fatalf("cosign's attestation not found as a CycloneDX SBOM: %+v", att)
		}
		ch := Verify(att, signer)
		if !ch.Verified || ClassifyPredicate(ch.PredicateType) != "sbom-cyclonedx" {
			t.Fatalf("shipshape rejects cosign's attestation: %+v", ch)
		}
	})
	t.Run("shipshape attests, cosign verifies", func(t *testing.T) {
		d := push(t, addr, "interop/shipshape-att:1")
		b, _ := os.ReadFile(sbom)
		if _, err := Attest(ctx, d, "https://cyclonedx.org/bom", json.RawMessage(b), SignOptions{Key: key, Remote: ropts()}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.run("verify-attestation", "--key", "cosign.pub", "--allow-http-registry", "--insecure-ignore-tlog=true", "--type", "cyclonedx", d.String()); err != nil {
			t.Fatalf("cosign rejects shipshape's attestation: %v", err)
		}
	})
	t.Run("cosign attests to the legacy .att tag, shipshape verifies", func(t *testing.T) {
		d := push(t, addr, "interop/cosign-att-legacy:1")
		if _, err := c.run("attest", "--key", "cosign.key", "--allow-http-registry", "--new-bundle-format=false", "--use-signing-config=false", "--tlog-upload=false", "--type", "cyclonedx", "--predicate", sbom, "-y", d.String()); err != nil {
			t.Fatal(err)
		}
		att := only(t, discover(t, d), KindCosignAttestation)
		if ch := Verify(att, signer); !ch.Verified || ClassifyPredicate(ch.PredicateType) != "sbom-cyclonedx" || !strings.HasSuffix(att.Source, ".att") {
			t.Fatalf("shipshape rejects cosign's legacy attestation: %+v", ch)
		}
	})
	t.Run("shipshape attests to the legacy .att tag, cosign verifies", func(t *testing.T) {
		d := push(t, addr, "interop/shipshape-att-legacy:1")
		b, _ := os.ReadFile(sbom)
		if _, err := Attest(ctx, d, "https://cyclonedx.org/bom", json.RawMessage(b), SignOptions{Key: key, LegacyTags: true, Remote: ropts()}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.run("verify-attestation", "--key", "cosign.pub", "--allow-http-registry", "--insecure-ignore-tlog=true", "--new-bundle-format=false", "--type", "cyclonedx", d.String()); err != nil {
			t.Fatalf("cosign rejects shipshape's legacy attestation: %v", err)
		}
	})
}

// The same tampered inputs go to cosign verify and to shipshape; both must
// reject each. The test logs the acceptance table.
func TestCosignTampering(t *testing.T) {
	c := newCosign(t)
	addr := registry(t)
	ctx := context.Background()
	other := newCosign(t) // another key pair
	signer := c.signer()
	cases := []struct {
		name  string
		setup func(t *testing.T, a, b name.Digest)
	}{
		{"signed by an unknown key", func(t *testing.T, a, b name.Digest) {
			if err := other.sign(b, other.path("cosign.key")); err != nil {
				t.Fatal(err)
			}
		}},
		{"bundle of another digest attached", func(t *testing.T, a, b name.Digest) {
			if err := c.sign(a, "cosign.key"); err != nil {
				t.Fatal(err)
			}
			f := only(t, discover(t, a), KindBundle)
			if _, err := writeReferrer(ctx, b, bundleV03MediaType, bundleV03MediaType, f.data, map[string]string{annBundlePredicateType: cosignSignPredicateType, annBundleContent: "dsse-envelope"}, ropts()); err != nil {
				t.Fatal(err)
			}
		}},
		{"legacy .sig of another digest attached", func(t *testing.T, a, b name.Digest) {
			key, err := LoadPrivateKey(c.path("cosign.key"), []byte(cosignPassword))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Sign(ctx, a, SignOptions{Key: key, LegacyTags: true, Remote: ropts()}); err != nil {
				t.Fatal(err)
			}
			f := only(t, discover(t, a), KindCosignSignature)
			if _, err := appendLegacy(ctx, b, ".sig", static.NewLayer(f.data, simpleSigningMediaType), f.annotations, ropts()); err != nil {
				t.Fatal(err)
			}
		}},
		{"unsigned", func(t *testing.T, a, b name.Digest) {}},
	}
	var table []string
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := push(t, addr, "tamper/a:"+string(rune('a'+i)))
			b := push(t, addr, "tamper/b:"+string(rune('a'+i)))
			tc.setup(t, a, b)
			cerr := c.verify(b, "cosign.pub")
			ship := "reject"
			var reasons []string
			for _, f := range discover(t, b) {
				ch := Verify(f, signer)
				if ch.Verified {
					ship = "ACCEPT"
				}
				reasons = append(reasons, ch.Reason)
			}
			cos := "ACCEPT"
			if ce, ok := cerr.(*cosignError); ok {
				cos = "reject [" + lastLines(ce.out, 1) + "]"
			} else if cerr != nil {
				cos = "reject [" + cerr.Error() + "]"
			}
			table = append(table, tc.name+": cosign "+cos+", shipshape "+ship+" ("+strings.Join(reasons, "; ")+")")
			if cerr == nil {
				t.Errorf("cosign accepts it")
			}
			if ship != "reject" {
				t.Errorf("shipshape accepts it")
			}
		})
	}
	for _, l := range table {
		t.Log(l)
	}
}
