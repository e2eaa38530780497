package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/schematest"
)

func lintCLI(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	if dir != "" {
		wd, _ := os.Getwd()
		if err := os.Chdir(dir); err != nil {
			t.Fatal(err)
		}
		defer os.Chdir(wd)
	}
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

const lintDockerfile = `FROM alpine:3.22
# shipshape:ignore SS-DF-011 cache mounted by CI
RUN apk add curl
RUN curl -fsSL https://get.example.com | sh
COPY . .
`

func TestLintFormats(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(lintDockerfile), 0o644)

	out, stderr, code := lintCLI(t, dir, "lint", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep struct {
		Findings []struct {
			Rule   string
			Source struct {
				File      string
				StartLine int
			}
		}
		Suppressed []struct{ Rule, Source string }
		Practices  []struct{ ID, Status string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	lines := map[string]int{}
	for _, f := range rep.Findings {
		lines[f.Rule] = f.Source.StartLine
		if f.Source.File != "Dockerfile" {
			t.Errorf("source file %q", f.Source.File)
		}
	}
	for rule, line := range map[string]int{"SS-DF-001": 1, "SS-DF-003": 1, "SS-DF-007": 4, "SS-DF-018": 5} {
		if lines[rule] != line {
			t.Errorf("%s at line %d, want %d (all: %v)", rule, lines[rule], line, lines)
		}
	}
	if _, ok := lines["SS-DF-011"]; ok || len(rep.Suppressed) != 1 || rep.Suppressed[0].Source != "Dockerfile:2" {
		t.Errorf("inline ignore: %+v", rep.Suppressed)
	}
	if rep.Practices[1].Status != "fail" || rep.Practices[4].Status != "not-run" {
		t.Errorf("practices %+v", rep.Practices)
	}

	out, _, code = lintCLI(t, dir, "lint", "--format", "sarif", "Dockerfile")
	if code != 0 || !strings.Contains(out, `"startLine": 4`) || !strings.Contains(out, `"uri": "Dockerfile"`) {
		t.Errorf("sarif (exit %d) lacks Dockerfile line 4:\n%s", code, out)
	}
	schematest.Validate(t, "../report/testdata/sarif-schema-2.1.0.json", []byte(out))

	out, _, _ = lintCLI(t, dir, "lint")
	if !strings.Contains(out, "Dockerfile:4") || !strings.Contains(out, "SS-DF-007") {
		t.Errorf("table:\n%s", out)
	}

	_, _, code = lintCLI(t, dir, "lint", "--severity", "high", "--exit-code", "3")
	if code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
}

func TestLintPolicy(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(lintDockerfile), 0o644)
	os.WriteFile(filepath.Join(dir, ".shipshape.yaml"), []byte("rules:\n  SS-DF-007: off\n  SS-DF-001: low\n"), 0o644)
	out, stderr, code := lintCLI(t, dir, "lint", "--format", "json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep struct {
		Findings   []struct{ Rule string }
		Suppressed []struct{ Rule, Source string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Findings {
		if f.Rule == "SS-DF-007" {
			t.Errorf("SS-DF-007 not switched off")
		}
	}
	if !strings.Contains(out, `".shipshape.yaml:2"`) {
		t.Errorf("switched-off rule not listed as suppressed:\n%s", out)
	}
	if !strings.Contains(out, `"policySeverityFrom": "high"`) {
		t.Errorf("SS-DF-001 not re-levelled")
	}
	os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("rules:\n  SS-DF-007: off\nregistry:\n  trusted: []\n"), 0o644)
	_, stderr, code = lintCLI(t, dir, "lint", "--config", "bad.yaml")
	if code != ExitError || !strings.Contains(stderr, `line 3: unknown key "registry"`) {
		t.Errorf("unknown key: exit %d, %s", code, stderr)
	}
}

func TestLintStdin(t *testing.T) {
	var out, errb bytes.Buffer
	code := Main(context.Background(), []string{"lint", "-f", "json", "-"}, strings.NewReader("FROM alpine\nRUN sudo true\n"), &out, &errb)
	if code != 0 || !strings.Contains(out.String(), `"SS-DF-016"`) || !strings.Contains(out.String(), `"file": "-"`) {
		t.Errorf("exit %d: %s %s", code, out.String(), errb.String())
	}
}

func TestLintErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM alpine\nFROBNICATE\n"), 0o644)
	_, stderr, code := lintCLI(t, dir, "lint")
	if code != ExitError || !strings.Contains(stderr, "line 2") {
		t.Errorf("exit %d: %s", code, stderr)
	}
	_, stderr, code = lintCLI(t, dir, "lint", "missing/Dockerfile")
	if code != ExitError || !strings.Contains(stderr, "missing/Dockerfile") {
		t.Errorf("exit %d: %s", code, stderr)
	}
}
