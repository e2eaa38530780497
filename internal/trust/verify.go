package trust

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// Signer is one party whose signatures are accepted: a public key, or a
// keyless identity (certificate subject and OIDC issuer, exact or regular
// expressions) checked against a trusted root.
type Signer struct {
	Key *PublicKey
	// Notation, when set, makes this a Notation signer.
	Notation *NotationSigner

	Identity, IdentityRegexp string
	Issuer, IssuerRegexp     string
	// TrustedRoot holds the Fulcio CAs, Rekor logs and timestamp
	// authorities keyless signatures are checked against (a Sigstore
	// trusted_root.json, read offline).
	TrustedRoot     root.TrustedMaterial
	TrustedRootPath string
}

// String names the signer for reports.
func (s *Signer) String() string {
	if s.Key != nil {
		return "key " + s.Key.String()
	}
	if n := s.Notation; n != nil {
		if n.Policy != nil {
			return fmt.Sprintf("notation trust policy %s with trust store %s", n.PolicyPath, n.StorePath)
		}
		id := n.Identity
		if id == "" {
			id = "any identity"
		}
		return fmt.Sprintf("notation %s under CA %s", id, n.CAPath)
	}
	id := s.Identity
	if id == "" {
		id = "~" + s.IdentityRegexp
	}
	iss := s.Issuer
	if iss == "" {
		iss = "~" + s.IssuerRegexp
	}
	return fmt.Sprintf("keyless %s from %s", id, iss)
}

// Check is the result of verifying one signature or attestation against
// one signer, with what was checked.
type Check struct {
	Signer   string `json:"signer"`
	Verified bool   `json:"verified"`
	// Reason says why verification failed.
	Reason string `json:"reason,omitempty"`
	// Digest is the manifest digest the signature was required to sign.
	Digest string `json:"digest"`
	// Key is the public key that verified the signature.
	Key string `json:"key,omitempty"`
	// Identity and Issuer are the keyless certificate's subject and
	// OIDC issuer, once verified.
	Identity string `json:"identity,omitempty"`
	Issuer   string `json:"issuer,omitempty"`
	// Transparency says what transparency evidence was checked (log
	// inclusion, signed timestamps), or that none was.
	Transparency string `json:"transparency"`
	// Timestamps are the verified times (log integration, TSA).
	Timestamps []string `json:"timestamps,omitempty"`
	// PredicateType is the verified statement's predicate type.
	PredicateType string `json:"predicateType,omitempty"`
	// Predicate is the verified statement's predicate, for policy checks
	// (the SLSA builder id); not reported.
	Predicate json.RawMessage `json:"-"`
}

// Verify checks f against s: that it signs f.Subject (and nothing else),
// that s made the signature, and what transparency evidence backs it. It
// never returns a verified check for something it did not check.
func Verify(f *Found, s *Signer) Check {
	c := Check{Signer: s.String(), Digest: f.Subject, Transparency: "none"}
	var err error
	switch f.Kind {
	case KindBundle:
		err = verifyBundle(f, s, &c)
	case KindCosignSignature:
		err = verifyLegacySignature(f, s, &c)
	case KindCosignAttestation:
		err = verifyLegacyAttestation(f, s, &c)
	case KindNotation:
		err = verifyNotation(f, s, &c)
	default:
		err = fmt.Errorf("%s is not a signature", f.Kind)
	}
	if err != nil {
		c.Verified, c.Reason = false, err.Error()
		c.Key, c.Identity, c.Issuer, c.Timestamps = "", "", "", nil
		return c
	}
	c.Verified = true
	return c
}

func subjectDigest(f *Found) ([]byte, error) {
	alg, h, ok := strings.Cut(f.Subject, ":")
	if !ok || alg != "sha256" {
		return nil, fmt.Errorf("subject %q is not a sha256 digest", f.Subject)
	}
	return hex.DecodeString(h)
}

func verifyBundle(f *Found, s *Signer, c *Check) error {
	if s.Notation != nil {
		return errors.New("a Sigstore bundle, not a Notation signature")
	}
	var b bundle.Bundle
	if err := b.UnmarshalJSON(f.data); err != nil {
		return fmt.Errorf("bundle %s: unreadable: %w", f.Layer, err)
	}
	return verifyEntity(&b, f, s, c)
}

// signedEntity is what a Sigstore bundle offers verification.
type signedEntity interface {
	verify.SignedEntity
}

// verifyEntity verifies a Sigstore signed entity (a bundle) against s,
// requiring it to sign f.Subject.
func verifyEntity(b signedEntity, f *Found, s *Signer, c *Check) error {
	dig, err := subjectDigest(f)
	if err != nil {
		return err
	}
	return verifyEntityArtifact(b, f, s, c, verify.WithArtifactDigest("sha256", dig))
}

// verifyEntityArtifact verifies b against s, with artifact saying what it
// must sign.
func verifyEntityArtifact(b signedEntity, f *Found, s *Signer, c *Check, artifact verify.ArtifactPolicyOption) error {
	tl, err := b.TlogEntries()
	if err != nil {
		return fmt.Errorf("bundle: transparency log entries: %w", err)
	}
	ts, err := b.Timestamps()
	if err != nil {
		return fmt.Errorf("bundle: signed timestamps: %w", err)
	}
	var (
		tm      root.TrustedMaterial
		vopts   []verify.VerifierOption
		popts   []verify.PolicyOption
		checked string
	)
	if s.Key != nil {
		v, err := s.Key.verifier()
		if err != nil {
			return fmt.Errorf("key %s: %w", s.Key.Path, err)
		}
		tm = root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) {
			return root.NewExpiringKey(v, time.Time{}, time.Time{}), nil
		})
		vopts = []verify.VerifierOption{verify.WithNoObserverTimestamps()}
		popts = []verify.PolicyOption{verify.WithKey()}
		checked = fmt.Sprintf("not checked: key-based verification; the bundle has %d log entries and %d signed timestamps", len(tl), len(ts))
		if len(tl) == 0 && len(ts) == 0 {
			checked = "none: the bundle has no log entry or signed timestamp (signed offline with a key)"
		}
	} else {
		if s.TrustedRoot == nil {
			return errors.New("keyless signer without a trusted root")
		}
		id, err := verify.NewShortCertificateIdentity(s.Issuer, s.IssuerRegexp, s.Identity, s.IdentityRegexp)
		if err != nil {
			return fmt.Errorf("signer identity: %w", err)
		}
		tm = s.TrustedRoot
		popts = []verify.PolicyOption{verify.WithCertificateIdentity(id)}
		switch {
		case len(tl) > 0:
			vopts = []verify.VerifierOption{verify.WithTransparencyLog(1), verify.WithObserverTimestamps(1)}
			checked = fmt.Sprintf("transparency log inclusion (%d entries) and observer timestamps verified against %s", len(tl), s.TrustedRootPath)
		case len(ts) > 0:
			vopts = []verify.VerifierOption{verify.WithSignedTimestamps(1)}
			checked = fmt.Sprintf("signed timestamps (%d) verified against %s; no transparency log entry", len(ts), s.TrustedRootPath)
		default:
			return errors.New("keyless bundle without a transparency log entry or a signed timestamp: the certificate's validity cannot be established")
		}
	}
	v, err := verify.NewVerifier(tm, vopts...)
	if err != nil {
		return fmt.Errorf("verifier: %w", err)
	}
	res, err := v.Verify(b, verify.NewPolicy(artifact, popts...))
	if err != nil {
		return explain(err, f)
	}
	c.Transparency = checked
	for _, t := range res.VerifiedTimestamps {
		c.Timestamps = append(c.Timestamps, fmt.Sprintf("%s %s %s", t.Type, t.URI, t.Timestamp.UTC().Format(time.RFC3339)))
	}
	if s.Key != nil {
		c.Key = s.Key.String()
	}
	if res.Signature != nil && res.Signature.Certificate != nil {
		c.Identity = res.Signature.Certificate.SubjectAlternativeName
		c.Issuer = res.Signature.Certificate.Issuer
	}
	if res.Statement != nil {
		c.PredicateType = res.Statement.GetPredicateType()
		if p := res.Statement.GetPredicate(); p != nil {
			if pb, err := p.MarshalJSON(); err == nil {
				c.Predicate = pb
			}
		}
		if f.PredicateType != "" && f.PredicateType != c.PredicateType {
			return fmt.Errorf("the referrer claims predicate %s but the signed statement is %s", f.PredicateType, c.PredicateType)
		}
	}
	return nil
}

var digestMismatchRE = regexp.MustCompile(`(?i)digest|subject`)

// explain turns sigstore-go's errors into the reason a user reads.
func explain(err error, f *Found) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "no matching subject digest") || strings.Contains(msg, "artifact digest") && digestMismatchRE.MatchString(msg):
		return fmt.Errorf("the signature is for another digest, not %s: %w", f.Subject, err)
	case strings.Contains(msg, "failed to verify certificate identity"):
		return fmt.Errorf("wrong identity: %w", err)
	case strings.Contains(msg, "does not match artifact"):
		return fmt.Errorf("the transparency log entry records another signed artifact: the payload was changed after signing: %w", err)
	case strings.Contains(msg, "integrated time outside certificate validity"):
		return fmt.Errorf("certificate not valid at the signing time: the transparency log recorded the signature outside the certificate's validity (expired certificate): %w", err)
	case strings.Contains(msg, "failed to verify log inclusion"):
		return fmt.Errorf("transparency log evidence does not verify against the trusted root (unknown log, tampered entry or inclusion proof): %w", err)
	case strings.Contains(msg, "failed to verify leaf certificate"):
		return fmt.Errorf("certificate not valid at the signing time, or not issued by the trusted root: %w", err)
	case strings.Contains(msg, "failed to verify signature"):
		return fmt.Errorf("the signature does not verify with this signer's key: %w", err)
	}
	return err
}

// simpleSigning is cosign's legacy signature payload.
type simpleSigning struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
}

func verifyLegacySignature(f *Found, s *Signer, c *Check) error {
	var p simpleSigning
	if err := json.Unmarshal(f.data, &p); err != nil {
		return fmt.Errorf("signature payload %s: unreadable: %w", f.Layer, err)
	}
	if p.Critical.Type != "cosign container image signature" {
		return fmt.Errorf("signature payload %s: type %q is not a cosign container image signature", f.Layer, p.Critical.Type)
	}
	if p.Critical.Image.DockerManifestDigest != f.Subject {
		return fmt.Errorf("the signature is for another digest: its payload names %s, not %s", p.Critical.Image.DockerManifestDigest, f.Subject)
	}
	if s.Notation != nil {
		return errors.New("a cosign signature, not a Notation signature")
	}
	if s.Key == nil {
		return verifyLegacyKeyless(f, s, c)
	}
	sig, err := base64.StdEncoding.DecodeString(f.annotations[annCosignSignature])
	if err != nil || len(sig) == 0 {
		return fmt.Errorf("signature layer %s: no base64 %s annotation", f.Layer, annCosignSignature)
	}
	v, err := s.Key.verifier()
	if err != nil {
		return err
	}
	if err := v.VerifySignature(bytes.NewReader(sig), bytes.NewReader(f.data)); err != nil {
		return fmt.Errorf("the signature does not verify with key %s: %w", s.Key.Fingerprint, err)
	}
	c.Key = s.Key.String()
	if f.annotations[annCosignRekorBundle] != "" {
		c.Transparency = "not checked: a Rekor signed entry timestamp is attached (key-based verification)"
	} else {
		c.Transparency = "none: no Rekor entry is attached (signed offline with a key)"
	}
	return nil
}

// envelope is a DSSE envelope.
type envelope struct {
	PayloadType string `json:"payloadType"`
	Payload     []byte `json:"payload"`
	Signatures  []struct {
		KeyID string `json:"keyid"`
		Sig   []byte `json:"sig"`
	} `json:"signatures"`
}

// pae is DSSE's pre-authentication encoding.
func pae(payloadType string, payload []byte) []byte {
	return fmt.Appendf(nil, "DSSEv1 %d %s %d %s", len(payloadType), payloadType, len(payload), payload)
}

// statement is the part of an in-toto statement checked here.
type statement struct {
	Type    string `json:"_type"`
	Subject []struct {
		Name   string            `json:"name"`
		Digest map[string]string `json:"digest"`
	} `json:"subject"`
	PredicateType string          `json:"predicateType"`
	Predicate     json.RawMessage `json:"predicate"`
}

func verifyLegacyAttestation(f *Found, s *Signer, c *Check) error {
	var e envelope
	if err := json.Unmarshal(f.data, &e); err != nil {
		return fmt.Errorf("attestation %s: unreadable DSSE envelope: %w", f.Layer, err)
	}
	if s.Notation != nil {
		return errors.New("a cosign attestation, not a Notation signature")
	}
	if s.Key == nil {
		return verifyLegacyKeylessAttestation(f, &e, s, c)
	}
	v, err := s.Key.verifier()
	if err != nil {
		return err
	}
	ok := false
	for _, sg := range e.Signatures {
		if v.VerifySignature(bytes.NewReader(sg.Sig), bytes.NewReader(pae(e.PayloadType, e.Payload))) == nil {
			ok = true
			break
		}
	}
	if !ok {
		return fmt.Errorf("none of the envelope's %d signatures verifies with key %s", len(e.Signatures), s.Key.Fingerprint)
	}
	var st statement
	if err := json.Unmarshal(e.Payload, &st); err != nil {
		return fmt.Errorf("attestation %s: signed payload is not an in-toto statement: %w", f.Layer, err)
	}
	_, hexd, _ := strings.Cut(f.Subject, ":")
	found := false
	var names []string
	for _, sub := range st.Subject {
		if sub.Digest["sha256"] == hexd {
			found = true
		}
		names = append(names, "sha256:"+sub.Digest["sha256"])
	}
	if !found {
		return fmt.Errorf("the attestation is for another digest: its subjects are %s, not %s", strings.Join(names, ", "), f.Subject)
	}
	if f.PredicateType != "" && f.PredicateType != st.PredicateType {
		return fmt.Errorf("the layer claims predicate %s but the signed statement is %s", f.PredicateType, st.PredicateType)
	}
	c.Key = s.Key.String()
	c.PredicateType = st.PredicateType
	c.Predicate = st.Predicate
	if f.annotations[annCosignRekorBundle] != "" {
		c.Transparency = "not checked: a Rekor signed entry timestamp is attached (key-based verification)"
	} else {
		c.Transparency = "none: no Rekor entry is attached"
	}
	return nil
}
