package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/trust"
)

// DefaultVerifyTimeout bounds POST /v1/verify and the signature checks of
// one admission review (the API server's webhook timeout is 10s at most
// by default: admission uses the smaller AdmissionTimeout).
const (
	DefaultVerifyTimeout    = 2 * time.Minute
	DefaultAdmissionTimeout = 8 * time.Second
)

// VerifyRequest is the body of POST /v1/verify.
type VerifyRequest struct {
	// Image is a registry image (docker://REGISTRY/REPO:TAG or @sha256:…,
	// or a bare name).
	Image       string       `json:"image"`
	Credentials *Credentials `json:"credentials,omitempty"`
}

// VerifyResult is the answer of POST /v1/verify: what `shipshape verify
// --format json` prints.
type VerifyResult struct {
	Image    string                   `json:"image"`
	Digest   string                   `json:"digest,omitempty"`
	Met      bool                     `json:"policyMet"`
	Practice scorecard.PracticeResult `json:"practice"`
	Findings []scorecard.Finding      `json:"findings"`
	Trust    *trust.Section           `json:"trust,omitempty"`
}

// verifyImage judges the image's signatures and attestations (P6) by the
// server's trust policy, like `shipshape verify`.
func (s *Server) verifyImage(ctx context.Context, ref string, kc authn.Keychain) (*VerifyResult, error) {
	r, err := image.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	iopts := image.Options{Insecure: s.cfg.Insecure, Keychain: kc}
	img, err := image.OpenReference(ctx, r, iopts)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	an := &trust.Analyzer{Policy: s.cfg.Policy, Lookup: image.RemoteOptions(ctx, iopts), LookupName: image.NameOptions(s.cfg.Insecure)}
	res, cov, err := an.Check(ctx, img)
	if err != nil {
		return nil, err
	}
	out := &VerifyResult{Image: ref, Findings: []scorecard.Finding{}}
	if img.Digest.Hex != "" {
		out.Digest = img.Digest.String()
	}
	var fs []scorecard.Finding
	if res != nil {
		fs = res.Findings
		out.Trust = res.Section
	}
	fs, covs, _, _ := s.cfg.Policy.Apply(fs, []scorecard.Coverage{cov}, s.cfg.Now())
	out.Findings = append(out.Findings, fs...)
	for _, pr := range scorecard.Evaluate(fs, covs) {
		if pr.ID == scorecard.P6 {
			out.Practice = pr
		}
	}
	out.Met = res != nil && res.Met && out.Practice.Status == scorecard.Pass
	return out, nil
}

func (s *Server) postVerify(w http.ResponseWriter, r *http.Request) {
	var req VerifyRequest
	if !s.decodeBody(w, r, &req, s.writeError) {
		return
	}
	ref, err := registryRef(req.Image)
	if err != nil {
		s.writeError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	var kc authn.Keychain
	if c := req.Credentials; c != nil {
		if kc, err = c.keychain(ref); err != nil {
			s.writeError(w, http.StatusUnprocessableEntity, err.Error())
			return
		}
	}
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.VerifyTimeout)
	defer cancel()
	res, err := s.verifyImage(ctx, ref, kc)
	if err != nil {
		s.metrics.verifications.WithLabelValues("error").Inc()
		if ctx.Err() != nil {
			err = fmt.Errorf("gave up after %s: %w", s.cfg.VerifyTimeout, err)
		}
		s.writeError(w, http.StatusUnprocessableEntity, "verify "+ref+": "+err.Error())
		return
	}
	result := "not_met"
	if res.Met {
		result = "met"
	}
	s.metrics.verifications.WithLabelValues(result).Inc()
	s.log.Info("verified", "image", ref, "digest", res.Digest, "policyMet", res.Met)
	writeJSON(w, http.StatusOK, "application/json", res)
}

// admitTrust checks the signatures of every image of the pod spec that
// a trust.require rule of the policy covers, and returns one actionable
// message per image that does not meet it, and per image whose
// signatures could not be checked (undecided: the fail-open flag
// decides).
func (s *Server) admitTrust(ctx context.Context, spec podSpec, path string) (denials, undecided []string) {
	t := s.cfg.Policy.Trust
	if t == nil || len(t.Require) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.AdmissionTimeout)
	defer cancel()
	where := "trust.require"
	if s.cfg.Policy.File != "" {
		where += " in " + s.cfg.Policy.File
	}
	type verdict struct {
		msg       string
		undecided bool
	}
	seen := map[string]verdict{} // image → its denial ("" when met)
	check := func(field string, cs []container) {
		for i, c := range cs {
			r, err := policy.ParseRef(c.Image)
			if err != nil || c.Image == "" || t.Rule(r.Name) == nil {
				continue // admit() already says what is wrong; no rule: no signers required
			}
			at := fmt.Sprintf("%s.%s[%d] (%q)", path, field, i, c.Name)
			v, ok := seen[c.Image]
			if !ok {
				v.msg, v.undecided = s.trustDenial(ctx, c.Image, where)
				seen[c.Image] = v
			}
			switch {
			case v.msg == "":
			case v.undecided:
				undecided = append(undecided, at+": "+v.msg)
			default:
				denials = append(denials, at+": "+v.msg)
			}
		}
	}
	check("initContainers", spec.InitContainers)
	check("containers", spec.Containers)
	check("ephemeralContainers", spec.EphemeralContainers)
	return denials, undecided
}

// trustDenial is why one image does not meet the trust policy ("" when
// it does); undecided when its signatures could not be checked.
func (s *Server) trustDenial(ctx context.Context, img, where string) (msg string, undecided bool) {
	ref, err := registryRef(img)
	if err != nil {
		return err.Error(), false
	}
	if s.verdicts.met(img, s.cfg.Now()) {
		return "", false
	}
	res, err := s.verifyImage(ctx, ref, nil)
	if err != nil {
		s.metrics.verifications.WithLabelValues("error").Inc()
		if ctx.Err() != nil {
			return fmt.Sprintf("image %q: its signatures could not be checked within %s (%v); retry when the registry answers", img, s.cfg.AdmissionTimeout, err), true
		}
		return fmt.Sprintf("image %q: its signatures could not be checked: %v", img, err), true
	}
	if res.Met {
		s.metrics.verifications.WithLabelValues("met").Inc()
		s.verdicts.remember(img, s.cfg.Now())
		return "", false
	}
	s.metrics.verifications.WithLabelValues("not_met").Inc()
	why := res.Practice.Summary
	if why == "" {
		why = res.Practice.Reason
	}
	var rules []string
	for _, f := range res.Findings {
		if f.Practice == scorecard.P6 && !slicesContains(rules, f.Rule+" "+f.Title) {
			rules = append(rules, f.Rule+" "+f.Title)
		}
	}
	if len(rules) > 0 {
		why += " (" + strings.Join(rules, "; ") + ")"
	}
	digest := res.Digest
	if digest == "" {
		digest = "its digest"
	}
	return fmt.Sprintf("image %q (%s) is not signed as %s requires: %s; sign it with `shipshape sign --key KEY %s` (or cosign sign), then check with `shipshape verify %s`", img, digest, where, why, img, img), false
}

func slicesContains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// verdictCache remembers for a minute which images met the trust policy,
// so that the pods of one rollout do not each ask the registry again.
// Denials are not remembered: an image signed after a denial is admitted
// on the next try.
type verdictCache struct {
	mu sync.Mutex
	m  map[string]time.Time
}

const (
	verdictTTL  = time.Minute
	maxVerdicts = 4096
)

func (c *verdictCache) met(img string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	at, ok := c.m[img]
	return ok && now.Sub(at) < verdictTTL
}

func (c *verdictCache) remember(img string, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxVerdicts {
		c.m = map[string]time.Time{}
	}
	c.m[img] = now
}
