package main_test

import (
	"compress/gzip"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// TestInterruptCleansUp sends SIGINT, then SIGTERM, to the real binary
// while it decompresses a large gzip-compressed archive into its cache
// directory: each must end the scan within two seconds, with exit code 2,
// and leave no temporary file behind.
func TestInterruptCleansUp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	gobin := testenv.Binary(t, "go")
	dir := t.TempDir()
	bin := filepath.Join(dir, "shipshape")
	if out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// 3 GiB of zeros in one layer: a few MiB once gzipped, seconds to
	// inflate into the cache directory.
	img := imagetest.Image{Layers: []imagetest.Layer{{Files: []imagetest.File{{Name: "big.bin", Size: 3 << 30}}}}}
	archive := filepath.Join(dir, "big.tar.gz")
	f, err := os.Create(archive)
	if err != nil {
		t.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	if _, err := img.WriteDockerArchiveTo(zw, true); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cache := t.TempDir()
			cmd := exec.Command(bin, "scan", "--quiet", "--cache-dir", cache, "-f", "json", "-o", filepath.Join(dir, "report.json"), "docker-archive:"+archive)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Wait until the archive is being inflated into the cache.
			deadline := time.Now().Add(20 * time.Second)
			for !hasFiles(filepath.Join(cache, "tmp")) {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatal("the scan never started writing its temporary files")
				}
				time.Sleep(20 * time.Millisecond)
			}
			sent := time.Now()
			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != 2 {
					t.Errorf("after %s: %v, want exit code 2", sig, err)
				}
				t.Logf("%s: ended %v after the signal", sig, time.Since(sent).Round(time.Millisecond))
			case <-time.After(2 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("still running 2s after %s", sig)
			}
			if hasFiles(filepath.Join(cache, "tmp")) {
				t.Errorf("temporary files left in %s", filepath.Join(cache, "tmp"))
			}
			if _, err := os.Stat(filepath.Join(dir, "report.json")); err == nil {
				t.Error("an interrupted scan wrote a report")
			}
		})
	}
}

// hasFiles reports whether dir holds anything.
func hasFiles(dir string) bool {
	found := false
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && p != dir {
			found = true
			return filepath.SkipAll
		}
		return nil
	})
	return found
}
