package trust

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/notaryproject/notation-go"
	"github.com/notaryproject/notation-go/dir"
	"github.com/notaryproject/notation-go/verifier"
	"github.com/notaryproject/notation-go/verifier/trustpolicy"
	"github.com/notaryproject/notation-go/verifier/truststore"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Notation envelope media types.
const (
	notationJWS  = "application/jose+json"
	notationCOSE = "application/cose"
)

// notationStore is the name of the in-memory trust store a signer's CA
// certificates are put in.
const notationStore = "shipshape"

// NotationSigner is a Notation (Notary Project) signer: the CA
// certificates of its trust store and the trusted identity the signing
// certificate must have ("x509.subject: CN=…, O=…", or "*").
type NotationSigner struct {
	CAs      []*x509.Certificate
	CAPath   string
	Identity string

	// Or notation's own files: a trust policy document (trustpolicy.json)
	// and a trust store directory (holding truststore/x509/TYPE/NAME/).
	Policy     *trustpolicy.Document
	PolicyPath string
	Store      truststore.X509TrustStore
	StorePath  string
}

// LoadNotationPolicy reads notation's trust policy document and trust
// store directory, as notation's configuration keeps them.
func LoadNotationPolicy(policyPath, storeDir string) (*NotationSigner, error) {
	b, err := os.ReadFile(policyPath)
	if err != nil {
		return nil, fmt.Errorf("notation trust policy: %w", err)
	}
	var doc trustpolicy.Document
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("notation trust policy %s: %w", policyPath, err)
	}
	if err := doc.Validate(); err != nil {
		return nil, fmt.Errorf("notation trust policy %s: %w", policyPath, err)
	}
	st, err := os.Stat(filepath.Join(storeDir, "truststore"))
	if err != nil || !st.IsDir() {
		return nil, fmt.Errorf("notation trust store %s: want a directory holding truststore/x509/ca/NAME/*.pem", storeDir)
	}
	return &NotationSigner{Policy: &doc, PolicyPath: policyPath, Store: truststore.NewX509TrustStore(dir.NewSysFS(storeDir)), StorePath: storeDir}, nil
}

// LoadNotationCAs reads PEM CA certificates for a Notation trust store.
func LoadNotationCAs(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("notation CA: %w", err)
	}
	var out []*x509.Certificate
	for {
		var p *pem.Block
		p, b = pem.Decode(b)
		if p == nil {
			break
		}
		if p.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(p.Bytes)
		if err != nil {
			return nil, fmt.Errorf("notation CA %s: %w", path, err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("notation CA %s: no PEM certificate", path)
	}
	return out, nil
}

// memStore is a Notation trust store held in memory.
type memStore struct{ cas []*x509.Certificate }

func (m memStore) GetCertificates(_ context.Context, t truststore.Type, named string) ([]*x509.Certificate, error) {
	if t != truststore.TypeCA || named != notationStore {
		return nil, fmt.Errorf("trust store %s:%s is not configured", t, named)
	}
	return m.cas, nil
}

// verifyNotation verifies a Notation signature envelope with notation-go
// at the strict level, against a trust policy built for s: its CA
// certificates as the only trust store, its trusted identity. Revocation is
// not checked (it would ask the certificates' OCSP and CRL servers).
func verifyNotation(f *Found, s *Signer, c *Check) error {
	ns := s.Notation
	if ns == nil {
		return errors.New("not a Notation signer (the policy names a cosign key or keyless identity)")
	}
	mt := f.mediaType
	if mt != notationJWS && mt != notationCOSE {
		return fmt.Errorf("signature envelope of media type %q: want %s or %s", mt, notationJWS, notationCOSE)
	}
	if f.subjectDesc == nil {
		return errors.New("the signature manifest has no subject")
	}
	identity := ns.Identity
	if identity == "" {
		identity = "*"
	}
	var (
		doc   *trustpolicy.Document
		store truststore.X509TrustStore = memStore{ns.CAs}
	)
	if ns.Policy != nil {
		doc, store = ns.Policy, ns.Store
	} else {
		doc = &trustpolicy.Document{
			Version: "1.0",
			TrustPolicies: []trustpolicy.TrustPolicy{{
				Name:           "shipshape",
				RegistryScopes: []string{"*"},
				SignatureVerification: trustpolicy.SignatureVerification{
					VerificationLevel: trustpolicy.LevelStrict.Name,
					Override:          map[trustpolicy.ValidationType]trustpolicy.ValidationAction{trustpolicy.TypeRevocation: trustpolicy.ActionSkip},
				},
				TrustStores:       []string{string(truststore.TypeCA) + ":" + notationStore},
				TrustedIdentities: []string{identity},
			}},
		}
	}
	v, err := verifier.New(doc, store, nil)
	if err != nil {
		return fmt.Errorf("notation verifier: %w", err)
	}
	desc := ocispec.Descriptor{MediaType: string(f.subjectDesc.MediaType), Digest: digest.Digest(f.Subject), Size: f.subjectDesc.Size}
	out, err := v.Verify(context.Background(), desc, f.data, notation.VerifierVerifyOptions{
		ArtifactReference:  f.repository + "@" + f.Subject,
		SignatureMediaType: mt,
	})
	if err != nil {
		msg := err.Error()
		switch {
		case strings.Contains(msg, "content descriptor mismatch"):
			return fmt.Errorf("the signature is for another digest, not %s: %w", f.Subject, err)
		case strings.Contains(msg, "trusted identit"):
			return fmt.Errorf("wrong identity: %w", err)
		case strings.Contains(msg, "expired"), strings.Contains(msg, "not valid after"), strings.Contains(msg, "has expired"):
			return fmt.Errorf("expired: %w", err)
		case strings.Contains(msg, "does not contain any trusted certificate"), strings.Contains(msg, "authenticity"):
			return fmt.Errorf("the signing certificate does not chain to the signer's CA: %w", err)
		}
		return err
	}
	var checked []string
	for _, r := range out.VerificationResults {
		state := "ok"
		if r.Error != nil {
			state = r.Error.Error()
		}
		checked = append(checked, fmt.Sprintf("%s (%s): %s", r.Type, r.Action, state))
	}
	if out.EnvelopeContent != nil {
		if chain := out.EnvelopeContent.SignerInfo.CertificateChain; len(chain) > 0 {
			c.Identity = chain[0].Subject.String()
			root := chain[len(chain)-1]
			sum := sha256.Sum256(root.Raw)
			from := ns.CAPath
			if ns.Policy != nil {
				from = fmt.Sprintf("trust policy %s, trust store %s", ns.PolicyPath, ns.StorePath)
			}
			c.Key = fmt.Sprintf("certificate chain to %s (sha256:%s) from %s", root.Subject, hex.EncodeToString(sum[:]), from)
		}
		if st := out.EnvelopeContent.SignerInfo.SignedAttributes.SigningTime; !st.IsZero() {
			c.Timestamps = append(c.Timestamps, "signing time (claimed, not a trusted timestamp) "+st.UTC().Format("2006-01-02T15:04:05Z"))
		}
	}
	level := "strict level with revocation skipped"
	if ns.Policy != nil && out.VerificationLevel != nil {
		level = out.VerificationLevel.Name + " level"
	}
	c.Transparency = "none: Notation has no transparency log; " + level + ": " + strings.Join(checked, "; ")
	return nil
}
