package imagecfg

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// dockerCLI is the docker command found by testenv.
var dockerCLI = "docker"

func docker(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(dockerCLI, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// alpineBase imports the shared Alpine minirootfs into the Docker Engine
// under a unique name and removes it at the end of the test.
func alpineBase(t *testing.T) string {
	t.Helper()
	testenv.Docker(t)
	dockerCLI = testenv.DockerCLI(t)
	rootfs := testenv.SharedData(t, "rootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz")
	name := fmt.Sprintf("ss5-test-alpine:%d", time.Now().UnixNano())
	docker(t, "", "import", rootfs, name)
	t.Cleanup(func() { exec.Command(dockerCLI, "rmi", "-f", name).Run() })
	return name
}

// build builds a Dockerfile with the classic builder (the engine has no
// BuildKit) and returns the image name.
func build(t *testing.T, dir, name, dockerfile string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile."+name), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("ss5-test-%s:%d", name, time.Now().UnixNano())
	docker(t, dir, "build", "-q", "-f", "Dockerfile."+name, "-t", tag, ".")
	t.Cleanup(func() { exec.Command(dockerCLI, "rmi", "-f", tag).Run() })
	return tag
}

// setcapTool builds a static helper that writes a security.capability
// xattr (the Alpine minirootfs has no setcap).
func setcapTool(t *testing.T, dir string) {
	t.Helper()
	src := filepath.Join(dir, "setcap")
	os.MkdirAll(src, 0o755)
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module setcap\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(src, "main.go"), []byte(`package main

import (
	"encoding/hex"
	"os"
	"syscall"
)

func main() {
	v, _ := hex.DecodeString(os.Args[2])
	if err := syscall.Setxattr(os.Args[1], "security.capability", v, 0); err != nil {
		os.Stderr.WriteString(err.Error() + "\n")
		os.Exit(1)
	}
}
`), 0o644)
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", filepath.Join(dir, "setcapx"), ".")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOWORK=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building setcap helper: %v\n%s", err, out)
	}
}

func TestDockerImages(t *testing.T) {
	base := alpineBase(t)
	dir := t.TempDir()
	setcapTool(t, dir)
	for _, tc := range []struct {
		name       string
		dockerfile string
		want       []string // rules that must be reported
		absent     []string // rules that must not be
		summary    string
	}{
		{"root", "FROM " + base + "\nRUN echo hi > /hello\n", []string{"SS-P2-001"}, []string{"SS-P2-002", "SS-P2-003"}, "runs as root (no USER)"},
		{"app", "FROM " + base + "\nRUN adduser -D app\nUSER app\n", nil, []string{"SS-P2-001", "SS-P2-002", "SS-P2-003"}, "runs as app (uid 1000)"},
		{"uid", "FROM " + base + "\nUSER 10001\n", []string{"SS-P2-003"}, []string{"SS-P2-001", "SS-P2-002"}, "runs as uid 10001 (no passwd entry)"},
		{"ghost", "FROM " + base + "\nUSER ghost\n", []string{"SS-P2-002"}, []string{"SS-P2-001", "SS-P2-003"}, "USER ghost does not exist"},
		{"caps", "FROM " + base + "\nCOPY setcapx /setcapx\n" +
			"RUN cp /bin/busybox /usr/bin/ping2 && /setcapx /usr/bin/ping2 0100000200200000000000000000000000000000 && " +
			"cp /bin/busybox /usr/bin/su2 && chmod 4755 /usr/bin/su2 && rm /setcapx && adduser -D app\nUSER app\nEXPOSE 22\n",
			[]string{"SS-P2-004", "SS-P2-005", "SS-P8-011"}, []string{"SS-P2-001"}, "runs as app"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tag := build(t, dir, tc.name, tc.dockerfile)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			img, err := image.Open(ctx, "docker-daemon:"+tag, image.Options{TempDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer img.Close()
			out := run(t, &Analyzer{}, img)
			got := ruleIDs(out)
			for _, w := range tc.want {
				if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, w+" ") }) {
					t.Errorf("missing %s in %v", w, got)
				}
			}
			for _, a := range tc.absent {
				if slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, a+" ") }) {
					t.Errorf("unexpected %s in %v", a, got)
				}
			}
			if s := out.Coverage[0].Summary; !strings.HasPrefix(s, tc.summary) {
				t.Errorf("P2 summary %q, want prefix %q", s, tc.summary)
			}
			// Alpine 3.20 is end of life on the test clock (2026-11-01).
			if len(find(out, "SS-P3-001")) != 1 {
				t.Errorf("want SS-P3-001 for alpine 3.20: %v", got)
			}
			if tc.name == "caps" {
				c := find(out, "SS-P2-005")[0]
				if c.Path != "/usr/bin/ping2" || c.Layer != 3 || !strings.Contains(c.CreatedBy, "setcapx") {
					t.Errorf("capability finding: %+v", c)
				}
				var su *string
				for _, f := range find(out, "SS-P2-004") {
					if f.Path == "/usr/bin/su2" {
						su = &f.Path
					}
				}
				if su == nil {
					t.Errorf("setuid su2 not reported: %v", got)
				}
			}
		})
	}
}
