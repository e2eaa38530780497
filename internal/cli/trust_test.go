package cli_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/testenv"
	"github.com/shipshape-dev/shipshape/internal/trust"
)

// keyPair writes a cosign-format key pair (encrypted private key, PEM
// public key) and returns their paths.
func keyPair(t *testing.T, pass string) (priv, pub string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := trust.EncryptPrivateKey(k, []byte(pass))
	if err != nil {
		t.Fatal(err)
	}
	pubb, err := trust.MarshalPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	priv, pub = filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
	if err := os.WriteFile(priv, pb, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pub, pubb, 0o644); err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

// sign, verify and attest on the command line, against a real registry;
// scan reports P6 with the trust section.
func TestSignVerifyAttestCLI(t *testing.T) {
	host := testenv.Registry(t)
	ref := host + "/team/signed:1"
	r, _ := name.ParseReference(ref, name.Insecure)
	if err := remote.Write(r, platformImage(t, "amd64", 1)); err != nil {
		t.Fatal(err)
	}
	priv, pub := keyPair(t, "s3cret")
	_, otherPub := keyPair(t, "x")
	t.Setenv(trust.PasswordEnv, "s3cret")

	// Unsigned: verify fails, scan fails P6 at medium.
	res := run(t, "verify", "--insecure", "--key", pub, ref)
	if res.code != 1 || !strings.Contains(res.stdout, "SS-P6-002") || !strings.Contains(res.stdout, "FAIL") {
		t.Fatalf("verify unsigned: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	rep := scanJSON(t, "docker://"+ref, "--insecure")
	if p := practice(rep, scorecard.P6); p.Status != scorecard.Fail {
		t.Errorf("scan of an unsigned image: P6 %s (%s)", p.Status, p.Summary)
	}

	// A wrong passphrase is refused with the variable's name.
	t.Setenv(trust.PasswordEnv, "wrong")
	if res := run(t, "sign", "--insecure", "--key", priv, ref); res.code != 2 || !strings.Contains(res.stderr, trust.PasswordEnv) {
		t.Errorf("sign with a wrong passphrase: exit %d %s", res.code, res.stderr)
	}
	t.Setenv(trust.PasswordEnv, "s3cret")
	if res := run(t, "sign", "--insecure", "--key", priv, ref); res.code != 0 || !strings.Contains(res.stdout, "signed "+host+"/team/signed@sha256:") {
		t.Fatalf("sign: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	if res := run(t, "sign", "--insecure", "--key", priv, "oci:/tmp/layout"); res.code != 2 || !strings.Contains(res.stderr, "registry") {
		t.Errorf("sign of a layout: exit %d %s", res.code, res.stderr)
	}

	res = run(t, "verify", "--insecure", "--key", pub, ref)
	if res.code != 0 || !strings.Contains(res.stdout, "VERIFIED by key") || !strings.Contains(res.stdout, "PASS") {
		t.Fatalf("verify signed: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}

	// The signed image and its signature saved as a gzip OCI archive (cosign
	// save, then tar and gzip): with a policy naming the key, P6 passes. A
	// re-scan with the same cache reads the signature from the archive
	// index without inflating the archive, which --max-archive-bytes 1000
	// would refuse.
	saved := savedWithReferrers(t, r)
	layoutPol := filepath.Join(t.TempDir(), "layout.yaml")
	os.WriteFile(layoutPol, []byte("trust:\n  require:\n    - repositories: [\"**\"]\n      signers: [{key: "+pub+"}]\n"), 0o644)
	cache := t.TempDir()
	for _, extra := range [][]string{nil, {"--max-archive-bytes", "1000"}} {
		args := append([]string{"scan", "-f", "json", "--cache-dir", cache, "--config", layoutPol}, extra...)
		res := run(t, append(args, "oci-archive:"+saved)...)
		var rep scorecard.Report
		if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
			t.Fatalf("scan %v of the saved archive: exit %d, bad JSON: %v\n%s", extra, res.code, err, res.stderr)
		}
		if p := practice(&rep, scorecard.P6); p.Status != scorecard.Pass {
			t.Errorf("scan %v of the saved, signed archive: P6 %s (%s)", extra, p.Status, p.Summary)
		}
	}
	if res := run(t, "verify", "--insecure", "--key", otherPub, ref); res.code != 1 || !strings.Contains(res.stdout, "does not verify") {
		t.Errorf("verify with another key: exit %d\n%s", res.code, res.stdout)
	}
	if res := run(t, "verify", "--insecure", "--key", pub, "--key", otherPub, "--need", "all", ref); res.code != 1 {
		t.Errorf("verify --need all with one signer: exit %d\n%s", res.code, res.stdout)
	}
	if res := run(t, "verify", "--insecure", "--config", filepath.Join(t.TempDir(), "none.yaml"), ref); res.code != 2 {
		t.Errorf("verify with a missing policy file: exit %d", res.code)
	}
	// No signer anywhere: a gate with nothing to check does not pass.
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.yaml")
	os.WriteFile(empty, nil, 0o644)
	if res := run(t, "verify", "--insecure", "--config", empty, ref); res.code != 1 || !strings.Contains(res.stdout, "no trust policy applies") || !strings.Contains(res.stdout, "WARN") {
		t.Errorf("verify without a policy: exit %d\n%s", res.code, res.stdout)
	}

	// Scan without policy: P6 warns (signed, no policy says by whom) and
	// the report has the trust section.
	rep = scanJSON(t, "docker://"+ref, "--insecure", "--config", empty)
	if p := practice(rep, scorecard.P6); p.Status != scorecard.Warn {
		t.Errorf("scan of a signed image without policy: P6 %s (%s)", p.Status, p.Summary)
	}
	sec, _ := json.Marshal(rep.Sections["trust"])
	if !strings.Contains(string(sec), `"kind":"sigstore-bundle"`) {
		t.Errorf("trust section: %s", sec)
	}

	// attest --sbom, then a policy that requires an SBOM.
	if res := run(t, "attest", "--insecure", "--key", priv, "--sbom", "--cache-dir", t.TempDir(), ref); res.code != 0 || !strings.Contains(res.stdout, "attested") {
		t.Fatalf("attest --sbom: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	pol := filepath.Join(dir, ".shipshape.yaml")
	os.WriteFile(pol, []byte("trust:\n  require:\n    - repositories: [\""+host+"/team/**\"]\n      signers: [{key: "+pub+"}]\n      attestations: [{type: sbom}, {type: slsa-provenance}]\n"), 0o644)
	res = run(t, "verify", "--insecure", "--config", pol, "--format", "json", ref)
	var out struct {
		Met      bool `json:"policyMet"`
		Findings []scorecard.Finding
		Trust    struct {
			Attestations []struct {
				Attestation string
				Verified    bool
			}
		}
	}
	if err := json.Unmarshal([]byte(res.stdout), &out); err != nil {
		t.Fatalf("verify --format json: %v\n%s", err, res.stdout)
	}
	if res.code != 1 || out.Met || len(out.Findings) != 1 || out.Findings[0].Rule != "SS-P6-004" || !strings.Contains(out.Findings[0].Description, "slsa-provenance") {
		t.Errorf("policy needing provenance too: exit %d %+v", res.code, out)
	}
	if len(out.Trust.Attestations) != 1 || out.Trust.Attestations[0].Attestation != "sbom-cyclonedx" || !out.Trust.Attestations[0].Verified {
		t.Errorf("attestations: %+v", out.Trust.Attestations)
	}
	os.WriteFile(pol, []byte("trust:\n  require:\n    - repositories: [\""+host+"/team/**\"]\n      signers: [{key: "+pub+"}]\n      attestations: [{type: sbom}]\n"), 0o644)
	if res := run(t, "verify", "--insecure", "--config", pol, ref); res.code != 0 {
		t.Errorf("policy needing the SBOM: exit %d\n%s", res.code, res.stdout)
	}
	rep = scanJSON(t, "docker://"+ref, "--insecure", "--config", pol)
	if p := practice(rep, scorecard.P6); p.Status != scorecard.Pass {
		t.Errorf("scan with a satisfied policy: P6 %s (%s)", p.Status, p.Summary)
	}

	// attest --scorecard: the JSON report, as an in-toto predicate.
	if res := run(t, "attest", "--insecure", "--key", priv, "--scorecard", "--cache-dir", t.TempDir(), ref); res.code != 0 {
		t.Fatalf("attest --scorecard: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	os.WriteFile(pol, []byte("trust:\n  require:\n    - repositories: [\""+host+"/team/**\"]\n      signers: [{key: "+pub+"}]\n      attestations: [{type: sbom}, {type: \"https://github.com/shipshape-dev/shipshape/scorecard/v1\"}]\n"), 0o644)
	if res := run(t, "verify", "--insecure", "--config", pol, ref); res.code != 0 {
		t.Errorf("policy needing the SBOM and the scorecard: exit %d\n%s", res.code, res.stdout)
	}
}

// savedWithReferrers writes the image ref names and its referrers (its
// signatures) into an OCI layout, as cosign save does, and returns the
// layout as a gzip tar file.
func savedWithReferrers(t *testing.T, ref name.Reference) string {
	t.Helper()
	desc, err := remote.Get(ref)
	if err != nil {
		t.Fatal(err)
	}
	d := ref.Context().Digest(desc.Digest.String())
	dir := filepath.Join(t.TempDir(), "layout")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	refs, err := remote.Referrers(d)
	if err != nil {
		t.Fatal(err)
	}
	im, err := refs.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) == 0 {
		t.Fatalf("%s has no referrers", d)
	}
	digests := []name.Digest{d}
	for _, m := range im.Manifests {
		digests = append(digests, ref.Context().Digest(m.Digest.String()))
	}
	for _, d := range digests {
		img, err := remote.Image(d)
		if err != nil {
			t.Fatal(err)
		}
		if err := lp.AppendImage(img); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	if err := tw.AddFS(os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "saved.tar.gz")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
