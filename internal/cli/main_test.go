package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/cli"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// TestMain lets the test binary act as the shipshape command, so that tests
// can start real, separate shipshape processes.
func TestMain(m *testing.M) {
	if os.Getenv("SHIPSHAPE_TEST_AS_CLI") == "1" {
		os.Exit(cli.Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
	}
	// Scans must not depend on a vulnerability database in the user's
	// cache directory: point them at an empty one.
	if os.Getenv("SHIPSHAPE_DB_DIR") == "" {
		dir, err := os.MkdirTemp("", "shipshape-cli-test-db-")
		if err != nil {
			panic(err)
		}
		os.Setenv("SHIPSHAPE_DB_DIR", dir)
		code := m.Run()
		os.RemoveAll(dir)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// result is what one shipshape run produced.
type result struct {
	stdout, stderr string
	code           int
}

// run runs shipshape in-process.
func run(t *testing.T, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, strings.NewReader(""), &out, &errb)
	return result{out.String(), errb.String(), code}
}

// command returns a shipshape process to start.
func command(args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "SHIPSHAPE_TEST_AS_CLI=1")
	return cmd
}

// scanJSON scans ref and decodes the JSON report.
func scanJSON(t *testing.T, ref string, extra ...string) *scorecard.Report {
	t.Helper()
	args := append([]string{"scan", "--format", "json", "--cache-dir", t.TempDir()}, extra...)
	r := run(t, append(args, ref)...)
	if r.code != 0 {
		t.Fatalf("scan %s: exit %d: %s", ref, r.code, r.stderr)
	}
	var rep scorecard.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("scan %s: bad JSON: %v\n%s", ref, err, r.stdout)
	}
	return &rep
}

func practice(rep *scorecard.Report, id scorecard.Practice) scorecard.PracticeResult {
	for _, p := range rep.Practices {
		if p.ID == id {
			return p
		}
	}
	return scorecard.PracticeResult{}
}

func TestVersionAndCacheClean(t *testing.T) {
	v1, v2 := run(t, "version"), run(t, "--version")
	if v1.code != 0 || v1.stdout != v2.stdout || !strings.HasPrefix(v1.stdout, "shipshape ") {
		t.Errorf("version %q and --version %q differ", v1.stdout, v2.stdout)
	}
	dir := t.TempDir()
	for _, d := range []string{"layers/ab", "vulndb", "slim"} {
		os.MkdirAll(filepath.Join(dir, d), 0o700)
	}
	os.WriteFile(filepath.Join(dir, "layers/ab/x"), []byte("x"), 0o600)
	r := run(t, "cache", "clean", "--cache-dir", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "kept the vulnerability database (vulndb), slim records (slim)") {
		t.Errorf("cache clean: %d %q", r.code, r.stdout)
	}
	if _, err := os.Stat(filepath.Join(dir, "layers/ab/x")); err == nil {
		t.Error("a layer result survived cache clean")
	}
	if _, err := os.Stat(filepath.Join(dir, "vulndb")); err != nil {
		t.Error("cache clean removed the vulnerability database")
	}
	if r := run(t, "cache", "clean", "--all", "--cache-dir", dir); r.code != 0 {
		t.Fatalf("cache clean --all: %d %s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "vulndb")); err == nil {
		t.Error("cache clean --all kept the vulnerability database")
	}
}
