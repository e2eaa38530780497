package cli_test

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"encoding/pem"
	"io"
	"maps"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"golang.org/x/crypto/ssh"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// leakSecrets are generated credentials for the fix tests.
type leakSecrets struct{ github, npm, sshKey string }

func newLeakSecrets(t *testing.T) leakSecrets {
	r := mrand.New(mrand.NewPCG(3, 4))
	tok := func(prefix string, n int) string {
		const a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
		b := []byte(prefix)
		for range n {
			b = append(b, a[r.IntN(len(a))])
		}
		return string(b)
	}
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(r.IntN(256))
	}
	blk, err := ssh.MarshalPrivateKey(ed25519.NewKeyFromSeed(seed), "ci@build")
	if err != nil {
		t.Fatal(err)
	}
	return leakSecrets{github: tok("ghp_", 36), npm: tok("npm_", 36), sshKey: string(pem.EncodeToMemory(blk))}
}

type fixOutput struct {
	Output  string
	Before  scorecard.Report
	After   scorecard.Report
	Changes struct {
		Removed         map[string][]string
		EnvRemoved      []string
		LabelsRedacted  []string
		HistoryRedacted []int
	}
	Notice string
	P1     map[string]struct {
		Status   scorecard.Status
		Findings int
	}
}

func runFix(t *testing.T, src, dest string, extra ...string) fixOutput {
	t.Helper()
	args := append([]string{"fix", "secrets", "--format", "json", "--cache-dir", t.TempDir(), "-o", dest}, extra...)
	r := run(t, append(args, src)...)
	if r.code != 0 {
		t.Fatalf("fix secrets %s: exit %d: %s", src, r.code, r.stderr)
	}
	var out fixOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, r.stdout)
	}
	return out
}

// checkFixed checks what every fix must do.
func checkFixed(t *testing.T, out fixOutput, s leakSecrets, raw string) {
	t.Helper()
	if out.P1["before"].Status != scorecard.Fail || out.P1["after"].Status != scorecard.Pass || out.P1["after"].Findings != 0 {
		t.Errorf("P1 before %+v after %+v; want fail then pass with no findings", out.P1["before"], out.P1["after"])
	}
	if !strings.Contains(out.Notice, "rotated") {
		t.Errorf("no rotation notice: %q", out.Notice)
	}
	for _, v := range []string{s.github, s.npm, "hT7-kP2qZ9wL"} {
		if strings.Contains(raw, v) {
			t.Errorf("fix output shows a secret in clear")
		}
	}
}

// TestFixSecretsDaemon builds a leaky image with docker build on the Alpine
// root filesystem, fixes it into the daemon and runs the result.
func TestFixSecretsDaemon(t *testing.T) {
	base := testenv.AlpineImage(t)
	docker := testenv.DockerCLI(t)
	s := newLeakSecrets(t)
	leaky := "shipshape-issue3-test/leaky:" + strings.ToLower(t.Name())
	fixed := "shipshape-issue3-test/fixed:" + strings.ToLower(t.Name())
	t.Cleanup(func() { exec.Command(docker, "rmi", "-f", leaky, fixed).Run() })
	dir := t.TempDir()
	files := map[string]string{
		"id_ed25519": s.sshKey,
		"env":        "DB_HOST=db\nDB_PASSWORD=hT7-kP2qZ9wL\n",
		"Dockerfile": "FROM " + base + "\n" +
			"ARG NPM_TOKEN\n" +
			"COPY id_ed25519 /root/.ssh/id_ed25519\n" +
			"COPY env /app/.env\n" +
			"RUN echo \"//registry.npmjs.org/:_authToken=$NPM_TOKEN\" > /root/.npmrc && rm /root/.ssh/id_ed25519 && echo DB_HOST=db > /app/.env\n" +
			"ENV GITHUB_TOKEN=" + s.github + "\n" +
			"LABEL ci.token=" + s.github + "\n" +
			"CMD [\"cat\", \"/app/.env\"]\n",
	}
	for n, c := range files {
		if err := os.WriteFile(filepath.Join(dir, n), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	build := exec.Command(docker, "build", "-q", "--build-arg", "NPM_TOKEN="+s.npm, "-t", leaky, dir)
	build.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}

	// scan: P1 fails, and the report (history lines included) never shows
	// a secret unless asked to.
	sc := run(t, "scan", "--format", "json", "--cache-dir", t.TempDir(), "docker-daemon:"+leaky)
	var rep scorecard.Report
	if err := json.Unmarshal([]byte(sc.stdout), &rep); err != nil {
		t.Fatalf("scan: %v: %s", err, sc.stderr)
	}
	if p := practice(&rep, scorecard.P1); p.Status != scorecard.Fail || p.Counts[scorecard.Critical] < 4 {
		t.Errorf("P1 = %+v", p)
	}
	for _, v := range []string{s.github, s.npm, "hT7-kP2qZ9wL"} {
		if strings.Contains(sc.stdout, v) {
			t.Errorf("scan report shows a secret in clear")
		}
	}
	shown := run(t, "scan", "--format", "json", "--show-secrets", "--no-cache", "docker-daemon:"+leaky)
	if !strings.Contains(shown.stdout, s.npm) || !strings.Contains(shown.stdout, s.github) {
		t.Errorf("--show-secrets does not show the secrets")
	}

	r := run(t, "fix", "secrets", "--format", "json", "--cache-dir", t.TempDir(), "-o", "docker-daemon:"+fixed, "docker-daemon:"+leaky)
	if r.code != 0 {
		t.Fatalf("fix: exit %d: %s", r.code, r.stderr)
	}
	var out fixOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatal(err)
	}
	checkFixed(t, out, s, r.stdout)
	want := map[string]string{"2": "/root/.ssh/id_ed25519", "3": "/app/.env", "4": "/root/.npmrc"}
	for l, p := range want {
		if got := out.Changes.Removed[l]; len(got) != 1 || got[0] != p {
			t.Errorf("layer %s: removed %v, want %s", l, got, p)
		}
	}
	if strings.Join(out.Changes.EnvRemoved, ",") != "GITHUB_TOKEN" || strings.Join(out.Changes.LabelsRedacted, ",") != "ci.token" {
		t.Errorf("config changes: %+v", out.Changes)
	}

	// The fixed image runs, keeps the clean .env, and its history and
	// config no longer carry the secrets.
	run, err := exec.Command(docker, "run", "--rm", fixed).CombinedOutput()
	if err != nil || strings.TrimSpace(string(run)) != "DB_HOST=db" {
		t.Errorf("docker run: %v: %q", err, run)
	}
	hist, err := exec.Command(docker, "history", "--no-trunc", "--format", "{{.CreatedBy}}", fixed).CombinedOutput()
	if err != nil || strings.Contains(string(hist), s.npm) || strings.Contains(string(hist), s.github) || !strings.Contains(string(hist), "NPM_TOKEN=<redacted>") {
		t.Errorf("history of fixed image: %v\n%s", err, hist)
	}
	insp, _ := exec.Command(docker, "inspect", fixed).CombinedOutput()
	if strings.Contains(string(insp), s.github) {
		t.Errorf("fixed image config still has the token")
	}
	ls, _ := exec.Command(docker, "run", "--rm", fixed, "ls", "-a", "/root", "/root/.ssh").CombinedOutput()
	if strings.Contains(string(ls), ".npmrc") || strings.Contains(string(ls), "id_ed25519") {
		t.Errorf("fixed image still has secret files:\n%s", ls)
	}
}

// tarLayer is an uncompressed layer of files (mode 0600, in name order),
// then whiteouts of the given paths.
func tarLayer(t *testing.T, files map[string]string, whiteouts ...string) v1.Layer {
	t.Helper()
	var l imagetest.Layer
	for _, p := range slices.Sorted(maps.Keys(files)) {
		l.Files = append(l.Files, imagetest.File{Name: p, Content: []byte(files[p]), Mode: 0o600})
	}
	for _, w := range whiteouts {
		l.Files = append(l.Files, imagetest.Whiteout(w))
	}
	b := l.Tar()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return layer
}

// TestFixSecretsRegistry fixes an image from a registry into the same
// registry, and checks the result is a valid image whose config, diffIDs
// and manifest agree.
func TestFixSecretsRegistry(t *testing.T) {
	host := testenv.Registry(t)
	s := newLeakSecrets(t)
	img, err := mutate.Append(empty.Image,
		mutate.Addendum{Layer: tarLayer(t, map[string]string{"etc/os-release": "ID=test\n", "app/run.sh": "#!/bin/sh\n"}), History: v1.History{CreatedBy: "ADD rootfs /"}},
		mutate.Addendum{Layer: tarLayer(t, map[string]string{"root/.ssh/id_ed25519": s.sshKey, "app/config.yaml": "db:\n  password: hT7-kP2qZ9wL\n"}), History: v1.History{CreatedBy: "COPY . / # buildkit"}},
		mutate.Addendum{Layer: tarLayer(t, map[string]string{"app/ok.txt": "fine\n"}, "root/.ssh/id_ed25519"), History: v1.History{CreatedBy: "RUN |1 NPM_TOKEN=" + s.npm + " /bin/sh -c rm /root/.ssh/id_ed25519 # buildkit"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Config.Env = []string{"PATH=/bin", "GH_TOKEN=" + s.github}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := name.ParseReference(host+"/team/leaky:1", name.Insecure)
	if err := remote.Write(src, img); err != nil {
		t.Fatalf("push: %v", err)
	}
	out := runFix(t, "docker://"+host+"/team/leaky:1", "docker://"+host+"/team/leaky:1-clean", "--insecure")
	raw, _ := json.Marshal(out)
	checkFixed(t, out, s, string(raw))
	if got := out.Changes.Removed["2"]; strings.Join(got, ",") != "/root/.ssh/id_ed25519,/app/config.yaml" && strings.Join(got, ",") != "/app/config.yaml,/root/.ssh/id_ed25519" {
		t.Errorf("layer 2 removed %v", got)
	}
	if _, ok := out.Changes.Removed["1"]; ok {
		t.Errorf("layer 1 rewritten: %v", out.Changes.Removed)
	}

	dst, _ := name.ParseReference(host+"/team/leaky:1-clean", name.Insecure)
	fixed, err := remote.Image(dst)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(fixed); err != nil {
		t.Errorf("fixed image is not consistent: %v", err)
	}
	fcf, _ := fixed.ConfigFile()
	if len(fcf.History) != 3 || !strings.Contains(fcf.History[2].CreatedBy, "NPM_TOKEN=<redacted>") || strings.Join(fcf.Config.Env, " ") != "PATH=/bin" {
		t.Errorf("fixed config: history %+v env %v", fcf.History, fcf.Config.Env)
	}
	// The untouched layer is shared, not rewritten.
	ol, _ := img.Layers()
	nl, _ := fixed.Layers()
	od, _ := ol[0].Digest()
	nd, _ := nl[0].Digest()
	if od != nd {
		t.Errorf("base layer digest changed: %s → %s", od, nd)
	}
}

// TestSecretIgnoresAndSkipPaths accepts P1 findings of the demo image by
// fingerprint and by rule+path, skips a path, and checks that fix secrets
// leaves accepted findings in place.
func TestSecretIgnoresAndSkipPaths(t *testing.T) {
	ref := "docker-archive:" + demoPath
	rep := scanJSON(t, ref)
	var envFP string
	for _, f := range rep.Findings {
		if f.Field == "Env[2]" {
			envFP = f.Fingerprint
		}
	}
	if envFP == "" {
		t.Fatalf("no Env[2] finding in the demo: %+v", rep.Findings)
	}
	ign := filepath.Join(t.TempDir(), "ignore.yaml")
	os.WriteFile(ign, []byte("ignore:\n  - fingerprint: "+envFP+"\n    reason: test token, revoked\n  - rule: SS-P1-aws-secret-access-key\n    path: /app/.env\n    reason: sandbox account\n    expires: 2999-01-01\n  - rule: SS-P1-aws-access-key-id\n    path: /app/.env\n    reason: sandbox account\n"), 0o644)
	rep = scanJSON(t, ref, "--ignorefile", ign)
	for _, f := range rep.Findings {
		if f.Field == "Env[2]" || f.Path == "/app/.env" && strings.HasPrefix(f.Rule, "SS-P1-aws") {
			t.Errorf("ignored finding reported: %s %s%s", f.Rule, f.Path, f.Field)
		}
	}
	if len(rep.Suppressed) != 3 {
		t.Errorf("suppressed = %+v, want 3", rep.Suppressed)
	}
	rep = scanJSON(t, ref, "--skip-path", "/app/**")
	for _, f := range rep.Findings {
		if f.Path == "/app/.env" {
			t.Errorf("skipped path reported: %+v", f)
		}
	}
	if practice(rep, scorecard.P1).Status != scorecard.Fail {
		t.Errorf("Env and history secrets should still fail P1")
	}

	out := runFix(t, ref, "docker-archive:"+filepath.Join(t.TempDir(), "fixed.tar"), "--ignorefile", ign)
	if len(out.Changes.EnvRemoved) != 0 {
		t.Errorf("accepted Env secret removed: %v", out.Changes.EnvRemoved)
	}
	if got := out.Changes.Removed["2"]; len(got) != 1 || got[0] != "/app/.env" {
		t.Errorf("layer 2 removed %v, want /app/.env (its URL credential is not accepted)", got)
	}
}
