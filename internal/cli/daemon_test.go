package cli_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// dockerImage imports the Alpine 3.20 root filesystem into the Docker
// Engine and builds an image on it that writes a 3 MiB file in one layer
// and deletes it in the next. It returns the built image's tag.
func dockerImage(t *testing.T) string {
	t.Helper()
	base := testenv.AlpineImage(t)
	docker := testenv.DockerCLI(t)
	dir := t.TempDir()
	df := "FROM " + base + "\n" +
		"RUN head -c 3145728 /dev/urandom > /big.bin\n" +
		"RUN rm /big.bin\n" +
		"CMD [\"/bin/sh\"]\n"
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	tag := "shipshape-test/wasteful:" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	cmd := exec.Command(docker, "build", "-q", "-t", tag, dir)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command(docker, "rmi", "-f", tag).Run() })
	return tag
}

func TestScanDockerDaemon(t *testing.T) {
	tag := dockerImage(t)
	for _, ref := range []string{"docker-daemon:" + tag, tag} {
		t.Run(ref, func(t *testing.T) {
			rep := scanJSON(t, ref)
			if rep.Image.Transport != "docker-daemon" {
				t.Errorf("transport = %q", rep.Image.Transport)
			}
			if n := len(rep.Image.Layers); n != 3 {
				t.Fatalf("layers = %d, want 3 (import, RUN head, RUN rm)", n)
			}
			if l := rep.Image.Layers[0]; l.Files < 80 || !strings.Contains(l.CreatedBy, "Imported") && l.CreatedBy != "" {
				t.Errorf("base layer: %d files, createdBy %q", l.Files, l.CreatedBy)
			}
			var found bool
			for _, f := range rep.Findings {
				if f.Rule == "SS-P8-002" && f.Path == "/big.bin" {
					found = true
					if f.Layer != 2 || f.RemovedInLayer != 3 || f.InFinalImage == nil || *f.InFinalImage {
						t.Errorf("wasted-file evidence: layer %d removedIn %d inFinal %v", f.Layer, f.RemovedInLayer, f.InFinalImage)
					}
					if !strings.Contains(f.CreatedBy, "head -c 3145728") {
						t.Errorf("createdBy = %q, want the RUN that wrote it", f.CreatedBy)
					}
				}
			}
			if !found {
				t.Errorf("no SS-P8-002 finding for /big.bin: %+v", rep.Findings)
			}
		})
	}
	// --debug tells what the export from the Engine cost.
	res := run(t, "scan", "--debug", "-f", "json", "-o", os.DevNull, "--cache-dir", t.TempDir(), "docker-daemon:"+tag)
	if want := `msg="image exported from the Docker Engine" ref=` + tag + " id=sha256:"; res.code == 2 || !strings.Contains(res.stderr, want) {
		t.Errorf("scan --debug: exit %d, no %q in its log:\n%s", res.code, want, res.stderr)
	}
}

func TestScanDaemonMissingImage(t *testing.T) {
	testenv.Docker(t)
	r := run(t, "scan", "--cache-dir", t.TempDir(), "docker-daemon:shipshape-test/does-not-exist:never")
	if r.code != 2 || !strings.Contains(r.stderr, "does-not-exist") {
		t.Errorf("exit %d, stderr %q; want 2 naming the image", r.code, r.stderr)
	}
}

// TestConcurrentScansShareCache runs two shipshape processes at once on one
// cache directory: both must succeed, and a later scan hits the cache.
func TestConcurrentScansShareCache(t *testing.T) {
	tag := dockerImage(t)
	cacheDir := t.TempDir()
	var cmds []*exec.Cmd
	var outs []*strings.Builder
	for i := 0; i < 2; i++ {
		c := command("scan", "--format", "json", "--cache-dir", cacheDir, "docker-daemon:"+tag)
		var o, e strings.Builder
		c.Stdout, c.Stderr = &o, &e
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
		outs = append(outs, &e)
	}
	for i, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Errorf("scan %d: %v: %s", i, err, outs[i])
		}
	}
	r := run(t, "scan", "--format", "json", "--cache-dir", cacheDir, "docker-daemon:"+tag)
	if !strings.Contains(r.stdout, `"cached": true`) {
		t.Errorf("third scan did not hit the cache")
	}
}
