package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// TestScanDockerfileLines builds an image with the Docker Engine's builder
// and checks that scan --dockerfile points image findings at the lines
// that made their layers.
func TestScanDockerfileLines(t *testing.T) {
	testenv.Docker(t)
	docker := testenv.DockerCLI(t)
	rootfs := testenv.SharedData(t, "rootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz")
	stamp := time.Now().UnixNano()
	base := fmt.Sprintf("ss5-test-dfbase:%d", stamp)
	tag := fmt.Sprintf("ss5-test-dflines:%d", stamp)
	sh := func(dir string, args ...string) {
		t.Helper()
		cmd := exec.Command(docker, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("docker %v: %v\n%s", args, err, out)
		}
	}
	sh("", "import", rootfs, base)
	t.Cleanup(func() { exec.Command(docker, "rmi", "-f", tag, base).Run() })

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "big.bin"), []byte(strings.Repeat("x", 2<<20)), 0o644)
	dockerfile := "FROM " + base + "\n" + // 1
		"ARG VERSION=1\n" + // 2
		"COPY big.bin /big.bin\n" + // 3
		"RUN adduser -D app \\\n" + // 4
		" && cp /bin/busybox /usr/bin/su2 && chmod 4755 /usr/bin/su2 && rm /big.bin\n" + // 5
		"RUN mkdir /shared && chmod 777 /shared\n" + // 6
		"USER root\n" + // 7
		"EXPOSE 22\n" // 8
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644)
	sh(dir, "build", "-q", "-t", tag, ".")

	// Alpine 3.20 is end of life as of this (pinned) date.
	rep := scanJSON(t, "docker-daemon:"+tag, "--dockerfile", filepath.Join(dir, "Dockerfile"), "--now", "2026-11-30")
	want := map[string]int{
		"SS-P2-001": 7, // USER root
		"SS-P2-004": 4, // setuid su2, made by the RUN on lines 4-5
		"SS-P2-011": 6, // chmod 777
		"SS-P8-002": 3, // big.bin copied, then deleted
		"SS-P9-003": 1, // base from the FROM line
		"SS-P3-001": 1, // Alpine 3.20 is end of life: a base-layer file, fixed on the FROM line
	}
	got := map[string]*scorecard.Source{}
	for _, f := range rep.Findings {
		if _, ok := want[f.Rule]; ok && got[f.Rule] == nil {
			got[f.Rule] = f.Source
		}
	}
	for rule, line := range want {
		s := got[rule]
		if s == nil {
			t.Errorf("%s: no finding or no source", rule)
			continue
		}
		if s.StartLine != line || filepath.Base(s.File) != "Dockerfile" {
			t.Errorf("%s: source %s:%d, want Dockerfile:%d", rule, s.File, s.StartLine, line)
		}
	}
	if s := got["SS-P2-004"]; s != nil && s.EndLine != 5 {
		t.Errorf("multi-line RUN: end line %d, want 5", s.EndLine)
	}
	// The base image comes from the Dockerfile's FROM.
	b, _ := rep.Sections["base"].(map[string]any)
	if b["source"] != "dockerfile FROM" || !strings.Contains(fmt.Sprint(b["name"]), "ss5-test-dfbase") {
		t.Errorf("base section %v", rep.Sections["base"])
	}
}
