// Package trust is practice P6, content trust: it finds the signatures
// and attestations attached to the exact manifest digest of a registry
// image (OCI 1.1 referrers or their tag schema, cosign's legacy .sig and
// .att tags, Sigstore bundles), verifies them with sigstore-go against the
// keys and keyless identities the policy's trust: section requires, and
// signs and attests images (Sign, Attest) the way cosign does.
package trust

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/rules"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// SectionName is the report section the analyzer writes.
const SectionName = "trust"

// Analyzer judges P6. It needs the network: signatures live in the
// registry next to the image.
type Analyzer struct {
	analyze.NoFiles
	// Policy holds the trust: section (nil or without one: no policy).
	Policy *policy.Policy
	// Rule, when set, is used for every image instead of the policy's
	// (shipshape verify --key …).
	Rule *policy.TrustRule
	// Local says the image is not in a registry: the analyzer then needs
	// no network (it reads an OCI layout, or says why it cannot check).
	Local bool
	// Lookup, when set, allows looking up a docker-daemon image's
	// signatures in the registry it was pulled from (by its repo digest),
	// with these options; nil when the scan is offline.
	Lookup     []remote.Option
	LookupName []name.Option
	// NotaryServer, when set, is asked for the image's Docker Content
	// Trust (Notary v1) data; else the policy's trust.notaryServer.
	NotaryServer string
	// DCT makes verified DCT data count as a signer (else the policy's
	// trust.dct decides).
	DCT bool
	// HTTPClient asks the Notary server (nil: a client with a timeout).
	HTTPClient *http.Client
	// Now is the clock TUF expiry is judged by (nil: time.Now).
	Now func() time.Time
}

// Name implements analyze.Analyzer.
func (*Analyzer) Name() string { return "trust" }

// Version implements analyze.Analyzer.
func (*Analyzer) Version() string { return "1" }

// Needs implements analyze.Capable.
func (a *Analyzer) Needs() analyze.Needs { return analyze.Needs{Network: !a.Local} }

// Practices implements analyze.Capable.
func (*Analyzer) Practices() []scorecard.Practice { return []scorecard.Practice{scorecard.P6} }

// Entry is one signature or attestation with its verification results.
type Entry struct {
	*Found
	// Verified is true when at least one signer's check verified it.
	Verified bool    `json:"verified"`
	Checks   []Check `json:"checks,omitempty"`
	// Note says why it was not verified when no check ran.
	Note string `json:"note,omitempty"`
}

// Section is the report's trust section.
type Section struct {
	Reference string    `json:"reference"`
	Subjects  []Subject `json:"subjects"`
	// Policy names the trust.require entry applied ("" without one).
	Policy       string   `json:"policy,omitempty"`
	Need         string   `json:"need,omitempty"`
	Signers      []string `json:"signers,omitempty"`
	Signatures   []Entry  `json:"signatures"`
	Attestations []Entry  `json:"attestations"`
	Notes        []string `json:"notes,omitempty"`
}

// MarshalJSON renders a subject as digest and type.
func (s Subject) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Digest string `json:"digest"`
		Type   string `json:"type"`
	}{s.Digest.String(), s.Type})
}

// Finish implements analyze.Analyzer.
func (a *Analyzer) Finish(ctx context.Context, in *analyze.Input) (*analyze.Output, error) {
	res, cov, err := a.Check(ctx, in.Image)
	if err != nil {
		return nil, err
	}
	out := &analyze.Output{Coverage: []scorecard.Coverage{cov}}
	if res != nil {
		out.Findings = res.Findings
		out.Sections = map[string]any{SectionName: res.Section}
	}
	return out, nil
}

// Result is P6's verdict on one image.
type Result struct {
	Findings []scorecard.Finding
	Section  *Section
	// Met is true when a policy applied and is satisfied.
	Met bool
}

// Check finds and verifies the image's signatures and attestations and
// judges them against the policy. A nil Result comes with a coverage that
// did not run, saying why.
func (a *Analyzer) Check(ctx context.Context, img *image.Image) (*Result, scorecard.Coverage, error) {
	cov := scorecard.Coverage{Practice: scorecard.P6, FailAt: scorecard.Medium}
	var (
		dct      *Entry
		sec      = &Section{Signatures: []Entry{}, Attestations: []Entry{}}
		found    []*Found
		repoName string // for the policy's repository globs
		subject  string // for messages
	)
	src := img.Registry
	if src == nil && img.Transport == image.Daemon && len(img.RepoDigests) > 0 {
		if a.Lookup == nil {
			cov.Reason = fmt.Sprintf("the Engine pulled this image as %s, but the scan is offline: its registry was not asked for signatures (run without --offline, or verify %s)", img.RepoDigests[0], img.RepoDigests[0])
			return nil, cov, nil
		}
		d, err := name.NewDigest(img.RepoDigests[0], a.LookupName...)
		if err != nil {
			cov.Reason = fmt.Sprintf("repo digest %q: %v", img.RepoDigests[0], err)
			return nil, cov, nil
		}
		src = &image.RegistrySource{Ref: d, Options: a.Lookup}
		h, _ := v1.NewHash(d.DigestStr())
		img = &image.Image{Digest: h, Registry: src, Reference: img.Reference}
		sec.Notes = append(sec.Notes, fmt.Sprintf("a docker-daemon image: signatures looked up in its registry by the repo digest %s the Engine recorded", d))
	}
	switch {
	case src != nil:
		repo := src.Ref.Context()
		sec.Reference, repoName = src.Ref.String(), repo.Name()
		subs, notes := Subjects(src.Ref, img.Digest, src.Options)
		sec.Subjects = subs
		fs, dnotes, err := Discover(ctx, repo, subs, src.Options)
		if err != nil {
			cov.Reason = fmt.Sprintf("could not list the signatures of %s: %v (check registry access; rerun when it answers)", img.Digest, err)
			return nil, cov, nil
		}
		found, sec.Notes = fs, append(append(sec.Notes, notes...), dnotes...)
		subject = fmt.Sprintf("%s@%s", repo.Name(), img.Digest)
		dct = a.checkDCT(ctx, repo.Name(), subs, sec)
	case img.Layout != nil && img.Digest.Hex != "":
		sec.Reference = img.Reference
		sec.Subjects = LayoutSubjects(img.Layout, img.Digest)
		found, sec.Notes = DiscoverLayout(img.Layout, sec.Subjects)
		for _, f := range found {
			f.repository = "oci-layout.local/image"
		}
		// A layout has no repository: the policy matches the name it
		// was saved under, when it has one.
		if len(img.RepoTags) > 0 {
			repoName = img.RepoTags[0]
		}
		subject = fmt.Sprintf("%s (%s)", img.Reference, img.Digest)
	default:
		cov.Reason = noRegistryReason(img)
		return nil, cov, nil
	}

	rule := a.Rule
	if rule == nil && a.Policy != nil {
		name := repoName
		if r, err := policy.ParseRef(name); err == nil {
			name = r.Name
		}
		rule = a.Policy.Trust.Rule(name)
		if t := a.Policy.Trust; t != nil && t.DCT && t.NotaryServer == "" && a.NotaryServer == "" {
			sec.Notes = append(sec.Notes, "trust.dct is set, but no trust.notaryServer says where to read Docker Content Trust data: none was read. "+DCTRetirement)
		}
	}
	var signers []*Signer
	if rule != nil {
		var err error
		if signers, err = LoadSigners(rule); err != nil {
			return nil, cov, err
		}
		sec.Need = rule.NeedString()
		if a.Rule == nil && a.Policy != nil {
			sec.Policy = fmt.Sprintf("%s:%d", a.Policy.File, rule.Line)
		} else {
			sec.Policy = "command line"
		}
		for _, s := range signers {
			sec.Signers = append(sec.Signers, s.String())
		}
	}

	signedBy := map[int]bool{}
	for _, f := range found {
		if f.Kind == KindOther {
			continue
		}
		e := Entry{Found: f}
		if len(signers) == 0 {
			e.Note = "not verified: no trust policy names a key or identity for this repository"
		}
		for i, s := range signers {
			c := Verify(f, s)
			e.Checks = append(e.Checks, c)
			if c.Verified {
				e.Verified = true
				if f.IsSignature() {
					signedBy[i] = true
				}
			}
		}
		if f.IsSignature() {
			sec.Signatures = append(sec.Signatures, e)
		} else {
			sec.Attestations = append(sec.Attestations, e)
		}
	}
	dctCounts := a.DCT || a.Policy != nil && a.Policy.Trust != nil && a.Policy.Trust.DCT
	dctOK := false
	if dct != nil {
		sec.Signatures = append(sec.Signatures, *dct)
		dctOK = dct.Verified && dctCounts
		if dct.Verified && !dctCounts {
			sec.Notes = append(sec.Notes, "the Docker Content Trust data verifies, but it does not count: trust.dct is false")
		}
		if len(sec.Signatures) == 1 {
			sec.Notes = append(sec.Notes, "the only trust data is Docker Content Trust. "+DCTRetirement)
		} else {
			sec.Notes = append(sec.Notes, DCTRetirement)
		}
	}
	r := &Result{Section: sec}
	cov.Ran = true
	cov.Metrics = map[string]any{"signatures": len(sec.Signatures), "attestations": len(sec.Attestations), "signersSatisfied": len(signedBy)}
	evidence := func() map[string]any {
		return map[string]any{"digest": img.Digest.String(), "signatures": summarize(sec.Signatures), "attestations": summarize(sec.Attestations)}
	}

	if rule == nil {
		if len(sec.Signatures) == 0 {
			r.Findings = append(r.Findings, rules.Finding("SS-P6-001", scorecard.Finding{
				Description: fmt.Sprintf("No signature is attached to %s (%d attestations found). Nothing shows who published it.", subject, len(sec.Attestations)),
				Evidence:    evidence(),
				Fix:         fmt.Sprintf("shipshape sign %s --key cosign.key (or cosign sign), then require the key in .shipshape.yaml trust:", subject),
			}))
			cov.Summary = "unsigned"
			return r, cov, nil
		}
		r.Findings = append(r.Findings, rules.Finding("SS-P6-003", scorecard.Finding{
			Description: fmt.Sprintf("%d signatures and %d attestations are attached to %s, but no trust policy names who must have signed, so none was verified.", len(sec.Signatures), len(sec.Attestations), subject),
			Evidence:    evidence(),
			Fix:         "add a trust: section to .shipshape.yaml naming the signer's key or keyless identity (or run shipshape verify --key cosign.pub)",
		}))
		cov.Summary = fmt.Sprintf("%d signatures found, none verified: no trust policy", len(sec.Signatures))
		return r, cov, nil
	}

	need := rule.Need
	switch need {
	case 0:
		need = 1
	case policy.NeedAll:
		need = len(signers)
	}
	var by []string
	for i := range signers {
		if signedBy[i] {
			by = append(by, signers[i].String())
		}
	}
	satisfied := len(signedBy)
	if dctOK {
		satisfied++
		by = append(by, dct.Checks[0].Signer)
	}
	if satisfied < need {
		desc := fmt.Sprintf("%s needs signatures of %s of %d signers (%s); %d verified.", subject, rule.NeedString(), len(signers), sec.Policy, satisfied)
		if len(sec.Signatures) == 0 {
			desc = fmt.Sprintf("%s is not signed, and %s requires signatures of %s of %d signers.", subject, sec.Policy, rule.NeedString(), len(signers))
		} else if reasons := failReasons(sec.Signatures); reasons != "" {
			desc += " " + reasons
		}
		r.Findings = append(r.Findings, rules.Finding("SS-P6-002", scorecard.Finding{
			Description: desc, Evidence: evidence(),
			Fix: fmt.Sprintf("sign %s with a required key or identity (shipshape sign … --key KEY), or fix the policy at %s", subject, sec.Policy),
		}))
	}
	for _, want := range rule.Attestations {
		if ok, why := attested(sec.Attestations, want); !ok {
			r.Findings = append(r.Findings, rules.Finding("SS-P6-004", scorecard.Finding{
				Description: fmt.Sprintf("%s requires a verified %s attestation: %s.", sec.Policy, want.Type, why),
				Evidence:    evidence(),
				Fix:         fmt.Sprintf("attach it signed by a required signer (shipshape attest %s --key KEY --sbom for an SBOM; your builder's provenance for SLSA)", subject),
			}))
		}
	}
	if len(r.Findings) == 0 {
		r.Met = true
		cov.Summary = fmt.Sprintf("signed by %s (%s of %d required)", strings.Join(by, "; "), rule.NeedString(), len(signers))
	} else {
		cov.Summary = fmt.Sprintf("trust policy not met: %d of %d signers verified", satisfied, len(signers))
	}
	return r, cov, nil
}

func noRegistryReason(img *image.Image) string {
	switch img.Transport {
	case image.Daemon:
		return "the Engine has no registry digest for this image (built locally, never pushed or pulled), so its signatures cannot be looked up; push it and scan it from its registry by digest (shipshape scan REGISTRY/REPO@sha256:…)"
	case image.DockerArchive:
		return fmt.Sprintf("a %s image carries no registry manifest digest, so its signatures cannot be looked up; scan it from its registry by digest (shipshape scan REGISTRY/REPO@sha256:…)", img.Transport)
	case image.OCILayout, image.OCIArchive:
		return "the OCI layout gives no manifest digest for the image; scan the image from its registry"
	}
	return fmt.Sprintf("a %s input has no signatures to check", img.Transport)
}

// summarize lists entries for finding evidence.
func summarize(es []Entry) []string {
	var out []string
	for _, e := range es {
		s := fmt.Sprintf("%s %s via %s", e.Kind, e.Manifest, e.Source)
		if e.PredicateType != "" {
			s += " predicate " + e.PredicateType
		}
		switch {
		case e.Verified:
			s += ": verified"
		case e.Note != "":
			s += ": " + e.Note
		default:
			s += ": not verified"
		}
		out = append(out, s)
	}
	return out
}

// failReasons says why each signature failed, once per distinct reason.
func failReasons(es []Entry) string {
	var rs []string
	for _, e := range es {
		if e.Verified {
			continue
		}
		for _, c := range e.Checks {
			r := fmt.Sprintf("%s: %s", c.Signer, c.Reason)
			if !slices.Contains(rs, r) {
				rs = append(rs, r)
			}
		}
	}
	if len(rs) == 0 {
		return ""
	}
	return "Not verified: " + strings.Join(rs, "; ") + "."
}

// attested reports whether a verified attestation meets want.
func attested(es []Entry, want policy.RequiredAttestation) (bool, string) {
	seen := 0
	var builders []string
	for _, e := range es {
		for _, c := range e.Checks {
			if !c.Verified || !predicateMatches(want.Type, c.PredicateType) {
				continue
			}
			seen++
			if want.BuilderID == "" {
				return true, ""
			}
			b := builderID(c.Predicate)
			if b == want.BuilderID {
				return true, ""
			}
			builders = append(builders, fmt.Sprintf("%q", b))
		}
	}
	if seen == 0 {
		return false, fmt.Sprintf("none of the %d attestations found is a %s verified by a required signer", len(es), want.Type)
	}
	return false, fmt.Sprintf("the verified provenance names builder %s, not %q", strings.Join(builders, ", "), want.BuilderID)
}

func predicateMatches(want, got string) bool {
	c := ClassifyPredicate(got)
	switch want {
	case "sbom":
		return c == "sbom-cyclonedx" || c == "sbom-spdx"
	case "slsa-provenance", "sbom-cyclonedx", "sbom-spdx", "openvex":
		return c == want
	}
	return got == want
}

// builderID reads the builder id of SLSA provenance v0.2
// (builder.id) or v1 (runDetails.builder.id).
func builderID(pred json.RawMessage) string {
	var p struct {
		Builder struct {
			ID string `json:"id"`
		} `json:"builder"`
		RunDetails struct {
			Builder struct {
				ID string `json:"id"`
			} `json:"builder"`
		} `json:"runDetails"`
	}
	if json.Unmarshal(pred, &p) != nil {
		return ""
	}
	if p.RunDetails.Builder.ID != "" {
		return p.RunDetails.Builder.ID
	}
	return p.Builder.ID
}

// checkDCT reads the repository's Docker Content Trust data when a Notary
// server is configured, for each subject until one verifies.
func (a *Analyzer) checkDCT(ctx context.Context, repo string, subs []Subject, sec *Section) *Entry {
	server := a.NotaryServer
	if server == "" && a.Policy != nil && a.Policy.Trust != nil {
		server = a.Policy.Trust.NotaryServer
	}
	if server == "" {
		return nil
	}
	hc := a.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	var pins []string
	if a.Policy != nil && a.Policy.Trust != nil {
		pins = a.Policy.Trust.NotaryRootKeys
	}
	var e *Entry
	for _, s := range subs {
		f, c := CheckDCT(ctx, hc, server, dctGUN(repo), s.Digest, now, pins)
		f.SubjectType = s.Type
		if c.Reason == errNoTrustData.Error() {
			sec.Notes = append(sec.Notes, fmt.Sprintf("%s has no Docker Content Trust data for %s", server, dctGUN(repo)))
			return nil
		}
		e = &Entry{Found: f, Verified: c.Verified, Checks: []Check{c}}
		if c.Verified {
			break
		}
	}
	return e
}

// LoadSigners loads the keys and trusted roots a rule names.
func LoadSigners(r *policy.TrustRule) ([]*Signer, error) {
	var out []*Signer
	roots := map[string]root.TrustedMaterial{}
	for _, ts := range r.Signers {
		s := &Signer{Identity: ts.Identity, IdentityRegexp: ts.IdentityRegexp, Issuer: ts.Issuer, IssuerRegexp: ts.IssuerRegexp, TrustedRootPath: ts.TrustedRoot}
		switch {
		case ts.Key != "":
			k, err := LoadPublicKey(ts.Key)
			if err != nil {
				return nil, fmt.Errorf("trust policy signer (line %d): %w", ts.Line, err)
			}
			s.Key = k
		case ts.NotationTrustPolicy != "":
			ns, err := LoadNotationPolicy(ts.NotationTrustPolicy, ts.NotationTrustStore)
			if err != nil {
				return nil, fmt.Errorf("trust policy signer (line %d): %w", ts.Line, err)
			}
			s.Notation = ns
		case ts.NotationCA != "":
			cas, err := LoadNotationCAs(ts.NotationCA)
			if err != nil {
				return nil, fmt.Errorf("trust policy signer (line %d): %w", ts.Line, err)
			}
			s.Notation = &NotationSigner{CAs: cas, CAPath: ts.NotationCA, Identity: ts.NotationIdentity}
		default:
			tr, ok := roots[ts.TrustedRoot]
			if !ok {
				t, err := root.NewTrustedRootFromPath(ts.TrustedRoot)
				if err != nil {
					return nil, fmt.Errorf("trust policy signer (line %d): trusted root %s: %w", ts.Line, ts.TrustedRoot, err)
				}
				tr = t
				roots[ts.TrustedRoot] = t
			}
			s.TrustedRoot = tr
		}
		out = append(out, s)
	}
	return out, nil
}
