package rules

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repoRoot is the module root, two levels up.
const repoRoot = "../.."

func TestTableIsWellFormed(t *testing.T) {
	seen := map[string]bool{}
	idRE := regexp.MustCompile(`^SS-P([2-9])-\d{3}$`)
	for _, r := range Image {
		m := idRE.FindStringSubmatch(r.ID)
		if m == nil {
			t.Errorf("%s: not an image rule id (SS-P[2-9]-NNN)", r.ID)
			continue
		}
		if seen[r.ID] {
			t.Errorf("%s: listed twice", r.ID)
		}
		seen[r.ID] = true
		if string(r.Practice) != "P"+m[1] {
			t.Errorf("%s: practice %s", r.ID, r.Practice)
		}
		if r.Title == "" || r.Help == "" || r.Severity.Rank() < 0 {
			t.Errorf("%s: incomplete: %+v", r.ID, r)
		}
	}
}

// Every image rule id in the code is in the table, each is reported by one
// package only (two analyzers once shared SS-P8-010 for two meanings), and
// every rule in the table is reported somewhere.
func TestCodeUsesTheTable(t *testing.T) {
	litRE := regexp.MustCompile(`"(SS-P[2-9]-\d{3})[":]`)
	rawRE := regexp.MustCompile(`Rule:\s*"SS-P[2-9]-\d{3}"|Practice:\s*scorecard\.P[2-9],\s*Rule:`)
	pkgs := map[string]map[string]bool{} // id → packages
	err := filepath.WalkDir(filepath.Join(repoRoot, "internal"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") || strings.Contains(p, "internal/rules/") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		// Findings take their rule, practice and default severity from
		// the table (Finding), never from literals of their own.
		for _, m := range rawRE.FindAllString(string(b), -1) {
			t.Errorf("%s: %q: build image findings with rules.Finding", p, m)
		}
		for _, m := range litRE.FindAllStringSubmatch(string(b), -1) {
			if pkgs[m[1]] == nil {
				pkgs[m[1]] = map[string]bool{}
			}
			pkgs[m[1]][filepath.Dir(p)] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for id, where := range pkgs {
		if _, ok := Lookup(id); !ok {
			t.Errorf("%s is reported (%v) but not in the rule table", id, keys(where))
		}
		if len(where) > 1 {
			t.Errorf("%s is reported by %d packages %v: one id, one meaning", id, len(where), keys(where))
		}
	}
	for _, r := range Image {
		if pkgs[r.ID] == nil {
			t.Errorf("%s is in the table but no analyzer reports it", r.ID)
		}
	}
}

// docs/image-checks.md lists exactly the table's rules, with their
// practices and severities.
func TestDocsInStep(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot, "docs", "image-checks.md"))
	if err != nil {
		t.Fatal(err)
	}
	rowRE := regexp.MustCompile(`(?m)^\| (SS-P[2-9]-\d{3}) \| (P\d) \| ([^|]+) \|`)
	doc := map[string][2]string{}
	for _, m := range rowRE.FindAllStringSubmatch(string(b), -1) {
		doc[m[1]] = [2]string{m[2], strings.TrimSpace(m[3])}
	}
	for _, r := range Image {
		want := string(r.Severity)
		if r.SeverityNote != "" {
			want += " (" + r.SeverityNote + ")"
		}
		got, ok := doc[r.ID]
		switch {
		case !ok:
			t.Errorf("%s is missing from docs/image-checks.md", r.ID)
		case got[0] != string(r.Practice) || got[1] != want:
			t.Errorf("docs/image-checks.md: %s is %s, %q; the table says %s, %q", r.ID, got[0], got[1], r.Practice, want)
		}
		delete(doc, r.ID)
	}
	for id := range doc {
		t.Errorf("docs/image-checks.md lists %s, which is not in the rule table", id)
	}
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
