package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/trust"
)

// ExitPolicyNotMet is verify's exit code when the image does not meet the
// trust policy (or cannot be checked).
const ExitPolicyNotMet = 1

type verifyFlags struct {
	config         string
	keys           []string
	identity       string
	identityRegexp string
	issuer         string
	issuerRegexp   string
	trustedRoot    string
	notationCA     string
	notationID     string
	notaryServer   string
	dct            bool
	need           string
	format         string
	platform       string
	insecure       bool
	timeout        time.Duration
}

func (a *app) verifyCommand() *cobra.Command {
	var f verifyFlags
	cmd := &cobra.Command{
		Use:   "verify IMAGE",
		Short: "Check who signed an image (practice P6) and exit non-zero unless the trust policy is met",
		Long: `Find the signatures and attestations attached to the image's exact manifest
digest (and to the index that lists it) — Sigstore bundles through the OCI
referrers API or its sha256-<hex> tag schema, cosign's legacy .sig and .att
tags, Notation signatures; in an OCI layout, what cosign save or a referrer
copy stored there; for a docker-daemon image, in the registry it was pulled
from, by its repo digest — verify them, and judge them against the trust: section of the policy
file, or against the signers given as flags (which replace the policy's).

Keys are PEM public keys (ECDSA P-256/384/521, Ed25519, RSA), as cosign
generate-key-pair writes them. Notation (Notary Project) signatures, JWS or
COSE, are verified with notation-go at the strict level against the CA
certificates and trusted identity given (revocation is not checked). Docker
Content Trust (Notary v1) data is read from --notary-server and verified as
TUF (root trusted on first use, thresholds, expiry, the signed tag's hash);
it counts only with --dct or trust.dct: DCT is retired on Docker Hub after
2026-12-08. Keyless signatures are checked against a
Sigstore trusted_root.json read offline, with the certificate identity and
OIDC issuer (exact or regular expression), the transparency log inclusion and
timestamps the bundle carries.

Exit status: 0 when the policy is met, 1 when it is not (unsigned, wrong
signer, missing attestation, no policy for the repository, or an image that
cannot be checked), 2 on errors.`,
		Example: `  shipshape verify --key cosign.pub registry.example.com/app@sha256:…
  shipshape verify --certificate-identity https://github.com/org/app/.github/workflows/release.yml@refs/heads/main \
    --certificate-oidc-issuer https://token.actions.githubusercontent.com --trusted-root trusted_root.json ghcr.io/org/app:1.2
  shipshape verify --format json registry.example.com/app:1.2   # policy from .shipshape.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runVerify(cmd.Context(), args[0], &f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.config, "config", "", "policy file (default: "+policy.DefaultFile+" in the working directory, if present)")
	fs.StringArrayVar(&f.keys, "key", nil, "public key (PEM) of a required signer; repeat for several")
	fs.StringVar(&f.identity, "certificate-identity", "", "keyless signer: the certificate's identity (SAN)")
	fs.StringVar(&f.identityRegexp, "certificate-identity-regexp", "", "keyless signer: a regular expression the identity must match")
	fs.StringVar(&f.issuer, "certificate-oidc-issuer", "", "keyless signer: the OIDC issuer")
	fs.StringVar(&f.issuerRegexp, "certificate-oidc-issuer-regexp", "", "keyless signer: a regular expression the issuer must match")
	fs.StringVar(&f.trustedRoot, "trusted-root", "", "keyless signer: Sigstore trusted_root.json (read offline)")
	fs.StringVar(&f.notationCA, "notation-ca", "", "Notation signer: PEM CA certificates its signing certificate must chain to")
	fs.StringVar(&f.notationID, "notation-identity", "", "Notation signer: trusted identity (\"x509.subject: C=…, ST=…, O=…, CN=…\"; default: any)")
	fs.StringVar(&f.notaryServer, "notary-server", os.Getenv("DOCKER_CONTENT_TRUST_SERVER"), "Notary v1 server to read Docker Content Trust data from (default: $DOCKER_CONTENT_TRUST_SERVER, else the policy's trust.notaryServer, else none)")
	fs.BoolVar(&f.dct, "dct", false, "count verified Docker Content Trust data as a signer (else the policy's trust.dct decides; DCT is retired on Docker Hub after 2026-12-08)")
	fs.StringVar(&f.need, "need", "any", "with several signers on the command line: any, all, or how many must have signed")
	fs.StringVarP(&f.format, "format", "f", "table", "output format: table, json")
	fs.StringVar(&f.platform, "platform", "", "platform to pick from a multi-platform image, OS/ARCH[/VARIANT] (default: the host's)")
	fs.BoolVar(&f.insecure, "insecure", false, "allow plain-HTTP and unverified-TLS registries")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Minute, "give up after this long")
	return cmd
}

// rule builds a trust rule from the flags; nil when they name no signer.
func (f *verifyFlags) rule() (*policy.TrustRule, error) {
	r := &policy.TrustRule{Repositories: []string{"**"}}
	for _, k := range f.keys {
		r.Signers = append(r.Signers, policy.TrustSigner{Key: k})
	}
	keyless := f.identity != "" || f.identityRegexp != "" || f.issuer != "" || f.issuerRegexp != "" || f.trustedRoot != ""
	if keyless {
		if f.identity == "" && f.identityRegexp == "" || f.issuer == "" && f.issuerRegexp == "" || f.trustedRoot == "" {
			return nil, fmt.Errorf("a keyless signer needs --certificate-identity (or -regexp), --certificate-oidc-issuer (or -regexp) and --trusted-root")
		}
		r.Signers = append(r.Signers, policy.TrustSigner{Identity: f.identity, IdentityRegexp: f.identityRegexp, Issuer: f.issuer, IssuerRegexp: f.issuerRegexp, TrustedRoot: f.trustedRoot})
	}
	if f.notationID != "" && f.notationCA == "" {
		return nil, fmt.Errorf("--notation-identity needs --notation-ca")
	}
	if f.notationCA != "" {
		r.Signers = append(r.Signers, policy.TrustSigner{NotationCA: f.notationCA, NotationIdentity: f.notationID})
	}
	if len(r.Signers) == 0 {
		return nil, nil
	}
	need, err := policy.ParseNeed(f.need, len(r.Signers))
	if err != nil {
		return nil, fmt.Errorf("--%w", err)
	}
	r.Need = need
	for _, rx := range []string{f.identityRegexp, f.issuerRegexp} {
		if _, err := regexp.Compile(rx); err != nil {
			return nil, fmt.Errorf("keyless signer: regexp %q: %w", rx, err)
		}
	}
	return r, nil
}

// verifyResult is verify's JSON output.
type verifyResult struct {
	Image    string                   `json:"image"`
	Digest   string                   `json:"digest,omitempty"`
	Met      bool                     `json:"policyMet"`
	Practice scorecard.PracticeResult `json:"practice"`
	Findings []scorecard.Finding      `json:"findings"`
	Trust    *trust.Section           `json:"trust,omitempty"`
}

func (a *app) runVerify(ctx context.Context, ref string, f *verifyFlags) error {
	if f.format != "table" && f.format != "json" {
		return fmt.Errorf("--format %q: want table or json", f.format)
	}
	if err := image.ParsePlatform(f.platform); err != nil {
		return err
	}
	rule, err := f.rule()
	if err != nil {
		return err
	}
	pol, err := loadPolicy(f.config)
	if err != nil {
		return err
	}
	r, err := image.ParseReference(ref)
	if err != nil {
		return err
	}
	if r.Transport == "" {
		// verify asks registries: a bare name is a registry reference.
		r.Transport = image.Registry
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	img, err := image.OpenReference(ctx, r, image.Options{Platform: f.platform, Insecure: f.insecure})
	if err != nil {
		return err
	}
	defer img.Close()
	an := &trust.Analyzer{Policy: pol, Rule: rule, Lookup: image.RemoteOptions(ctx, image.Options{Insecure: f.insecure}), LookupName: image.NameOptions(f.insecure), NotaryServer: f.notaryServer, DCT: f.dct}
	res, cov, err := an.Check(ctx, img)
	if err != nil {
		return err
	}
	out := verifyResult{Image: ref, Findings: []scorecard.Finding{}}
	if img.Digest.Hex != "" {
		out.Digest = img.Digest.String()
	}
	var fs []scorecard.Finding
	if res != nil {
		fs = res.Findings
		out.Trust = res.Section
	}
	fs, covs, _, _ := pol.Apply(fs, []scorecard.Coverage{cov}, time.Now())
	out.Findings = append(out.Findings, fs...)
	for _, pr := range scorecard.Evaluate(fs, covs) {
		if pr.ID == scorecard.P6 {
			out.Practice = pr
		}
	}
	out.Met = res != nil && res.Met && out.Practice.Status == scorecard.Pass
	if f.format == "json" {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		writeVerifyTable(a.stdout, &out, rule == nil && (pol.Trust == nil || out.Trust == nil || out.Trust.Policy == ""))
	}
	if !out.Met {
		return exitError{ExitPolicyNotMet}
	}
	return nil
}

func writeVerifyTable(w io.Writer, v *verifyResult, noPolicy bool) {
	fmt.Fprintf(w, "P6 %s: %s\n", v.Practice.Title, strings.ToUpper(string(v.Practice.Status)))
	fmt.Fprintf(w, "image   %s\n", v.Image)
	if v.Digest != "" {
		fmt.Fprintf(w, "digest  %s\n", v.Digest)
	}
	if v.Practice.Reason != "" {
		fmt.Fprintf(w, "reason  %s\n", v.Practice.Reason)
	}
	if v.Practice.Summary != "" {
		fmt.Fprintf(w, "summary %s\n", v.Practice.Summary)
	}
	if t := v.Trust; t != nil {
		if t.Policy != "" {
			fmt.Fprintf(w, "policy  %s (need %s of %s)\n", t.Policy, t.Need, strings.Join(t.Signers, "; "))
		}
		for _, group := range []struct {
			name string
			es   []trust.Entry
		}{{"signature", t.Signatures}, {"attestation", t.Attestations}} {
			for _, e := range group.es {
				fmt.Fprintf(w, "\n%s %s (%s) on %s %s via %s\n", group.name, e.Manifest, e.Kind, e.SubjectType, e.Subject, e.Source)
				if e.PredicateType != "" {
					fmt.Fprintf(w, "  predicate    %s\n", e.PredicateType)
				}
				if e.Note != "" {
					fmt.Fprintf(w, "  %s\n", e.Note)
				}
				for _, c := range e.Checks {
					if c.Verified {
						fmt.Fprintf(w, "  VERIFIED by %s\n    digest       %s\n", c.Signer, c.Digest)
						if c.Identity != "" {
							fmt.Fprintf(w, "    identity     %s (issuer %s)\n", c.Identity, c.Issuer)
						}
						fmt.Fprintf(w, "    transparency %s\n", c.Transparency)
						for _, ts := range c.Timestamps {
							fmt.Fprintf(w, "    timestamp    %s\n", ts)
						}
					} else {
						fmt.Fprintf(w, "  not verified by %s: %s\n", c.Signer, c.Reason)
					}
				}
			}
		}
		for _, n := range t.Notes {
			fmt.Fprintf(w, "\nnote: %s\n", n)
		}
	}
	for _, f := range v.Findings {
		fmt.Fprintf(w, "\n%s %s: %s\n  %s\n", f.Rule, f.Severity, f.Title, f.Description)
		if f.Fix != "" {
			fmt.Fprintf(w, "  fix: %s\n", f.Fix)
		}
	}
	if noPolicy && v.Trust != nil {
		fmt.Fprintln(w, "\nno trust policy applies: pass --key (or keyless flags) or add a trust: section to "+policy.DefaultFile)
	}
}
