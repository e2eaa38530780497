package main_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/slim/sensorbin"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// TestReleaseBinarySlimsWithItself is the sensor path users get: it builds
// the real static binary the way a release is built (CGO_ENABLED=0 go build
// ./cmd/shipshape) and runs "shipshape slim" with it on a busybox web
// server in the Docker Engine. The binary must mount itself into the
// container and re-execute as the hidden "sensor" command: Go is taken off
// its PATH, so it cannot build a sensor from source, and the cache must
// hold no built sensor afterwards. The slimmed image must pass its verify
// probes and be at least three times smaller.
func TestReleaseBinarySlimsWithItself(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs containers")
	}
	gobin := testenv.Binary(t, "go")
	base := testenv.AlpineImage(t)
	docker := testenv.DockerCLI(t)

	dir := t.TempDir()
	bin := filepath.Join(dir, "shipshape")
	build := exec.Command(gobin, "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build ./cmd/shipshape: %v\n%s", err, out)
	}
	if ok, err := sensorbin.Static(bin); !ok || err != nil {
		t.Fatalf("%s is not a static executable (%v): the self-sensor path cannot be taken", bin, err)
	}

	// The image: busybox nc + sh serving /www (Alpine's busybox has no
	// httpd applet), as in the slim tests.
	ctx := filepath.Join(dir, "context")
	os.MkdirAll(filepath.Join(ctx, "www"), 0o755)
	serveSh, err := os.ReadFile("../../internal/slim/testdata/serve.sh")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(ctx, "www/serve.sh"), serveSh, 0o755)
	os.WriteFile(filepath.Join(ctx, "www/index.html"), []byte("<h1>release</h1>\n"), 0o644)
	os.WriteFile(filepath.Join(ctx, "www/data.txt"), []byte(strings.Repeat("data\n", 5000)), 0o644)
	df := "FROM " + base + "\nCOPY www /www\nUSER nobody\nEXPOSE 8080\nCMD [\"/bin/busybox\",\"nc\",\"-lk\",\"-p\",\"8080\",\"-e\",\"/www/serve.sh\"]\n"
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644)
	tag := "shipshape-test-release/web:1"
	slimTag := "shipshape-test-release/web:slim"
	cmd := exec.Command(docker, "build", "-q", "-t", tag, ctx)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(docker, "rmi", "-f", tag, slimTag).Run() })

	cache := filepath.Join(dir, "cache")
	slim := exec.Command(bin, "slim", tag, "--tag", slimTag, "-f", "json", "--cache-dir", cache,
		"--http-probe-path", "/", "--http-probe-path", "/data.txt", "--exec", "cat /www/index.html")
	slim.Env = withoutGo(os.Environ())
	var stderr strings.Builder
	slim.Stderr = &stderr
	out, err := slim.Output()
	if err != nil {
		t.Fatalf("shipshape slim: %v\nstdout %s\nstderr %s", err, out, stderr.String())
	}
	var res struct {
		Before, After struct{ Files, Bytes int64 }
		Verify        struct{ OK bool }
		Probes        []struct {
			Kind, Name, Error string
			Status            int
		}
		Outputs []string
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !res.Verify.OK || len(res.Probes) != 3 || res.After.Bytes*3 > res.Before.Bytes || len(res.Outputs) != 1 {
		t.Errorf("slim result: %s", out)
	}
	for _, p := range res.Probes {
		if p.Error != "" || (p.Kind == "http" && p.Status != 200) {
			t.Errorf("probe %+v", p)
		}
	}
	if _, err := os.Stat(filepath.Join(cache, "sensor")); err == nil {
		t.Errorf("a sensor was built into %s: the static binary did not use itself", filepath.Join(cache, "sensor"))
	}
	if b, err := exec.Command(docker, "image", "inspect", "-f", "{{.Id}}", slimTag).CombinedOutput(); err != nil {
		t.Errorf("%s was not written: %v\n%s", slimTag, err, b)
	}
}

// withoutGo returns env with a PATH that has no go program on it.
func withoutGo(env []string) []string {
	var out []string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			var keep []string
			for _, d := range filepath.SplitList(v) {
				if _, err := os.Stat(filepath.Join(d, "go")); err != nil {
					keep = append(keep, d)
				}
			}
			kv = "PATH=" + strings.Join(keep, string(filepath.ListSeparator))
		}
		out = append(out, kv)
	}
	return out
}
