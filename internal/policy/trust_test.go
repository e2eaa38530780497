package policy

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestTrustSection(t *testing.T) {
	const file = "/etc/team/.shipshape.yaml"
	p, err := Parse(file, []byte(`
trust:
  dct: true
  require:
    - repositories: [registry.example.com/team/**, docker.io/library/alpine]
      need: all
      signers:
        - key: keys/release.pub
        - identity: https://github.com/org/app/.github/workflows/release.yml@refs/heads/main
          issuerRegexp: ^https://token\.actions\.githubusercontent\.com$
          trustedRoot: /opt/trusted_root.json
      attestations:
        - type: slsa-provenance
          builderId: https://github.com/org/app/.github/workflows/build.yml@refs/heads/main
        - type: sbom
    - repositories: ["**"]
      need: 1
      signers:
        - key: /keys/any.pub
        - notationCA: notation/ca.pem
          notationIdentity: "x509.subject: C=US, ST=WA, O=Acme, CN=release"
`))
	if err != nil {
		t.Fatal(err)
	}
	tr := p.Trust
	if tr == nil || !tr.DCT || len(tr.Require) != 2 {
		t.Fatalf("trust = %+v", tr)
	}
	r := tr.Rule("registry.example.com/team/app")
	if r == nil || r.Line != 5 || r.Need != NeedAll || r.NeedString() != "all" {
		t.Fatalf("rule for team/app: %+v", r)
	}
	if got, want := r.Signers[0].Key, filepath.Join("/etc/team", "keys/release.pub"); got != want {
		t.Errorf("key path %q, want %q (relative to the policy file)", got, want)
	}
	if r.Signers[1].TrustedRoot != "/opt/trusted_root.json" || r.Signers[1].IssuerRegexp == "" {
		t.Errorf("keyless signer: %+v", r.Signers[1])
	}
	if len(r.Attestations) != 2 || r.Attestations[0].BuilderID == "" || r.Attestations[1].Type != "sbom" {
		t.Errorf("attestations: %+v", r.Attestations)
	}
	if got := tr.Rule("docker.io/library/alpine"); got != r {
		t.Errorf("alpine matched %+v", got)
	}
	if got := tr.Rule("quay.io/other/thing"); got == nil || got.Need != 1 || got.Signers[0].Key != "/keys/any.pub" ||
		got.Signers[1].NotationCA != "/etc/team/notation/ca.pem" || !strings.Contains(got.Signers[1].NotationIdentity, "CN=release") {
		t.Errorf("catch-all: %+v", got)
	}
	if (&Trust{}).Rule("x") != nil || (*Trust)(nil).Rule("x") != nil {
		t.Error("an empty trust section matches")
	}
}

func TestTrustSectionErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"trust:\n  requires: []\n", `line 2: unknown key "requires" in trust`},
		{"trust:\n  require:\n    - repositories: [a]\n      signer: []\n", `unknown key "signer" in trust.require`},
		{"trust:\n  require:\n    - repositories: [a]\n", "no signers"},
		{"trust:\n  require:\n    - signers: [{key: k.pub}]\n", "repositories is empty"},
		{"trust:\n  require:\n    - repositories: [a]\n      signers: [{key: k.pub, identity: x}]\n", "not several"},
		{"trust:\n  require:\n    - repositories: [a]\n      signers: [{identity: x, issuer: y}]\n", "needs identity (or identityRegexp), issuer (or issuerRegexp) and trustedRoot"},
		{"trust:\n  require:\n    - repositories: [a]\n      signers: [{identityRegexp: '(', issuer: y, trustedRoot: r}]\n", "regexp"},
		{"trust:\n  require:\n    - repositories: [a]\n      need: 3\n      signers: [{key: k.pub}]\n", `need "3": want any, all or a number from 1 to 1`},
		{"trust:\n  require:\n    - repositories: [a]\n      signers: [{key: k.pub}]\n      attestations: [{builderId: x}]\n", "type is missing"},
		{"trust:\n  require:\n    - repositories: [a]\n      signers: [{key: k.pub, pem: x}]\n", `unknown key "pem"`},
		{"trust:\n  require:\n    - repositories: [a]\n      signers: [{key: k.pub, notationCA: ca.pem}]\n", "not several"},
		{"trust:\n  require:\n    - repositories: [a]\n      signers: [{notationIdentity: x}]\n", "notationIdentity needs notationCA"},
	} {
		_, err := Parse("p.yaml", []byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.yaml, err, c.want)
		}
	}
}
