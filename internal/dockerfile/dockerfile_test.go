package dockerfile

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// render is the golden form of a lint result.
func render(fs []scorecard.Finding, sup []scorecard.Suppressed, warns []string) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "%d-%d %s %s %s %s\n", f.Source.StartLine, f.Source.EndLine, f.Practice, f.Severity, f.Rule, f.Title)
		if f.Evidence["reason"] != nil {
			fmt.Fprintf(&b, "    reason: %v\n", f.Evidence["reason"])
		}
	}
	for _, s := range sup {
		fmt.Fprintf(&b, "suppressed %s at %s: %s\n", s.Rule, filepath.Base(s.Source), s.Reason)
	}
	for _, w := range warns {
		fmt.Fprintf(&b, "warning %s\n", filepath.Base(w))
	}
	return b.String()
}

func lintFile(t *testing.T, path string) ([]scorecard.Finding, []scorecard.Suppressed, []string) {
	t.Helper()
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	opts := Options{}
	pol := strings.TrimSuffix(path, ".Dockerfile") + ".shipshape.yaml"
	if _, err := os.Stat(pol); err == nil {
		p, err := policy.Load(pol)
		if err != nil {
			t.Fatal(err)
		}
		opts.Policy = p
	}
	fs, sup := Lint(f, opts)
	return fs, sup, f.Warnings
}

func TestRulesGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/rules/*.Dockerfile")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	covered := map[string][2]bool{}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".Dockerfile")
		t.Run(name, func(t *testing.T) {
			fs, sup, warns := lintFile(t, path)
			got := render(fs, sup, warns)
			golden := strings.TrimSuffix(path, ".Dockerfile") + ".golden"
			if *update {
				os.WriteFile(golden, []byte(got), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update)", err)
			}
			if got != string(want) {
				t.Errorf("lint %s:\n got:\n%s\nwant:\n%s", path, got, want)
			}
			// A bad fixture must raise its rule; a good one must not.
			rule, kind, _ := strings.Cut(name, ".")
			if !strings.HasPrefix(rule, "SS-DF-") {
				return
			}
			has := false
			for _, f := range fs {
				if f.Rule == rule && f.Severity != scorecard.Info || f.Rule == rule && (rule == "SS-DF-012" || rule == "SS-DF-019" || strings.HasPrefix(kind, "safe")) {
					has = true
				}
			}
			c := covered[rule]
			switch {
			case strings.HasPrefix(kind, "bad"):
				c[0] = true
				if !has {
					t.Errorf("%s does not report %s", path, rule)
				}
			case strings.HasPrefix(kind, "good"):
				c[1] = true
				if has {
					t.Errorf("%s reports %s", path, rule)
				}
			}
			covered[rule] = c
		})
	}
	for _, r := range Rules {
		if c := covered[r.ID]; !c[0] || !c[1] {
			t.Errorf("rule %s lacks a good or bad fixture: %v", r.ID, c)
		}
	}
}

func TestDockerignoreBeside(t *testing.T) {
	fs, _, _ := lintFile(t, "testdata/withignore/Dockerfile")
	for _, f := range fs {
		if f.Rule == "SS-DF-018" {
			t.Errorf("COPY . reported although .dockerignore exists: %+v", f)
		}
	}
}

func TestSafeBuildStageSecret(t *testing.T) {
	fs, _, _ := lintFile(t, "testdata/rules/SS-DF-013.safe-build-stage.Dockerfile")
	n := 0
	for _, f := range fs {
		if f.Rule == "SS-DF-013" {
			n++
			if f.Severity != scorecard.Info || f.Evidence["safe"] != true {
				t.Errorf("secret in an unreferenced build stage: %+v", f)
			}
		}
	}
	if n != 1 {
		t.Errorf("want one SS-DF-013, got %d", n)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"", "no instructions"},
		{"# just a comment\nARG X=1\n", "no FROM"},
		{"RUN echo\n", "line 1"},
		{"FROM alpine\nFROBNICATE x\n", "line 2"},
		{"FROM alpine\nCOPY --from= a b\nUSER\n", "line 3"},
	} {
		_, err := Parse("Dockerfile", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.src, err, tc.want)
		}
	}
}

func TestBaseAndChain(t *testing.T) {
	f, err := Parse("Dockerfile", []byte("ARG V=3.22\nFROM alpine:${V} AS base\nRUN true\nFROM golang:1.22 AS build\nFROM base AS final\nCOPY --from=build /a /a\nFROM scratch AS unused\n"))
	if err != nil {
		t.Fatal(err)
	}
	// The last stage is "unused" (FROM scratch): its base is empty.
	if b, _ := f.Base(); b != "" {
		t.Errorf("base of a scratch final stage: %q", b)
	}
	f, _ = Parse("Dockerfile", []byte("ARG V=3.22\nFROM alpine:${V} AS base\nRUN true\nFROM golang:1.22 AS build\nFROM base AS final\nCOPY --from=build /a /a\n"))
	if b, line := f.Base(); b != "alpine:3.22" || line != 2 {
		t.Errorf("Base() = %q, %d", b, line)
	}
	if r := f.Reachable(); !r[0] || !r[1] || !r[2] || len(r) != 3 {
		t.Errorf("Reachable() = %v", r)
	}
}

func TestMapHistory(t *testing.T) {
	f, err := Parse("Dockerfile", []byte(`FROM alpine:3.22 AS base
RUN apk add --no-cache curl
FROM base
ARG VERSION=1
COPY app /app
RUN chmod 4755 /app \
 && true
USER app
EXPOSE 8080
`))
	if err != nil {
		t.Fatal(err)
	}
	classic := []string{
		"/bin/sh -c #(nop) ADD file:abc in / ",
		`/bin/sh -c #(nop)  CMD ["/bin/sh"]`,
		"/bin/sh -c apk add --no-cache curl",
		"/bin/sh -c #(nop)  ARG VERSION=1",
		"/bin/sh -c #(nop) COPY file:123 in /app ",
		"|1 VERSION=1 /bin/sh -c chmod 4755 /app  && true",
		"/bin/sh -c #(nop)  USER app",
		"/bin/sh -c #(nop)  EXPOSE 8080",
	}
	buildkit := []string{
		"ADD alpine-minirootfs.tar.gz / # buildkit",
		`CMD ["/bin/sh"]`,
		"RUN /bin/sh -c apk add --no-cache curl # buildkit",
		"COPY app /app # buildkit",
		"RUN |1 VERSION=1 /bin/sh -c chmod 4755 /app  && true # buildkit",
		"USER app",
		"EXPOSE map[8080/tcp:{}]",
	}
	for name, tc := range map[string]struct {
		hist []string
		want map[int]int // history index → line
	}{
		"classic":  {classic, map[int]int{2: 2, 3: 4, 4: 5, 5: 6, 6: 8, 7: 9}},
		"buildkit": {buildkit, map[int]int{2: 2, 3: 5, 4: 6, 5: 8, 6: 9}},
	} {
		got := f.MapHistory(tc.hist)
		if len(got) != len(tc.want) {
			t.Errorf("%s: mapped %v, want %v", name, got, tc.want)
		}
		for i, line := range tc.want {
			if got[i].Start != line {
				t.Errorf("%s: history %d → line %d, want %d", name, i, got[i].Start, line)
			}
		}
		if got[5].End != 7 && name == "classic" {
			t.Errorf("multi-line RUN end %d", got[5].End)
		}
	}
}

// TestRulesDocumented keeps docs/image-checks.md in step with the rules.
func TestRulesDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/image-checks.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Rules {
		if !strings.Contains(string(b), "| "+r.ID+" | "+string(r.Practice)+" |") {
			t.Errorf("%s (%s) is not in docs/image-checks.md", r.ID, r.Practice)
		}
	}
}

func TestParseRefusesBinary(t *testing.T) {
	for name, b := range map[string][]byte{
		"elf":          []byte("\x7fELF\x02\x01\x01\x00\x00FROM x\x00"),
		"invalid utf8": []byte("FROM x\nRUN echo \xff\xfe\n"),
	} {
		_, err := Parse("Dockerfile", b)
		if err == nil || !strings.Contains(err.Error(), "not a text file") {
			t.Errorf("%s: %v, want a refusal", name, err)
			continue
		}
		for _, r := range err.Error() {
			if r < 0x20 || r == 0x7f || r == utf8.RuneError {
				t.Errorf("%s: the error carries raw byte %q: %q", name, r, err)
			}
		}
	}
}
