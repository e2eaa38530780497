// Package testenv gives integration tests the outside things they need (the
// Docker daemon, the docker CLI, a throwaway registry, tools such as skopeo or
// umoci, the shared test data, Debian root filesystems and images built once
// with debootstrap and cached) and decides what happens when one is missing.
//
// By default a missing dependency skips the test with a message saying what
// was missing and why. CI sets SHIPSHAPE_REQUIRE_INTEGRATION=1 (see
// [EnvRequireIntegration]), which turns every such skip into a failure, so
// that a broken environment cannot pass as a green run.
package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
)

// EnvRequireIntegration names the environment variable that makes a missing
// integration dependency fail the test instead of skipping it. Any value
// that strconv.ParseBool reads as true ("1", "true") enables it.
const EnvRequireIntegration = "SHIPSHAPE_REQUIRE_INTEGRATION"

// EnvSharedData names an optional environment variable holding the
// real-world test data directory. When it is unset, [SharedData] uses the
// repository's testdata/data.
const EnvSharedData = "SHIPSHAPE_SHARED_DATA"

// pingTimeout bounds the check that the Docker daemon answers.
const pingTimeout = 10 * time.Second

// Required reports whether EnvRequireIntegration is set to a true value, that
// is whether [Require] fails tests rather than skipping them.
func Required() bool {
	v, err := strconv.ParseBool(os.Getenv(EnvRequireIntegration))
	return err == nil && v
}

// Require stops the test when err is non-nil, saying that what (for
// example "docker daemon") is unavailable and why. It skips the test, unless
// [EnvRequireIntegration] is set, in which case the test fails. It does
// nothing when err is nil.
//
//	cli, err := somethingOptional()
//	testenv.Require(t, "something", err)
func Require(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if Required() {
		t.Fatalf("%s unavailable: %v (%s is set, so this is a failure)", what, err, EnvRequireIntegration)
		return
	}
	msg := fmt.Sprintf("%s unavailable: %v; set %s=1 to make this a failure", what, err, EnvRequireIntegration)
	tellTerminal(t.Name(), msg)
	t.Skipf("%s", msg)
}

// tellTerminal writes a skipped test's reason straight to the terminal of
// whoever runs the tests: "go test ./..." shows a skip only with -v, and a
// person must not mistake a skipped integration test for a passing one.
// Without a terminal (CI) it writes nothing.
func tellTerminal(test, msg string) {
	tty, err := os.OpenFile("/dev/tty", os.O_WRONLY, 0)
	if err != nil {
		return
	}
	defer tty.Close()
	fmt.Fprintf(tty, "shipshape tests: SKIPPED %s: %s\n", test, msg)
}

// Docker returns a client of the Docker daemon configured from the
// environment (DOCKER_HOST and friends, as client.FromEnv reads them), once
// the daemon has answered a ping, with the API version negotiated. The client
// is closed when the test ends. An unreachable daemon is handled by
// [Require].
func Docker(t testing.TB) *client.Client {
	t.Helper()
	cli, err := dockerClient()
	Require(t, "docker daemon", err)
	t.Cleanup(func() { _ = cli.Close() })
	return cli
}

func dockerClient() (*client.Client, error) {
	cli, err := client.New(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("create docker client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), pingTimeout)
	defer cancel()
	if _, err := cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = cli.Close()
		return nil, fmt.Errorf("ping docker daemon at %s: %w", cli.DaemonHost(), err)
	}
	return cli, nil
}

// DockerCLI returns the path of the docker command-line client found on
// PATH. A missing client is handled by [Require]. It does not check the
// daemon: call [Docker] as well for that.
func DockerCLI(t testing.TB) string {
	t.Helper()
	p, err := lookPath("docker")
	Require(t, "docker CLI", err)
	return p
}

// Binary returns the path of the program name found on PATH (skopeo, umoci,
// chromium, …). A missing program is handled by [Require].
func Binary(t testing.TB, name string) string {
	t.Helper()
	p, err := lookPath(name)
	Require(t, name, err)
	return p
}

func lookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("look up %s on PATH: %w", name, err)
	}
	return p, nil
}

// SharedData returns the path of rel inside the project's committed
// real-world test data: the directory named by [EnvSharedData] when it is
// set, otherwise testdata/data in the repository root (the nearest
// directory above the test's working directory that holds go.mod), that is
// <root>/testdata/data/<rel>. The files and their sources and licences are
// listed in its README. rel is slash- or OS-separated and may not
// leave the data directory; "" names the directory itself. The path must
// exist; a missing one is handled
// by [Require].
func SharedData(t testing.TB, rel string) string {
	t.Helper()
	p, err := sharedData(rel)
	Require(t, "shared test data", err)
	return p
}

func sharedData(rel string) (string, error) {
	if rel == "" {
		rel = "."
	}
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("shared data path %q must be relative and stay inside the data directory", rel)
	}
	base := os.Getenv(EnvSharedData)
	if base == "" {
		wd, err := os.Getwd()
		if err != nil {
			return "", fmt.Errorf("find shared data: %w", err)
		}
		root, err := repoRoot(wd)
		if err != nil {
			return "", fmt.Errorf("find shared data: %w", err)
		}
		base = filepath.Join(root, "testdata", "data")
	}
	p := filepath.Join(base, rel)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("shared data %s: %w", rel, err)
	}
	return p, nil
}

// repoRoot returns the nearest directory at or above dir that holds go.mod.
func repoRoot(dir string) (string, error) {
	return findRepoRoot(dir, os.Stat)
}

// findRepoRoot is repoRoot with the file system reached through stat.
func findRepoRoot(dir string, stat func(string) (os.FileInfo, error)) (string, error) {
	for d := dir; ; {
		if _, err := stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("look for go.mod in %s: %w", d, err)
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod at or above %s", dir)
		}
		d = parent
	}
}

// CountedBinary is [Binary] behind a wrapper script that counts its runs:
// it returns the wrapper's path, which runs name with the same arguments,
// and a function that tells how many times it has run. Tests use it to
// show that a code path really ran the program.
func CountedBinary(t testing.TB, name string) (string, func() int) {
	t.Helper()
	prog := Binary(t, name)
	dir := t.TempDir()
	log := filepath.Join(dir, "runs")
	wrapper := filepath.Join(dir, name+"-wrapper")
	script := fmt.Sprintf("#!/bin/sh\necho >> %q\nexec %q \"$@\"\n", log, prog)
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return wrapper, func() int {
		b, _ := os.ReadFile(log)
		return strings.Count(string(b), "\n")
	}
}
