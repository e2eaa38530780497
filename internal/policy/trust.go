package policy

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/shipshape-dev/shipshape/internal/ignore"
)

// Trust is the trust: section (practice P6): who must have signed the
// images of which repositories, and which attestations they must carry.
//
//	trust:
//	  dct: false                    # whether verified Docker Content Trust data counts as a signer
//	  notaryServer: https://notary.docker.io   # where DCT data is read (none by default)
//	  notaryRootKeys: [4138578720f9…]          # pinned root key ids (else trust on first use)
//	  require:
//	    - repositories: [registry.example.com/team/**]
//	      need: any                 # any (default), all, or a number of signers
//	      signers:
//	        - key: keys/release.pub   # relative to the policy file
//	        - identity: https://github.com/org/app/.github/workflows/release.yml@refs/heads/main
//	          issuer: https://token.actions.githubusercontent.com
//	          trustedRoot: trusted_root.json
//	        - notationCA: notation-ca.pem   # Notation (Notary Project) signatures
//	          notationIdentity: "x509.subject: CN=release, O=Acme"
//	      attestations:
//	        - type: slsa-provenance # or sbom, sbom-cyclonedx, sbom-spdx, openvex, a predicate type URI
//	          builderId: https://github.com/org/app/.github/workflows/build.yml@refs/heads/main
type Trust struct {
	// DCT says whether verified Docker Content Trust (Notary v1) data
	// counts as a signer.
	DCT bool
	// NotaryServer is the Notary v1 server DCT data is read from
	// (https://notary.docker.io for Docker Hub); empty: none is asked.
	NotaryServer string
	// NotaryRootKeys pins the TUF root key ids (as notary key list shows
	// them) one of which must sign the root; empty: trust on first use.
	NotaryRootKeys []string
	Require        []TrustRule
}

// TrustRule is one entry of trust.require.
type TrustRule struct {
	Repositories []string
	// Need is how many signers must have signed: 0 means any one, -1
	// all of them, otherwise that number.
	Need         int
	Signers      []TrustSigner
	Attestations []RequiredAttestation
	Line         int

	repos []*regexp.Regexp
}

// NeedAll is TrustRule.Need for "all".
const NeedAll = -1

// TrustSigner is a key or a keyless identity. Paths are resolved against
// the policy file's directory.
type TrustSigner struct {
	Key string
	// NotationCA is the PEM file of the CA certificates a Notation
	// signature must chain to; NotationIdentity the trusted identity
	// ("x509.subject: CN=…, O=…"; empty: any).
	NotationCA, NotationIdentity string
	// NotationTrustPolicy and NotationTrustStore are notation's own
	// trustpolicy.json and the directory holding truststore/x509/….
	NotationTrustPolicy, NotationTrustStore string

	Identity, IdentityRegexp string
	Issuer, IssuerRegexp     string
	TrustedRoot              string
	Line                     int
}

// RequiredAttestation is an attestation the image must carry, signed by
// one of the rule's signers.
type RequiredAttestation struct {
	// Type is slsa-provenance, sbom (CycloneDX or SPDX), sbom-cyclonedx,
	// sbom-spdx, openvex, or a predicate type URI.
	Type string
	// BuilderID, for SLSA provenance, is the builder id it must name.
	BuilderID string
	Line      int
}

// Rule returns the first trust.require entry whose repositories match repo
// (a normalised repository name, such as registry.example.com/team/app),
// or nil.
func (t *Trust) Rule(repo string) *TrustRule {
	if t == nil {
		return nil
	}
	for i := range t.Require {
		for _, re := range t.Require[i].repos {
			if re.MatchString(repo) {
				return &t.Require[i]
			}
		}
	}
	return nil
}

// NeedString renders Need as written in the policy.
func (r *TrustRule) NeedString() string {
	switch r.Need {
	case 0:
		return "any"
	case NeedAll:
		return "all"
	}
	return strconv.Itoa(r.Need)
}

var (
	trustSchema       = schema{"dct": nil, "notaryServer": nil, "notaryRootKeys": nil, "require": nil}
	trustRuleSchema   = schema{"repositories": nil, "need": nil, "signers": nil, "attestations": nil}
	trustSignerSchema = schema{"key": nil, "identity": nil, "identityRegexp": nil, "issuer": nil, "issuerRegexp": nil, "trustedRoot": nil, "notationCA": nil, "notationIdentity": nil, "notationTrustPolicy": nil, "notationTrustStore": nil}
	trustAttSchema    = schema{"type": nil, "builderId": nil}
)

// parseTrust reads the trust: mapping n of the policy file name.
func parseTrust(name string, n *yaml.Node) (*Trust, error) {
	if err := checkKeys(n, trustSchema, "trust"); err != nil {
		return nil, err
	}
	var y struct {
		DCT            bool        `yaml:"dct"`
		NotaryServer   string      `yaml:"notaryServer"`
		NotaryRootKeys []string    `yaml:"notaryRootKeys"`
		Require        []yaml.Node `yaml:"require"`
	}
	if err := n.Decode(&y); err != nil {
		return nil, fmt.Errorf("line %d: trust: %w", n.Line, err)
	}
	t := &Trust{DCT: y.DCT, NotaryServer: y.NotaryServer, NotaryRootKeys: y.NotaryRootKeys}
	dir := filepath.Dir(name)
	for _, rn := range y.Require {
		rn := rn
		if rn.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("line %d: trust.require: want a mapping per entry", rn.Line)
		}
		if err := checkKeys(&rn, trustRuleSchema, "trust.require"); err != nil {
			return nil, err
		}
		var ry struct {
			Repositories []string    `yaml:"repositories"`
			Need         string      `yaml:"need"`
			Signers      []yaml.Node `yaml:"signers"`
			Attestations []yaml.Node `yaml:"attestations"`
		}
		if err := rn.Decode(&ry); err != nil {
			return nil, fmt.Errorf("line %d: trust.require: %w", rn.Line, err)
		}
		r := TrustRule{Repositories: ry.Repositories, Line: rn.Line}
		if len(r.Repositories) == 0 {
			return nil, fmt.Errorf("line %d: trust.require: repositories is empty (use [\"**\"] for every image)", rn.Line)
		}
		for _, g := range r.Repositories {
			re, err := ignore.CompileGlob(g)
			if err != nil {
				return nil, fmt.Errorf("line %d: trust.require: repositories %q: %w", rn.Line, g, err)
			}
			r.repos = append(r.repos, re)
		}
		for _, sn := range ry.Signers {
			sn := sn
			if err := checkKeys(&sn, trustSignerSchema, "trust.require.signers"); err != nil {
				return nil, err
			}
			var s TrustSigner
			var sy struct {
				Key            string `yaml:"key"`
				Identity       string `yaml:"identity"`
				IdentityRegexp string `yaml:"identityRegexp"`
				Issuer         string `yaml:"issuer"`
				IssuerRegexp   string `yaml:"issuerRegexp"`
				TrustedRoot    string `yaml:"trustedRoot"`
				NotationCA     string `yaml:"notationCA"`
				NotationID     string `yaml:"notationIdentity"`
				NotationTP     string `yaml:"notationTrustPolicy"`
				NotationTS     string `yaml:"notationTrustStore"`
			}
			if err := sn.Decode(&sy); err != nil {
				return nil, fmt.Errorf("line %d: trust.require.signers: %w", sn.Line, err)
			}
			s = TrustSigner{Key: resolve(dir, sy.Key), Identity: sy.Identity, IdentityRegexp: sy.IdentityRegexp,
				Issuer: sy.Issuer, IssuerRegexp: sy.IssuerRegexp, TrustedRoot: resolve(dir, sy.TrustedRoot), Line: sn.Line,
				NotationCA: resolve(dir, sy.NotationCA), NotationIdentity: sy.NotationID,
				NotationTrustPolicy: resolve(dir, sy.NotationTP), NotationTrustStore: resolve(dir, sy.NotationTS)}
			keyless := s.Identity != "" || s.IdentityRegexp != "" || s.Issuer != "" || s.IssuerRegexp != ""
			notation := s.NotationCA != "" || s.NotationIdentity != ""
			notationFiles := s.NotationTrustPolicy != "" || s.NotationTrustStore != ""
			kinds := 0
			for _, b := range []bool{s.Key != "", keyless, notation, notationFiles} {
				if b {
					kinds++
				}
			}
			switch {
			case kinds > 1:
				return nil, fmt.Errorf("line %d: trust.require.signers: a signer is a key, a keyless identity, a Notation CA or Notation trust policy files, not several", sn.Line)
			case kinds == 0:
				return nil, fmt.Errorf("line %d: trust.require.signers: want key, identity (or identityRegexp) with issuer (or issuerRegexp) and trustedRoot, notationCA, or notationTrustPolicy with notationTrustStore", sn.Line)
			case notationFiles && (s.NotationTrustPolicy == "" || s.NotationTrustStore == ""):
				return nil, fmt.Errorf("line %d: trust.require.signers: notationTrustPolicy and notationTrustStore go together", sn.Line)
			case notation && s.NotationCA == "":
				return nil, fmt.Errorf("line %d: trust.require.signers: notationIdentity needs notationCA", sn.Line)
			case keyless && (s.Identity == "" && s.IdentityRegexp == "" || s.Issuer == "" && s.IssuerRegexp == "" || s.TrustedRoot == ""):
				return nil, fmt.Errorf("line %d: trust.require.signers: a keyless signer needs identity (or identityRegexp), issuer (or issuerRegexp) and trustedRoot", sn.Line)
			}
			for _, rx := range []string{s.IdentityRegexp, s.IssuerRegexp} {
				if _, err := regexp.Compile(rx); err != nil {
					return nil, fmt.Errorf("line %d: trust.require.signers: regexp %q: %w", sn.Line, rx, err)
				}
			}
			r.Signers = append(r.Signers, s)
		}
		if len(r.Signers) == 0 {
			return nil, fmt.Errorf("line %d: trust.require: no signers", rn.Line)
		}
		need, err := ParseNeed(ry.Need, len(r.Signers))
		if err != nil {
			return nil, fmt.Errorf("line %d: trust.require: %w", rn.Line, err)
		}
		r.Need = need
		for _, an := range ry.Attestations {
			an := an
			if err := checkKeys(&an, trustAttSchema, "trust.require.attestations"); err != nil {
				return nil, err
			}
			var ay struct {
				Type      string `yaml:"type"`
				BuilderID string `yaml:"builderId"`
			}
			if err := an.Decode(&ay); err != nil {
				return nil, fmt.Errorf("line %d: trust.require.attestations: %w", an.Line, err)
			}
			if ay.Type == "" {
				return nil, fmt.Errorf("line %d: trust.require.attestations: type is missing", an.Line)
			}
			r.Attestations = append(r.Attestations, RequiredAttestation{Type: ay.Type, BuilderID: ay.BuilderID, Line: an.Line})
		}
		t.Require = append(t.Require, r)
	}
	return t, nil
}

// ParseNeed reads how many of n signers must sign: "any" (or empty) is 0,
// "all" is NeedAll, otherwise a number from 1 to n.
func ParseNeed(s string, n int) (int, error) {
	switch need := strings.ToLower(strings.TrimSpace(s)); need {
	case "", "any":
		return 0, nil
	case "all":
		return NeedAll, nil
	default:
		k, err := strconv.Atoi(need)
		if err != nil || k < 1 || k > n {
			return 0, fmt.Errorf("need %q: want any, all or a number from 1 to %d (the signers listed)", s, n)
		}
		return k, nil
	}
}

func resolve(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}
