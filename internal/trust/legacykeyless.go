package trust

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/verify"
)

// bundleV01MediaType is the bundle version whose log entries may carry an
// inclusion promise (a signed entry timestamp) without an inclusion proof,
// which is what cosign's legacy .sig annotations hold.
const bundleV01MediaType = "application/vnd.dev.sigstore.bundle+json;version=0.1"

// rekorBundle is cosign's dev.sigstore.cosign/bundle annotation.
type rekorBundle struct {
	SignedEntryTimestamp []byte `json:"SignedEntryTimestamp"`
	Payload              struct {
		Body           []byte `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogIndex       int64  `json:"logIndex"`
		LogID          string `json:"logID"`
	} `json:"Payload"`
}

// verifyLegacyKeyless verifies a keyless legacy .sig signature: the
// Fulcio certificate (and chain) and the Rekor signed entry timestamp in
// the layer's annotations become a Sigstore bundle, verified against the
// signer's trusted root and identity; the signed artifact is the payload
// (whose digest was already checked against the subject).
func verifyLegacyKeyless(f *Found, s *Signer, c *Check) error {
	sig, err := base64.StdEncoding.DecodeString(f.annotations[annCosignSignature])
	if err != nil || len(sig) == 0 {
		return fmt.Errorf("signature layer %s: no base64 %s annotation", f.Layer, annCosignSignature)
	}
	vm, err := legacyMaterial(f, s)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(f.data)
	pb := &protobundle.Bundle{
		MediaType:            bundleV01MediaType,
		VerificationMaterial: vm,
		Content: &protobundle.Bundle_MessageSignature{MessageSignature: &protocommon.MessageSignature{
			MessageDigest: &protocommon.HashOutput{Algorithm: protocommon.HashAlgorithm_SHA2_256, Digest: sum[:]},
			Signature:     sig,
		}},
	}
	b, err := bundle.NewBundle(pb)
	if err != nil {
		return fmt.Errorf("legacy signature %s: %w", f.Layer, err)
	}
	return verifyEntityArtifact(b, f, s, c, verify.WithArtifact(bytes.NewReader(f.data)))
}

// verifyLegacyKeylessAttestation verifies a keyless legacy attestation: a
// DSSE envelope with the certificate and Rekor entry in its layer's
// annotations; the statement must name f.Subject.
func verifyLegacyKeylessAttestation(f *Found, e *envelope, s *Signer, c *Check) error {
	vm, err := legacyMaterial(f, s)
	if err != nil {
		return err
	}
	env := &protodsse.Envelope{Payload: e.Payload, PayloadType: e.PayloadType}
	for _, sg := range e.Signatures {
		env.Signatures = append(env.Signatures, &protodsse.Signature{Sig: sg.Sig, Keyid: sg.KeyID})
	}
	b, err := bundle.NewBundle(&protobundle.Bundle{MediaType: bundleV01MediaType, VerificationMaterial: vm, Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: env}})
	if err != nil {
		return fmt.Errorf("legacy attestation %s: %w", f.Layer, err)
	}
	return verifyEntity(b, f, s, c)
}

// legacyMaterial turns the certificate, chain and Rekor bundle annotations
// of a legacy cosign layer into a bundle's verification material.
func legacyMaterial(f *Found, s *Signer) (*protobundle.VerificationMaterial, error) {
	if s.TrustedRoot == nil {
		return nil, errors.New("keyless signer without a trusted root")
	}
	certPEM := f.annotations[annCosignCertificate]
	if certPEM == "" {
		return nil, errors.New("no key was given and the signature carries no certificate: signed with a key this policy does not name")
	}
	var chain []*protocommon.X509Certificate
	rest := []byte(certPEM + "\n" + f.annotations[annCosignChain])
	for {
		var p *pem.Block
		p, rest = pem.Decode(rest)
		if p == nil {
			break
		}
		if p.Type != "CERTIFICATE" {
			continue
		}
		// Roots come from the trusted root, never from the signature.
		if cert, err := x509.ParseCertificate(p.Bytes); err == nil && len(chain) > 0 && bytes.Equal(cert.RawSubject, cert.RawIssuer) {
			continue
		}
		chain = append(chain, &protocommon.X509Certificate{RawBytes: p.Bytes})
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("annotation %s holds no PEM certificate", annCosignCertificate)
	}
	raw := f.annotations[annCosignRekorBundle]
	if raw == "" {
		return nil, errors.New("no Rekor entry is attached (dev.sigstore.cosign/bundle): the certificate's validity at signing time cannot be established")
	}
	var rb rekorBundle
	if err := json.Unmarshal([]byte(raw), &rb); err != nil {
		return nil, fmt.Errorf("annotation %s: %w", annCosignRekorBundle, err)
	}
	logID, err := hex.DecodeString(rb.Payload.LogID)
	if err != nil {
		return nil, fmt.Errorf("annotation %s: log id: %w", annCosignRekorBundle, err)
	}
	var body struct {
		Kind       string `json:"kind"`
		APIVersion string `json:"apiVersion"`
	}
	if err := json.Unmarshal(rb.Payload.Body, &body); err != nil {
		return nil, fmt.Errorf("annotation %s: log entry body: %w", annCosignRekorBundle, err)
	}
	return &protobundle.VerificationMaterial{
		Content: &protobundle.VerificationMaterial_X509CertificateChain{X509CertificateChain: &protocommon.X509CertificateChain{Certificates: chain}},
		TlogEntries: []*protorekor.TransparencyLogEntry{{
			LogIndex:          rb.Payload.LogIndex,
			LogId:             &protocommon.LogId{KeyId: logID},
			KindVersion:       &protorekor.KindVersion{Kind: body.Kind, Version: body.APIVersion},
			IntegratedTime:    rb.Payload.IntegratedTime,
			InclusionPromise:  &protorekor.InclusionPromise{SignedEntryTimestamp: rb.SignedEntryTimestamp},
			CanonicalizedBody: rb.Payload.Body,
		}},
	}, nil
}
