package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
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
