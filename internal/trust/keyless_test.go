package trust

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"github.com/sigstore/sigstore-go/pkg/root"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/shipshape-dev/shipshape/internal/policy"

	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"github.com/sigstore/sigstore-go/pkg/tlog"
)

// swappedTlog presents another entity's (valid, proven) log entry: the
// entry and its inclusion proof are genuine but record another signature.
type swappedTlog struct {
	signedEntity
	from signedEntity
}

func (s swappedTlog) TlogEntries() ([]*tlog.Entry, error) { return s.from.TlogEntries() }

// Keyless signatures from a private Sigstore (sigstore-go's virtual
// Fulcio, Rekor and TSA): identity and issuer matching, exact and regexp,
// a certificate not valid at signing time, another digest, another root.
func TestKeyless(t *testing.T) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	other, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	const (
		id     = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"
		issuer = "https://token.actions.githubusercontent.com"
		digest = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b"
	)
	statement := func(dig string) []byte {
		b, _ := json.Marshal(map[string]any{
			"_type":         "https://in-toto.io/Statement/v1",
			"subject":       []any{map[string]any{"name": "registry.example/app", "digest": map[string]string{"sha256": strings.TrimPrefix(dig, "sha256:")}}},
			"predicateType": cosignSignPredicateType,
			"predicate":     map[string]any{},
		})
		return b
	}
	good, err := vs.Attest(id, issuer, statement(digest))
	if err != nil {
		t.Fatal(err)
	}
	// Signed an hour after the leaf certificate expired (it lives ten
	// minutes, like Fulcio's).
	late, err := vs.AttestAtTime(id, issuer, statement(digest), time.Now().Add(time.Hour), false)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere, err := vs.Attest(id, issuer, statement("sha256:0000000000000000000000000000000000000000000000000000000000000000"))
	if err != nil {
		t.Fatal(err)
	}
	proved, err := vs.AttestAtTime(id, issuer, statement(digest), time.Now().Add(5*time.Minute), true)
	if err != nil {
		t.Fatal(err)
	}
	otherEntry, err := vs.AttestAtTime(id, issuer, statement(digest), time.Now().Add(5*time.Minute), true)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		entity signedEntity
		signer Signer
		reason string // "" verifies
	}{
		{"exact identity and issuer", good, Signer{Identity: id, Issuer: issuer}, ""},
		{"identity regexp", good, Signer{IdentityRegexp: `^https://github\.com/acme/.*@refs/heads/main$`, Issuer: issuer}, ""},
		{"issuer regexp", good, Signer{Identity: id, IssuerRegexp: `^https://token\.actions\.`}, ""},
		{"wrong identity", good, Signer{Identity: "https://github.com/evil/app/.github/workflows/release.yml@refs/heads/main", Issuer: issuer}, "wrong identity"},
		{"identity regexp does not match", good, Signer{IdentityRegexp: `^https://github\.com/evil/`, Issuer: issuer}, "wrong identity"},
		{"wrong issuer", good, Signer{Identity: id, Issuer: "https://accounts.google.com"}, "wrong identity"},
		{"certificate expired at signing time", late, Signer{Identity: id, Issuer: issuer}, "certificate not valid"},
		{"statement for another digest", elsewhere, Signer{Identity: id, Issuer: issuer}, "another digest"},
		{"another trusted root", good, Signer{Identity: id, Issuer: issuer, TrustedRoot: other}, "transparency log evidence does not verify"},
		{"with an inclusion proof", proved, Signer{Identity: id, Issuer: issuer}, ""},
		{"log entry of another signature", swappedTlog{proved, otherEntry}, Signer{Identity: id, Issuer: issuer}, "transparency log evidence does not verify"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := c.signer
			if s.TrustedRoot == nil {
				s.TrustedRoot = vs
			}
			s.TrustedRootPath = "virtual sigstore"
			f := &Found{Kind: KindBundle, Subject: digest}
			ch := Check{Signer: s.String(), Digest: digest}
			err := verifyEntity(c.entity, f, &s, &ch)
			if c.reason == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if ch.Identity != id || ch.Issuer != issuer || !strings.Contains(ch.Transparency, "transparency log inclusion") || len(ch.Timestamps) == 0 {
					t.Errorf("check does not say what it verified: %+v", ch)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want %q", c.reason)
			}
			t.Log(err)
			if !strings.Contains(err.Error(), c.reason) {
				t.Errorf("reason %q, want %q", err, c.reason)
			}
		})
	}
}

// bundleOf turns a virtual-sigstore entity into the Sigstore bundle JSON
// cosign would attach: leaf certificate, DSSE envelope, log entry with its
// inclusion proof, RFC 3161 timestamps.
func bundleOf(t *testing.T, e *ca.TestEntity) []byte {
	t.Helper()
	vc, err := e.VerificationContent()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := e.SignatureContent()
	if err != nil {
		t.Fatal(err)
	}
	env := sc.EnvelopeContent().RawEnvelope()
	payload, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(env.Signatures[0].Sig)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := e.TlogEntries()
	if err != nil {
		t.Fatal(err)
	}
	var tles []*protorekor.TransparencyLogEntry
	for _, en := range entries {
		tle := en.TransparencyLogEntry()
		tle.KindVersion = &protorekor.KindVersion{Kind: "dsse", Version: "0.0.1"}
		tles = append(tles, tle)
	}
	tss, err := e.Timestamps()
	if err != nil {
		t.Fatal(err)
	}
	var rfc []*protocommon.RFC3161SignedTimestamp
	for _, ts := range tss {
		rfc = append(rfc, &protocommon.RFC3161SignedTimestamp{SignedTimestamp: ts})
	}
	pb := &protobundle.Bundle{
		MediaType: bundleV03MediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content:                   &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: vc.Certificate().Raw}},
			TlogEntries:               tles,
			TimestampVerificationData: &protobundle.TimestampVerificationData{Rfc3161Timestamps: rfc},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: payload, PayloadType: env.PayloadType, Signatures: []*protodsse.Signature{{Sig: sig}},
		}},
	}
	b, err := protojson.Marshal(pb)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// End to end: a keyless bundle in the registry, a trusted_root.json file
// read offline, a policy file with identity and issuer.
func TestKeylessPolicyFile(t *testing.T) {
	addr := registry(t)
	ctx := context.Background()
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	// The virtual log's ID is its hex key id as bytes; a trusted root
	// file stores the raw key id.
	logs := map[string]*root.TransparencyLog{}
	for k, l := range vs.RekorLogs() {
		raw, err := hex.DecodeString(string(l.ID))
		if err != nil {
			t.Fatal(err)
		}
		l.ID = raw
		logs[k] = l
	}
	tr, err := root.NewTrustedRoot(root.TrustedRootMediaType01, vs.FulcioCertificateAuthorities(), vs.CTLogs(), vs.TimestampingAuthorities(), logs)
	if err != nil {
		t.Fatal(err)
	}
	trb, err := tr.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "trusted_root.json"), trb, 0o644); err != nil {
		t.Fatal(err)
	}
	const id, issuer = "release@acme.example", "https://accounts.acme.example"
	d := push(t, addr, "keyless/app:1")
	st, err := statementFor(d, cosignSignPredicateType, json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	e, err := vs.AttestAtTime(id, issuer, st, time.Now().Add(5*time.Minute), true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writeReferrer(ctx, d, bundleV03MediaType, bundleV03MediaType, bundleOf(t, e), map[string]string{annBundlePredicateType: cosignSignPredicateType}, ropts()); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		identity string
		met      bool
	}{{id, true}, {"mallory@acme.example", false}} {
		pol := fmt.Sprintf("trust:\n  require:\n    - repositories: [\"%s/keyless/**\"]\n      signers:\n        - identity: %s\n          issuer: %s\n          trustedRoot: trusted_root.json\n", addr, c.identity, issuer)
		p, err := policy.Parse(filepath.Join(dir, ".shipshape.yaml"), []byte(pol))
		if err != nil {
			t.Fatal(err)
		}
		res, cov, err := (&Analyzer{Policy: p}).Check(ctx, open(t, addr+"/keyless/app:1", ""))
		if err != nil {
			t.Fatal(err)
		}
		if res == nil {
			t.Fatalf("not run: %s", cov.Reason)
		}
		if res.Met != c.met {
			t.Fatalf("identity %s: met=%v, want %v; %v %s; %+v", c.identity, res.Met, c.met, rulesOf(res.Findings), cov.Summary, res.Section.Signatures)
		}
		sig := res.Section.Signatures[0]
		t.Logf("%s: %+v", c.identity, sig.Checks[0])
		if c.met && (sig.Checks[0].Identity != id || !strings.Contains(sig.Checks[0].Transparency, "transparency log inclusion")) {
			t.Errorf("check does not say what it verified: %+v", sig.Checks[0])
		}
	}
}

// legacyKeylessLayer makes the layer annotations cosign writes for a
// keyless legacy .sig signature of payload: certificate, chain, signature
// and the Rekor signed entry timestamp (from the virtual Rekor).
func legacyKeylessLayer(t *testing.T, vs *ca.VirtualSigstore, id, issuer string, payload []byte) map[string]string {
	t.Helper()
	e, err := vs.Sign(id, issuer, payload)
	if err != nil {
		t.Fatal(err)
	}
	vc, _ := e.VerificationContent()
	sc, _ := e.SignatureContent()
	entries, _ := e.TlogEntries()
	tle := entries[0].TransparencyLogEntry()
	logID := hex.EncodeToString(tle.LogId.KeyId)
	set, err := vs.RekorSignPayload(tlog.RekorPayload{Body: base64.StdEncoding.EncodeToString(tle.CanonicalizedBody), IntegratedTime: tle.IntegratedTime, LogIndex: tle.LogIndex, LogID: logID})
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := json.Marshal(map[string]any{"SignedEntryTimestamp": set, "Payload": map[string]any{"body": tle.CanonicalizedBody, "integratedTime": tle.IntegratedTime, "logIndex": tle.LogIndex, "logID": logID}})
	var chain []byte
	for _, c := range vs.FulcioCertificateAuthorities()[0].(*root.FulcioCertificateAuthority).Intermediates {
		chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return map[string]string{
		annCosignSignature:   base64.StdEncoding.EncodeToString(sc.MessageSignatureContent().Signature()),
		annCosignCertificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: vc.Certificate().Raw})),
		annCosignChain:       string(chain),
		annCosignRekorBundle: string(rb),
	}
}

// Keyless legacy .sig signatures (certificate, chain and Rekor SET in the
// layer's annotations), checked against a trusted root and identity.
func TestKeylessLegacySignature(t *testing.T) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	const (
		id     = "release@acme.example"
		issuer = "https://accounts.acme.example"
		digest = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b"
	)
	payload := []byte(`{"critical":{"identity":{"docker-reference":"registry.example/app"},"image":{"docker-manifest-digest":"` + digest + `"},"type":"cosign container image signature"},"optional":null}`)
	ann := legacyKeylessLayer(t, vs, id, issuer, payload)
	noSET := map[string]string{}
	for k, v := range ann {
		if k != annCosignRekorBundle {
			noSET[k] = v
		}
	}
	other, _ := ca.NewVirtualSigstore()
	for _, c := range []struct {
		name   string
		ann    map[string]string
		data   []byte
		signer Signer
		reason string
	}{
		{"verified", ann, payload, Signer{Identity: id, Issuer: issuer, TrustedRoot: vs}, ""},
		{"wrong identity", ann, payload, Signer{Identity: "mallory@acme.example", Issuer: issuer, TrustedRoot: vs}, "wrong identity"},
		{"another trusted root", ann, payload, Signer{Identity: id, Issuer: issuer, TrustedRoot: other}, "does not verify against the trusted root"},
		{"no Rekor entry", noSET, payload, Signer{Identity: id, Issuer: issuer, TrustedRoot: vs}, "no Rekor entry"},
		{"payload edited", ann, []byte(strings.Replace(string(payload), "registry.example/app", "registry.example/evil", 1)), Signer{Identity: id, Issuer: issuer, TrustedRoot: vs}, "payload was changed after signing"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &Found{Kind: KindCosignSignature, Subject: digest, Layer: "sha256:layer", data: c.data, annotations: c.ann}
			s := c.signer
			s.TrustedRootPath = "virtual sigstore"
			ch := Verify(f, &s)
			t.Log(ch.Reason)
			if c.reason == "" {
				if !ch.Verified || ch.Identity != id || !strings.Contains(ch.Transparency, "transparency log") {
					t.Fatalf("rejected or incomplete: %+v", ch)
				}
				return
			}
			if ch.Verified || !strings.Contains(ch.Reason, c.reason) {
				t.Errorf("verified=%v reason %q, want %q", ch.Verified, ch.Reason, c.reason)
			}
		})
	}
}

// Keyless legacy attestations: a DSSE envelope whose certificate and
// Rekor entry are in the layer's annotations.
func TestKeylessLegacyAttestation(t *testing.T) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		t.Fatal(err)
	}
	const (
		id     = "release@acme.example"
		issuer = "https://accounts.acme.example"
		digest = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b"
	)
	st := []byte(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"registry.example/app","digest":{"sha256":"` + strings.TrimPrefix(digest, "sha256:") + `"}}],"predicateType":"https://cyclonedx.org/bom","predicate":{"bomFormat":"CycloneDX"}}`)
	e, err := vs.Attest(id, issuer, st)
	if err != nil {
		t.Fatal(err)
	}
	vc, _ := e.VerificationContent()
	sc, _ := e.SignatureContent()
	env, _ := json.Marshal(sc.EnvelopeContent().RawEnvelope())
	entries, _ := e.TlogEntries()
	tle := entries[0].TransparencyLogEntry()
	logID := hex.EncodeToString(tle.LogId.KeyId)
	set, err := vs.RekorSignPayload(tlog.RekorPayload{Body: base64.StdEncoding.EncodeToString(tle.CanonicalizedBody), IntegratedTime: tle.IntegratedTime, LogIndex: tle.LogIndex, LogID: logID})
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := json.Marshal(map[string]any{"SignedEntryTimestamp": set, "Payload": map[string]any{"body": tle.CanonicalizedBody, "integratedTime": tle.IntegratedTime, "logIndex": tle.LogIndex, "logID": logID}})
	ann := map[string]string{
		annPredicateType:     "https://cyclonedx.org/bom",
		annCosignCertificate: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: vc.Certificate().Raw})),
		annCosignRekorBundle: string(rb),
	}
	for _, c := range []struct {
		name, subject, identity, reason string
	}{
		{"verified", digest, id, ""},
		{"wrong identity", digest, "mallory@acme.example", "wrong identity"},
		{"another digest", "sha256:0000000000000000000000000000000000000000000000000000000000000000", id, "another digest"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &Found{Kind: KindCosignAttestation, Subject: c.subject, PredicateType: "https://cyclonedx.org/bom", Layer: "sha256:layer", data: env, annotations: ann}
			ch := Verify(f, &Signer{Identity: c.identity, Issuer: issuer, TrustedRoot: vs, TrustedRootPath: "virtual sigstore"})
			t.Log(ch.Reason)
			if c.reason == "" {
				if !ch.Verified || ch.PredicateType != "https://cyclonedx.org/bom" || ch.Identity != id {
					t.Fatalf("rejected or incomplete: %+v", ch)
				}
				return
			}
			if ch.Verified || !strings.Contains(ch.Reason, c.reason) {
				t.Errorf("verified=%v reason %q, want %q", ch.Verified, ch.Reason, c.reason)
			}
		})
	}
}
