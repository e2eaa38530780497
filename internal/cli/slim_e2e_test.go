package cli_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// TestSlimCommand runs "shipshape slim" end to end on a busybox web server
// (Alpine's busybox has no httpd applet, so nc + sh serve /www), then scans
// the original and finds the slim record, then shows a failing verify.
func TestSlimCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("runs containers")
	}
	base := testenv.AlpineImage(t)
	docker := testenv.DockerCLI(t)
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "www"), 0o755)
	os.WriteFile(filepath.Join(dir, "www/index.html"), []byte("<h1>hi</h1>\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "www/data.txt"), []byte(strings.Repeat("data\n", 5000)), 0o644)
	serveSh, err := os.ReadFile("../slim/testdata/serve.sh")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "www/serve.sh"), serveSh, 0o755)
	// A token the application's own command prints (an --exec probe): its
	// output leaves in the report, with the token hidden.
	const token = "ghp_R8kX2vQ9mL4zT7bN1wS5yU3eO6aD0fC2gH8j"
	os.WriteFile(filepath.Join(dir, "www/config.txt"), []byte("GITHUB_TOKEN="+token+"\n"), 0o644)
	// A credential the application never reads: slimming removes it (P1;
	// the token in www/config.txt, which it reads, stays).
	os.WriteFile(filepath.Join(dir, "creds"), []byte("[default]\naws_access_key_id = AKIAQWERTYUIOPASDFGH\n"), 0o600)
	df := "FROM " + base + "\nCOPY www /www\nCOPY creds /root/.aws/credentials\nUSER nobody\nEXPOSE 8080\nCMD [\"/bin/busybox\",\"nc\",\"-lk\",\"-p\",\"8080\",\"-e\",\"/www/serve.sh\"]\n"
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644)
	tag := "shipshape-test-slim-cli/web:1"
	cmd := exec.Command(docker, "build", "-q", "-t", tag, dir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	slimTag := "shipshape-test-slim-cli/web:slim"
	failTag := "shipshape-test-slim-cli/web:fail"
	t.Cleanup(func() { exec.Command(docker, "rmi", "-f", tag, slimTag, failTag).Run() })
	cache := t.TempDir()

	r := run(t, "slim", tag, "--tag", slimTag, "-f", "json", "--cache-dir", cache,
		"--http-probe-path", "/", "--http-probe-path", "/data.txt", "--exec", "cat /www/index.html", "--exec", "cat /www/config.txt")
	if r.code != 0 {
		t.Fatalf("slim: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, token) || !strings.Contains(r.stdout, "GITHUB_TOKEN=ghp_") {
		t.Errorf("the exec probe's output does not show the token redacted:\n%s", r.stdout)
	}
	var res struct {
		Before, After struct{ Files, Bytes int64 }
		Verify        struct{ OK bool }
		Probes        []struct{ Kind, Name string }
		Outputs       []string
		FindingsDelta []struct {
			Practice      string
			Before, After int
			Gone          []string
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	if !res.Verify.OK || len(res.Probes) != 4 || res.After.Bytes*3 > res.Before.Bytes || len(res.Outputs) != 1 || len(res.FindingsDelta) == 0 {
		t.Errorf("slim result: %s", r.stdout)
	}
	secretGone := false
	for _, d := range res.FindingsDelta {
		if d.Practice == "P1" && d.After < d.Before && strings.Contains(strings.Join(d.Gone, " "), "/root/.aws/credentials") {
			secretGone = true
		}
	}
	if !secretGone {
		t.Errorf("the P1 delta does not show the credential gone: %+v", res.FindingsDelta)
	}

	// A scan of the original now knows how much of it the application used.
	s := run(t, "scan", "docker-daemon:"+tag, "-f", "json", "--cache-dir", cache)
	var rep struct {
		Practices []struct {
			ID      string
			Metrics map[string]any
		}
	}
	if err := json.Unmarshal([]byte(s.stdout), &rep); err != nil {
		t.Fatalf("scan: %v\n%s", err, s.stderr)
	}
	found := false
	for _, p := range rep.Practices {
		if p.ID == "P8" && p.Metrics["slimUsedShare"] != nil && p.Metrics["slimVerified"] == true {
			found = true
		}
	}
	if !found {
		t.Errorf("P8 does not report the slim run: %s", s.stdout)
	}

	// A file only /data.txt needs, dropped from the keep set: verify fails.
	f := run(t, "slim", tag, "--tag", failTag, "--cache-dir", cache, "--http-probe-path", "/data.txt", "--exclude-path", "/www/data.txt")
	if f.code != 3 || !strings.Contains(f.stderr, "GET 8080/tcp /data.txt: HTTP status 404, was 200") || !strings.Contains(f.stdout, "verify   FAILED") {
		t.Errorf("failing verify: exit %d\nstdout %s\nstderr %s", f.code, f.stdout, f.stderr)
	}
	if out, err := exec.Command(docker, "image", "inspect", failTag).CombinedOutput(); err == nil {
		t.Errorf("%s exists after a failed verify: %s", failTag, out)
	}
}
