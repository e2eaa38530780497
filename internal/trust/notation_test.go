package trust

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/signer"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/shipshape-dev/shipshape/internal/policy"
)

// notaryPKI is a root CA and a code-signing leaf, as notation's trust
// store and signer want them.
type notaryPKI struct {
	ca      *x509.Certificate
	caPath  string
	leaf    *x509.Certificate
	leafKey crypto.Signer
}

func newNotaryPKI(t *testing.T, cn string, notBefore, notAfter time.Time) *notaryPKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn + " CA", Organization: []string{"Acme"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leafKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: cn, Organization: []string{"Acme"}, Country: []string{"US"}, Province: []string{"WA"}},
		NotBefore: notBefore, NotAfter: notAfter, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, leafKey.Public(), caKey)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(leafDER)
	p := filepath.Join(t.TempDir(), "notation-ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		t.Fatal(err)
	}
	return &notaryPKI{ca: ca, caPath: p, leaf: leaf, leafKey: leafKey}
}

// notationSign signs d with notation-go's own signer and attaches the
// envelope as Notation does: a referrer of artifact type
// application/vnd.cncf.notary.signature.
func notationSign(t *testing.T, pki *notaryPKI, d name.Digest, envelopeType string) []byte {
	t.Helper()
	s, err := signer.NewGenericSigner(pki.leafKey, []*x509.Certificate{pki.leaf, pki.ca})
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Head(d, ropts()...)
	if err != nil {
		t.Fatal(err)
	}
	env, _, err := s.Sign(context.Background(), ocispec.Descriptor{MediaType: string(desc.MediaType), Digest: digest.Digest(desc.Digest.String()), Size: desc.Size},
		notation.SignerSignOptions{SignatureMediaType: envelopeType})
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func attachNotation(t *testing.T, d name.Digest, envelopeType string, env []byte) {
	t.Helper()
	if _, err := writeReferrer(context.Background(), d, notationArtifactType, envelopeType, env, map[string]string{"io.cncf.notary.x509chain.thumbprint#S256": "[]"}, ropts()); err != nil {
		t.Fatal(err)
	}
}

// Notation signatures (JWS and COSE) made by notation-go's signer, verified
// through notation-go's trust-policy path; tampering cases fail with their
// reason.
func TestNotation(t *testing.T) {
	addr := registry(t)
	ctx := context.Background()
	now := time.Now()
	pki := newNotaryPKI(t, "release", now.Add(-time.Hour), now.Add(time.Hour))
	stranger := newNotaryPKI(t, "release", now.Add(-time.Hour), now.Add(time.Hour))
	var expiring *notaryPKI // made just before it signs
	const identity = "x509.subject: C=US, ST=WA, O=Acme, CN=release"

	cases := []struct {
		name    string
		prepare func(t *testing.T, a, b name.Digest)
		signer  policy.TrustSigner
		reason  string // "" is verified
	}{
		{"JWS", func(t *testing.T, a, b name.Digest) {
			attachNotation(t, b, notationJWS, notationSign(t, pki, b, notationJWS))
		},
			policy.TrustSigner{NotationCA: pki.caPath, NotationIdentity: identity}, ""},
		{"COSE, any identity", func(t *testing.T, a, b name.Digest) {
			attachNotation(t, b, notationCOSE, notationSign(t, pki, b, notationCOSE))
		},
			policy.TrustSigner{NotationCA: pki.caPath}, ""},
		{"signature of another digest", func(t *testing.T, a, b name.Digest) {
			attachNotation(t, b, notationJWS, notationSign(t, pki, a, notationJWS))
		},
			policy.TrustSigner{NotationCA: pki.caPath}, "another digest"},
		{"another CA", func(t *testing.T, a, b name.Digest) {
			attachNotation(t, b, notationJWS, notationSign(t, stranger, b, notationJWS))
		},
			policy.TrustSigner{NotationCA: pki.caPath}, "does not chain"},
		{"wrong identity", func(t *testing.T, a, b name.Digest) {
			attachNotation(t, b, notationCOSE, notationSign(t, pki, b, notationCOSE))
		},
			policy.TrustSigner{NotationCA: pki.caPath, NotationIdentity: "x509.subject: C=US, ST=WA, O=Acme, CN=mallory"}, "wrong identity"},
		{"expired certificate", func(t *testing.T, a, b name.Digest) {
			// Valid when it signs, expired when it is verified.
			expiring = newNotaryPKI(t, "release", time.Now().Add(-time.Hour), time.Now().Add(3*time.Second))
			attachNotation(t, b, notationJWS, notationSign(t, expiring, b, notationJWS))
			time.Sleep(time.Until(expiring.leaf.NotAfter) + 1500*time.Millisecond)
		}, policy.TrustSigner{}, "expired"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := push(t, addr, "notation/a:"+string(rune('a'+i)))
			b := push(t, addr, "notation/b:"+string(rune('a'+i)))
			c.prepare(t, a, b)
			signer := c.signer
			if signer.NotationCA == "" {
				signer.NotationCA = expiring.caPath
			}
			rule := &policy.TrustRule{Repositories: []string{"**"}, Signers: []policy.TrustSigner{signer}}
			res, cov, err := (&Analyzer{Rule: rule}).Check(ctx, open(t, b.Context().String()+":"+string(rune('a'+i)), ""))
			if err != nil {
				t.Fatal(err)
			}
			if res == nil || len(res.Section.Signatures) != 1 {
				t.Fatalf("not run or no signature: %s %+v", cov.Reason, res)
			}
			e := res.Section.Signatures[0]
			if e.Kind != KindNotation || len(e.Checks) != 1 {
				t.Fatalf("entry %+v", e)
			}
			ch := e.Checks[0]
			t.Logf("%s: verified=%v %s %s", c.name, ch.Verified, ch.Reason, ch.Transparency)
			if c.reason == "" {
				if !ch.Verified || !res.Met || !strings.Contains(ch.Identity, "CN=release") || !strings.Contains(ch.Transparency, "strict") {
					t.Errorf("rejected or incomplete: %+v", ch)
				}
				return
			}
			if ch.Verified || res.Met {
				t.Fatalf("accepted: %+v", ch)
			}
			if !strings.Contains(ch.Reason, c.reason) {
				t.Errorf("reason %q, want %q", ch.Reason, c.reason)
			}
		})
	}
}

// notation's own configuration files: trustpolicy.json with registry
// scopes and a trust store directory.
func TestNotationPolicyFiles(t *testing.T) {
	addr := registry(t)
	ctx := context.Background()
	pki := newNotaryPKI(t, "release", time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	d := push(t, addr, "notation/files:1")
	attachNotation(t, d, notationJWS, notationSign(t, pki, d, notationJWS))

	store := t.TempDir()
	caDir := filepath.Join(store, "truststore", "x509", "ca", "acme")
	if err := os.MkdirAll(caDir, 0o755); err != nil {
		t.Fatal(err)
	}
	ca, _ := os.ReadFile(pki.caPath)
	os.WriteFile(filepath.Join(caDir, "ca.pem"), ca, 0o644)
	for _, c := range []struct {
		scope string
		met   bool
		why   string
	}{
		{addr + "/notation/files", true, ""},
		{addr + "/notation/other", false, "no applicable trust policy"},
	} {
		pol := filepath.Join(t.TempDir(), "trustpolicy.json")
		os.WriteFile(pol, []byte(`{"version":"1.0","trustPolicies":[{"name":"acme","registryScopes":["`+c.scope+`"],"signatureVerification":{"level":"strict","override":{"revocation":"skip"}},"trustStores":["ca:acme"],"trustedIdentities":["x509.subject: C=US, ST=WA, O=Acme, CN=release"]}]}`), 0o644)
		rule := &policy.TrustRule{Repositories: []string{"**"}, Signers: []policy.TrustSigner{{NotationTrustPolicy: pol, NotationTrustStore: store}}}
		res, cov, err := (&Analyzer{Rule: rule}).Check(ctx, open(t, addr+"/notation/files:1", ""))
		if err != nil {
			t.Fatal(err)
		}
		if res == nil || len(res.Section.Signatures) != 1 {
			t.Fatalf("%s", cov.Reason)
		}
		ch := res.Section.Signatures[0].Checks[0]
		t.Logf("scope %s: %+v", c.scope, ch)
		if res.Met != c.met || (c.why != "" && !strings.Contains(ch.Reason, c.why)) {
			t.Errorf("scope %s: met=%v %+v", c.scope, res.Met, ch)
		}
	}
}
