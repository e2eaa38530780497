package server_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shipshape-dev/shipshape/internal/cli"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/server"
	"github.com/shipshape-dev/shipshape/internal/testenv"
	"github.com/shipshape-dev/shipshape/internal/trust"
)

// signingKey writes a cosign key pair and returns its paths.
func signingKey(t *testing.T, pass string) (priv, pub string) {
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
	os.WriteFile(priv, pb, 0o600)
	os.WriteFile(pub, pubb, 0o644)
	return priv, pub
}

// podReview is an AdmissionReview creating a Pod of these images.
func podReview(images ...string) []byte {
	var cs []map[string]string
	for i, img := range images {
		cs = append(cs, map[string]string{"name": fmt.Sprint("c", i), "image": img})
	}
	b, _ := json.Marshal(map[string]any{
		"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
		"request": map[string]any{
			"uid": "6f1c2c56-0000-4000-8000-000000000001", "kind": map[string]string{"group": "", "version": "v1", "kind": "Pod"},
			"namespace": "shop", "name": "api", "operation": "CREATE",
			"object": map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": map[string]string{"name": "api"}, "spec": map[string]any{"containers": cs}},
		},
	})
	return b
}

type reviewAnswer struct {
	Response struct {
		Allowed  bool
		Status   *struct{ Message string }
		Warnings []string
	}
}

func admitPod(t *testing.T, ts *testServer, images ...string) reviewAnswer {
	t.Helper()
	code, _, b := ts.do(t, "POST", "/v1/admission", podReview(images...), nil)
	if code != 200 {
		t.Fatalf("admission: %d %s", code, b)
	}
	var a reviewAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatal(err)
	}
	return a
}

func (a reviewAnswer) message() string {
	m := strings.Join(a.Response.Warnings, "\n")
	if a.Response.Status != nil {
		m += a.Response.Status.Message
	}
	return m
}

// POST /v1/verify judges P6 by the server's trust policy, and admission
// denies images that policy requires signed and that are not.
func TestVerifyAndSignedAdmission(t *testing.T) {
	host := testenv.Registry(t)
	base := alpineBase(t)
	pushApp(t, base, host, "team/signed:1", 1)
	pushApp(t, base, host, "team/unsigned:1", 2)
	priv, pub := signingKey(t, "s3cret")
	t.Setenv(trust.PasswordEnv, "s3cret")
	var out, errb bytes.Buffer
	if code := cli.Main(context.Background(), []string{"sign", "--insecure", "--key", priv, host + "/team/signed:1"}, strings.NewReader(""), &out, &errb); code != 0 {
		t.Fatalf("shipshape sign: %d %s", code, errb.String())
	}
	hang := hangingRegistry(t)
	pol, err := policy.Parse("fleet.yaml", []byte(fmt.Sprintf(`registries:
  trusted: [%[1]s/team/*, %[2]s/team/*]
trust:
  require:
    - repositories: ["%[1]s/team/**", "%[2]s/team/**"]
      signers: [{key: %[3]s}]
`, host, hang, pub)))
	if err != nil {
		t.Fatal(err)
	}
	ts := newServer(t, t.TempDir(), "", func(c *server.Config) {
		c.Policy, c.AdmissionTimeout, c.VerifyTimeout = pol, 2*time.Second, 2*time.Second
	})

	verify := func(body string) (int, server.VerifyResult, string) {
		code, _, b := ts.do(t, "POST", "/v1/verify", []byte(body), nil)
		var r server.VerifyResult
		json.Unmarshal(b, &r)
		return code, r, string(b)
	}
	if code, r, b := verify(`{"image":"` + host + `/team/signed:1"}`); code != 200 || !r.Met || r.Practice.Status != "pass" || !strings.HasPrefix(r.Digest, "sha256:") {
		t.Errorf("verify signed: %d %s", code, b)
	}
	if code, r, b := verify(`{"image":"docker://` + host + `/team/unsigned:1"}`); code != 200 || r.Met || r.Practice.Status != "fail" || len(r.Findings) == 0 {
		t.Errorf("verify unsigned: %d %s", code, b)
	}
	for body, want := range map[string]string{
		`{"image":"oci:/etc"}`:                                    "registry images only",
		`{"image":"` + hang + `/team/app:1"}`:                     "gave up after 2s",
		`{"image":"x","keys":["/etc/shadow"]}`:                    "unknown field",
		`{"image":"` + host + `/team/signed:1","credentials":{}}`: "credentials: empty",
	} {
		if code, _, b := verify(body); (code != 422 && code != 400) || !strings.Contains(b, want) {
			t.Errorf("verify %s: %d %s, want 4xx with %q", body, code, b, want)
		}
	}

	// Admission: the signed image passes; the unsigned one is denied
	// with what to do.
	if a := admitPod(t, ts, host+"/team/signed:1"); !a.Response.Allowed {
		t.Errorf("pod of a signed image denied: %s", a.message())
	}
	// The next pods of the rollout are admitted without asking the
	// registry again.
	met := metric(t, ts, `shipshape_verifications_total{result="met"}`)
	if a := admitPod(t, ts, host+"/team/signed:1"); !a.Response.Allowed || metric(t, ts, `shipshape_verifications_total{result="met"}`) != met {
		t.Errorf("second pod of a signed image: allowed %v, verifications %s → %s", a.Response.Allowed, met, metric(t, ts, `shipshape_verifications_total{result="met"}`))
	}
	a := admitPod(t, ts, host+"/team/signed:1", host+"/team/unsigned:1")
	if a.Response.Allowed || !strings.Contains(a.message(), `spec.containers[1] ("c1"): image "`+host+`/team/unsigned:1" (sha256:`) ||
		!strings.Contains(a.message(), "is not signed as trust.require in fleet.yaml requires") || !strings.Contains(a.message(), "shipshape sign --key KEY") ||
		strings.Contains(a.message(), "containers[0]") {
		t.Errorf("pod with an unsigned image: allowed %v: %s", a.Response.Allowed, a.message())
	}
	// A registry that never answers: denied (fails closed) within the
	// timeout, or allowed with a warning when failing open.
	start := time.Now()
	if a := admitPod(t, ts, hang+"/team/app:1"); a.Response.Allowed || !strings.Contains(a.message(), "could not be checked within 2s") {
		t.Errorf("pod of a hanging registry: allowed %v: %s", a.Response.Allowed, a.message())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("admission took %s", d)
	}
	open := newServer(t, t.TempDir(), "", func(c *server.Config) {
		c.Policy, c.AdmissionTimeout, c.AdmissionFailOpen = pol, time.Second, true
	})
	if a := admitPod(t, open, hang+"/team/app:1"); !a.Response.Allowed || !strings.Contains(a.message(), "fails open") {
		t.Errorf("fail-open pod of a hanging registry: allowed %v: %s", a.Response.Allowed, a.message())
	}
	if a := admitPod(t, open, host+"/team/unsigned:1"); a.Response.Allowed {
		t.Error("fail-open allowed an unsigned image")
	}
	_, _, m := ts.do(t, "GET", "/metrics", nil, nil)
	if !strings.Contains(string(m), `shipshape_verifications_total{result="not_met"}`) {
		t.Error("no verification metrics")
	}
}
