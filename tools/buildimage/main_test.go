package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/cli"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imageout"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/testenv"
	"github.com/shipshape-dev/shipshape/internal/trust"
)

const demoArchive = "../../testdata/demo/demo.tar"

var (
	once     sync.Once
	buildDir string
	buildBin string
	buildOut string
	buildErr error
)

// testOptions are the tool's options in the tests: fixed version,
// revision and time.
func testOptions() options {
	return options{ca: caPath, version: "test", revision: "0123456789abcdef", epoch: 1700000000, repo: "../.."}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// built runs the tool once for the package's tests: it builds the binary
// and writes the image as a docker archive and an OCI layout.
func built(t *testing.T) (archive, layout string) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds shipshape: not in -short")
	}
	once.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "buildimage-test-"); buildErr != nil {
			return
		}
		o := testOptions()
		if buildBin, buildErr = buildBinary(context.Background(), o, buildDir); buildErr != nil {
			return
		}
		o.binary = buildBin
		o.outputs = []string{
			"docker-archive:" + filepath.Join(buildDir, "shipshape.tar") + ":shipshape-test/self:dev",
			"oci:" + filepath.Join(buildDir, "oci") + ":dev",
		}
		var out bytes.Buffer
		buildErr = run(context.Background(), o, &out)
		buildOut = out.String()
	})
	if buildErr != nil {
		t.Fatalf("buildimage: %v", buildErr)
	}
	return filepath.Join(buildDir, "shipshape.tar"), filepath.Join(buildDir, "oci")
}

// scan runs shipshape on ref with a database that knows the Go ecosystem
// (one unrelated advisory), so that P5 runs offline.
func scan(t *testing.T, ref string, args ...string) *scorecard.Report {
	t.Helper()
	dir := t.TempDir()
	rec := filepath.Join(dir, "GO-2099-0001.json")
	os.WriteFile(rec, []byte(`{"schema_version":"1.6.0","id":"GO-2099-0001","modified":"2026-01-01T00:00:00Z","summary":"test advisory",
"affected":[{"package":{"ecosystem":"Go","name":"example.com/never/used"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.0.0"}]}]}]}`), 0o644)
	db := filepath.Join(dir, "db")
	var out, errb bytes.Buffer
	if code := cli.Main(context.Background(), []string{"db", "import", "--db-dir", db, rec}, nil, &out, &errb); code != 0 {
		t.Fatalf("db import: exit %d: %s", code, errb.String())
	}
	out.Reset()
	errb.Reset()
	argv := append([]string{"scan", "-q", "--no-cache", "--cache-dir", filepath.Join(dir, "cache"), "--db-dir", db, "-f", "json"}, args...)
	if code := cli.Main(context.Background(), append(argv, ref), nil, &out, &errb); code != 0 {
		t.Fatalf("scan %s: exit %d: %s", ref, code, errb.String())
	}
	var r scorecard.Report
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// checkSelf checks a scan of shipshape's own image: every practice passes
// (P3/P4 may be not-run on scratch, with their reason); P6 is what
// wantP6 says; only info findings, besides those of P6 when it fails.
func checkSelf(t *testing.T, ref string, r *scorecard.Report, wantP6 scorecard.Status) {
	t.Helper()
	for _, p := range r.Practices {
		want := []scorecard.Status{scorecard.Pass}
		switch p.ID {
		case scorecard.P3, scorecard.P4:
			// Nothing to judge on scratch (no os-release, no package
			// freshness data yet) may be not-run, with its reason.
			if p.Reason != "" {
				want = append(want, scorecard.NotRun)
			}
		case scorecard.P6:
			want = []scorecard.Status{wantP6}
		case scorecard.P7:
			want = []scorecard.Status{scorecard.NotRun} // no analyzer yet
		}
		if !slices.Contains(want, p.Status) {
			t.Errorf("%s: %s %s (%s%s), want %v", ref, p.ID, p.Status, p.Summary, p.Reason, want)
		}
		if p.ID == scorecard.P8 && p.Metrics["efficiency"] != 1.0 {
			t.Errorf("%s: P8 efficiency %v, want 1", ref, p.Metrics["efficiency"])
		}
	}
	for _, f := range r.Findings {
		if f.Severity != scorecard.Info && !(wantP6 == scorecard.Fail && f.Practice == scorecard.P6) {
			t.Errorf("%s: finding %s %s: %s", ref, f.Severity, f.Rule, f.Title)
		}
	}
}

// TestSelfScan: shipshape's own image, scanned by shipshape from files.
// An archive carries no manifest digest (P6 not run); the layout is
// unsigned (P6 fails, so no A: TestSelfScanSigned earns it).
func TestSelfScan(t *testing.T) {
	archive, layout := built(t)
	t.Logf("%s", buildOut)
	for _, c := range []struct {
		ref string
		p6  scorecard.Status
	}{{"docker-archive:" + archive, scorecard.NotRun}, {"oci:" + layout + ":dev", scorecard.Fail}} {
		ref := c.ref
		r := scan(t, ref)
		checkSelf(t, ref, r, c.p6)
		if c.p6 == scorecard.NotRun && r.Grade != scorecard.GradeA {
			t.Errorf("%s: grade %s, want A", ref, r.Grade)
		}
		if len(r.Image.Layers) != 1 || r.Image.Created == nil || r.Image.Created.Unix() != 1700000000 {
			t.Errorf("%s: %d layers, created %v", ref, len(r.Image.Layers), r.Image.Created)
		}
	}
}

// TestSelfScanSigned: the image pushed to a registry, signed with a test
// key and given an SBOM attestation by shipshape itself, scanned under a
// policy that requires both: every practice earned, grade A.
func TestSelfScanSigned(t *testing.T) {
	_, layout := built(t)
	host := testenv.Registry(t)
	ref := host + "/shipshape/self:dev"
	img, err := image.Open(context.Background(), "oci:"+layout+":dev", image.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	v1img, err := img.V1(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pushed, err := imageout.Write(context.Background(), v1img, "docker://"+ref, imageout.Options{Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	privPEM, err := trust.EncryptPrivateKey(k, []byte("test"))
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := trust.MarshalPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	priv, pub := filepath.Join(dir, "cosign.key"), filepath.Join(dir, "cosign.pub")
	os.WriteFile(priv, privPEM, 0o600)
	os.WriteFile(pub, pubPEM, 0o644)
	t.Setenv(trust.PasswordEnv, "test")
	for _, args := range [][]string{
		{"sign", "-q", "--insecure", "--key", priv, pushed},
		{"attest", "-q", "--insecure", "--key", priv, "--sbom", "--cache-dir", filepath.Join(dir, "cache"), pushed},
	} {
		var out, errb bytes.Buffer
		if code := cli.Main(context.Background(), args, nil, &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d: %s%s", args, code, out.String(), errb.String())
		}
	}
	pol := filepath.Join(dir, "policy.yaml")
	os.WriteFile(pol, []byte("trust:\n  require:\n    - repositories: [\""+host+"/shipshape/**\"]\n      signers: [{key: "+pub+"}]\n      attestations: [{type: sbom}]\n"), 0o644)
	r := scan(t, "docker://"+pushed, "--insecure", "--config", pol)
	checkSelf(t, pushed, r, scorecard.Pass)
	if r.Grade != scorecard.GradeA {
		t.Errorf("%s: grade %s, want A", pushed, r.Grade)
	}
}

// TestReproducible: the same inputs make the same image, and the epoch
// reaches it. (A fake static ELF stands for the binary.)
func TestReproducible(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "shipshape")
	if err := os.WriteFile(bin, append([]byte("\x7fELF"), make([]byte, 64)...), 0o755); err != nil {
		t.Fatal(err)
	}
	digest := func(o options) string {
		t.Helper()
		img, err := build(o, bin)
		if err != nil {
			t.Fatal(err)
		}
		d, err := img.Digest()
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	o := options{ca: caPath, version: "v", revision: "r", epoch: 42}
	if a, b := digest(o), digest(o); a != b {
		t.Errorf("two builds differ: %s, %s", a, b)
	}
	first := digest(o)
	o.epoch = 43
	if digest(o) == first {
		t.Error("the epoch does not reach the image")
	}
}

func TestRejectsDynamicBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "dyn")
	os.WriteFile(bin, append([]byte("\x7fELF....../lib64/ld-linux-x86-64.so.2"), make([]byte, 64)...), 0o755)
	if _, err := build(options{ca: caPath, epoch: 1}, bin); err == nil || !strings.Contains(err.Error(), "not a static ELF") {
		t.Errorf("dynamic binary: %v", err)
	}
	if _, err := build(options{ca: "/nonexistent/ca.crt", epoch: 1}, os.Args[0]); err == nil {
		t.Error("missing CA bundle: no error")
	}
}

// TestImageUnderDocker runs the image on the real Docker Engine: a scan of
// a mounted archive, and, with the Engine's socket mounted, of an image in
// the Engine.
func TestImageUnderDocker(t *testing.T) {
	engine := testenv.Docker(t)
	docker := testenv.DockerCLI(t)
	built(t)
	const tag = "shipshape-test/self:dev"
	dockerRun := func(args ...string) (string, string, error) {
		t.Helper()
		cmd := exec.Command(docker, args...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	// Written straight into the Engine by the tool (shipshape's image
	// writer), with the same binary as the archive: the same image.
	o := testOptions()
	o.binary, o.outputs = buildBin, []string{"docker-daemon:" + tag}
	var wrote bytes.Buffer
	if err := run(context.Background(), o, &wrote); err != nil {
		t.Fatalf("buildimage -o docker-daemon:%s: %v", tag, err)
	}
	t.Cleanup(func() { dockerRun("rmi", tag) })
	if !strings.Contains(wrote.String(), "docker-daemon:") {
		t.Fatalf("buildimage said %q", wrote.String())
	}
	demo, err := filepath.Abs(demoArchive)
	if err != nil {
		t.Fatal(err)
	}
	grade := func(what, out string) {
		t.Helper()
		var r scorecard.Report
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("%s: %v\n%s", what, err, out)
		}
		if r.Grade != scorecard.GradeF || len(r.Findings) == 0 {
			t.Errorf("%s: grade %s, %d findings; want the demo's F", what, r.Grade, len(r.Findings))
		}
	}
	out, errs, err := dockerRun("run", "--rm", "--network", "none", "-v", demo+":/in/demo.tar:ro", tag, "scan", "-q", "-f", "json", "docker-archive:/in/demo.tar")
	if err != nil {
		t.Fatalf("scan of a mounted archive: %v\n%s", err, errs)
	}
	grade("mounted archive", out)

	// The Engine's socket, when it is one, mounted with its group.
	u, err := url.Parse(engine.DaemonHost())
	if err != nil || u.Scheme != "unix" {
		t.Skipf("the Engine is at %s, not a unix socket: the socket mount is not tested", engine.DaemonHost())
	}
	fi, err := os.Stat(u.Path)
	if err != nil {
		t.Fatal(err)
	}
	gid := strconv.FormatUint(uint64(fi.Sys().(*syscall.Stat_t).Gid), 10)
	if out, errs, err := dockerRun("load", "-i", demo); err != nil {
		t.Fatalf("docker load demo: %v\n%s%s", err, out, errs)
	}
	out, errs, err = dockerRun("run", "--rm", "--network", "none", "-v", u.Path+":/var/run/docker.sock", "--group-add", gid, tag,
		"scan", "-q", "-f", "json", "docker-daemon:shipshape.local/demo:1.0")
	if err != nil {
		t.Fatalf("scan through the mounted socket: %v\n%s", err, errs)
	}
	grade("daemon image", out)
	// The image runs as its unprivileged user.
	if out, _, err := dockerRun("run", "--rm", "--network", "none", "--entrypoint", "", tag, "/usr/local/bin/shipshape", "version"); err != nil || !strings.HasPrefix(out, "shipshape test") {
		t.Errorf("version: %v %q", err, out)
	}
	if out, _, _ := dockerRun("image", "inspect", "-f", "{{.Config.User}}", tag); strings.TrimSpace(out) != "65532:65532" {
		t.Errorf("USER %q", out)
	}
}
