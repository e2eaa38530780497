package owncode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/securego/gosec/v2"
	"github.com/securego/gosec/v2/analyzers"
	"github.com/securego/gosec/v2/issue"
	"github.com/securego/gosec/v2/rules"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// GosecVersion is the gosec module linked into shipshape (go.mod).
const GosecVersion = "v2.30.0"

// SourceOptions are what AnalyzeSource needs beyond the directory.
type SourceOptions struct {
	// GoVulns, when set and holding Go data, has govulncheck's source mode
	// judge which vulnerable functions the code calls; Rate rates them.
	GoVulns GoVulnDB
	Rate    Rater
}

// AnalyzeSource runs gosec's rules and analyzers in process on every Go
// module under dir (the build context) and, with a vulnerability database,
// govulncheck's source-mode call-graph reachability: the result is a
// Report like an imported SARIF file, with file paths relative to dir so
// that they map to the files the image ships. Loading packages runs `go
// list`, so the Go toolchain must be installed and the modules'
// dependencies resolvable.
func AnalyzeSource(ctx context.Context, dir string, opts SourceOptions) (*Report, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("--source %s: %w", dir, err)
	}
	if info, err := os.Stat(root); err != nil || !info.IsDir() {
		return nil, fmt.Errorf("--source %s: not a directory", dir)
	}
	mods, err := goModules(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("--source %s: %w", dir, err)
	}
	rep := &Report{File: "--source " + dir, Tools: []string{"gosec"}}
	if len(mods) == 0 {
		return rep, nil
	}
	for _, m := range mods {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		a := gosec.NewAnalyzer(gosec.NewConfig(), false, true, false, 1, log.New(io.Discard, "", 0))
		rl := rules.Generate(false)
		a.LoadRules(rl.RulesInfo())
		al := analyzers.Generate(false)
		a.LoadAnalyzers(al.AnalyzersInfo())
		if err := a.Process(nil, m.pkgs...); err != nil {
			return nil, fmt.Errorf("--source %s: gosec on %s: %w", dir, m.dir, err)
		}
		issues, metrics, errs := a.Report()
		if metrics == nil || metrics.NumFiles == 0 {
			// Nothing was analysed: no result would be a false pass.
			why := "no package could be loaded (is the Go toolchain on PATH?)"
			for f, es := range errs {
				if len(es) > 0 {
					why += fmt.Sprintf("; %s:%d: %s", f, es[0].Line, es[0].Err)
					break
				}
			}
			return nil, fmt.Errorf("--source %s: gosec on %s: %s", dir, m.dir, why)
		}
		var files []string
		for f := range errs {
			files = append(files, f)
		}
		slices.Sort(files)
		for _, f := range files {
			for _, e := range errs[f] {
				rel, err := filepath.Rel(root, f)
				if err != nil {
					rel = f
				}
				rep.Errors = append(rep.Errors, fmt.Sprintf("%s:%d: %s", filepath.ToSlash(rel), e.Line, e.Err))
			}
		}
		desc := map[string]string{}
		for id, d := range rl.Rules {
			desc[id] = d.Description
		}
		for id, d := range al.Analyzers {
			desc[id] = d.Description
		}
		for _, is := range issues {
			if is.NoSec {
				continue
			}
			rel, err := filepath.Rel(root, is.File)
			if err != nil || strings.HasPrefix(rel, "..") {
				rel = is.File
			}
			line, end := lines(is.Line)
			rep.Results = append(rep.Results, Result{
				Tool: "gosec", ToolVersion: GosecVersion + " (in process)",
				RuleID: is.RuleID, RuleText: desc[is.RuleID], Message: is.What,
				URI: filepath.ToSlash(rel), Line: line, EndLine: end,
				Severity: gosecSeverity(is.Severity), SeveritySource: "tool rating",
				File: rep.File,
			})
		}
		for _, f := range m.files {
			if rel, err := filepath.Rel(root, f); err == nil {
				rep.Artifacts = append(rep.Artifacts, filepath.ToSlash(rel))
			}
		}
		switch {
		case opts.GoVulns == nil:
			rep.GoReachNote = "govulncheck not run: no vulnerability database (run `shipshape db update`)"
		case !opts.GoVulns.Has("Go"):
			rep.GoReachNote = "govulncheck not run: the vulnerability database has no Go data (run `shipshape db update --ecosystems Go`)"
		default:
			gr, err := goVulnReach(ctx, root, m, opts.GoVulns)
			if err != nil {
				return nil, fmt.Errorf("--source %s: %w", dir, err)
			}
			rep.GoReach = append(rep.GoReach, gr)
			rep.Results = append(rep.Results, calledResults(rep.File, gr, opts.Rate, opts.GoVulns)...)
		}
	}
	if len(rep.GoReach) > 0 && !slices.Contains(rep.Tools, "govulncheck") {
		rep.Tools = append(rep.Tools, "govulncheck")
	}
	slices.SortFunc(rep.Results, func(a, b Result) int {
		if c := strings.Compare(a.URI, b.URI); c != 0 {
			return c
		}
		if a.Line != b.Line {
			return a.Line - b.Line
		}
		return strings.Compare(a.RuleID, b.RuleID)
	})
	return rep, nil
}

func gosecSeverity(s issue.Score) scorecard.Severity {
	switch s {
	case issue.High:
		return scorecard.High
	case issue.Medium:
		return scorecard.Medium
	}
	return scorecard.Low
}

// lines parses gosec's "26" or "26-28".
func lines(s string) (int, int) {
	a, b, _ := strings.Cut(s, "-")
	start, _ := strconv.Atoi(a)
	end, _ := strconv.Atoi(b)
	return start, end
}

type goModule struct {
	dir   string
	pkgs  []string // package directories
	files []string // .go files (not tests)
}

// skipDir names directories no module search enters.
func skipDir(name string) bool {
	return name == "vendor" || name == "node_modules" || name == "testdata" || (strings.HasPrefix(name, ".") && name != ".") || strings.HasPrefix(name, "_")
}

// goModules finds the Go modules under root and their package
// directories (a nested module is its own).
func goModules(ctx context.Context, root string) ([]goModule, error) {
	var mods []goModule
	byDir := map[string]int{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && skipDir(d.Name()) {
				return filepath.SkipDir
			}
			if _, err := os.Lstat(filepath.Join(p, "go.mod")); err == nil {
				byDir[p] = len(mods)
				mods = append(mods, goModule{dir: p})
			}
			return nil
		}
		if !d.Type().IsRegular() || filepath.Ext(p) != ".go" || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		// The innermost module holding the file.
		for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
			if i, ok := byDir[dir]; ok {
				m := &mods[i]
				m.files = append(m.files, p)
				if pd := filepath.Dir(p); !slices.Contains(m.pkgs, pd) {
					m.pkgs = append(m.pkgs, pd)
				}
				break
			}
			if dir == root || dir == filepath.Dir(dir) {
				break
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.SkipDir) {
		return nil, err
	}
	return slices.DeleteFunc(mods, func(m goModule) bool { return len(m.pkgs) == 0 }), nil
}
