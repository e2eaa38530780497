package owncode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	govulncheck "golang.org/x/vuln/scan"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/vuln/osv"
)

// RuleCalled is the rule of a vulnerable function the own code calls
// (govulncheck's source-mode call graph).
const RuleCalled = "SS-P7-002"

// GovulncheckVersion is the golang.org/x/vuln module linked into shipshape
// (go.mod) whose scanner runs in process.
const GovulncheckVersion = "v1.3.0"

// GoVulnDB is the vulnerability data govulncheck's source mode is given:
// the Go records that name a module (a *db.DB).
type GoVulnDB interface {
	Has(ecosystem string) bool
	Lookup(ecosystem, name string) ([]*osv.Record, error)
}

// Rater rates a vulnerability from its records (and, where the data
// keeps them, its aliases' records), saying where the rating came from.
type Rater func(recs []*osv.Record) (sev scorecard.Severity, source string)

// Called is one vulnerable symbol the own code reaches.
type Called struct {
	OSV     string
	Aliases []string
	Module  string // the vulnerable module ("stdlib" for the standard library)
	Version string // its version in the build list
	Fixed   string // govulncheck's fixed version, "" when none
	Symbol  string // package.Function or package.Type.Method
	// Trace is the call stack from the own code's entry to the symbol,
	// entry first ("main.main (main.go:12)").
	Trace []string
	// URI and Line are the own code's call site (relative to the source
	// root).
	URI  string
	Line int
}

// GoReach is govulncheck's source-mode verdict on one module: what is
// called, and how many advisories affect only imported packages or
// required modules.
type GoReach struct {
	Module       string
	Called       []Called
	Imported     []string // advisory ids whose package is imported, no vulnerable symbol called
	Required     []string // advisory ids whose module is required, package not imported
	Records      int      // records handed to govulncheck
	ScannerError string
}

// goVulnReach runs govulncheck's source mode (call-graph reachability, in
// process) on one Go module with the records db holds for its build
// list. The module's dependencies must be resolvable (go list).
func goVulnReach(ctx context.Context, root string, m goModule, db GoVulnDB) (*GoReach, error) {
	mods, mainMod, err := buildList(ctx, m.dir)
	if err != nil {
		return nil, err
	}
	dbDir, err := os.MkdirTemp("", "shipshape-govulndb-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dbDir)
	n := 0
	seen := map[string]bool{}
	for _, mod := range append(mods, "stdlib", "toolchain") {
		recs, err := db.Lookup("Go", mod)
		if err != nil {
			return nil, fmt.Errorf("vulnerability database: %s: %w", mod, err)
		}
		for _, r := range recs {
			if seen[r.ID] || r.Withdrawn != "" {
				continue
			}
			seen[r.ID] = true
			b, err := json.Marshal(r)
			if err != nil {
				return nil, fmt.Errorf("record %s: %w", r.ID, err)
			}
			if err := os.WriteFile(filepath.Join(dbDir, filepath.Base(r.ID)+".json"), b, 0o600); err != nil {
				return nil, err
			}
			n++
		}
	}
	res := &GoReach{Module: mainMod, Records: n}
	if n == 0 {
		return res, nil
	}
	var out, errOut bytes.Buffer
	cmd := govulncheck.Command(ctx, "-C", m.dir, "-db", "file://"+dbDir, "-json", "./...")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("govulncheck: %w", err)
	}
	if err := cmd.Wait(); err != nil {
		msg := strings.TrimSpace(errOut.String())
		if len(msg) > 2000 {
			msg = msg[:2000] + "…"
		}
		return nil, fmt.Errorf("govulncheck on %s: %v: %s", m.dir, err, msg)
	}
	if err := readGovulncheck(&out, root, m.dir, mainMod, res); err != nil {
		return nil, fmt.Errorf("govulncheck on %s: %w", m.dir, err)
	}
	return res, nil
}

// buildList is the module paths of the build list of the module in dir
// (replacements by their original path, as govulncheck reports them)
// and the main module's path.
func buildList(ctx context.Context, dir string) ([]string, string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-json", "all")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return nil, "", fmt.Errorf("go list: the Go toolchain is not on PATH")
		}
		return nil, "", fmt.Errorf("go list -m all in %s: %v: %s", dir, err, strings.TrimSpace(errOut.String()))
	}
	var paths []string
	main := ""
	dec := json.NewDecoder(&out)
	for {
		var mod struct {
			Path string
			Main bool
		}
		if err := dec.Decode(&mod); err == io.EOF {
			break
		} else if err != nil {
			return nil, "", fmt.Errorf("go list -m all in %s: %w", dir, err)
		}
		if mod.Main {
			main = mod.Path
			continue
		}
		paths = append(paths, mod.Path)
	}
	return paths, main, nil
}

// govulncheck's JSON stream, the parts read here (golang.org/x/vuln's
// internal/govulncheck protocol).
type gvMessage struct {
	OSV *struct {
		ID      string   `json:"id"`
		Aliases []string `json:"aliases"`
	} `json:"osv"`
	Finding *struct {
		OSV          string    `json:"osv"`
		FixedVersion string    `json:"fixed_version"`
		Trace        []gvFrame `json:"trace"`
	} `json:"finding"`
}

type gvFrame struct {
	Module   string `json:"module"`
	Version  string `json:"version"`
	Package  string `json:"package"`
	Function string `json:"function"`
	Receiver string `json:"receiver"`
	Position *struct {
		Filename string `json:"filename"`
		Line     int    `json:"line"`
	} `json:"position"`
}

func (f gvFrame) symbol() string {
	name := f.Function
	if f.Receiver != "" {
		name = strings.TrimPrefix(f.Receiver, "*") + "." + name
	}
	if name == "" {
		return f.Package
	}
	return f.Package + "." + name
}

// readGovulncheck sorts govulncheck's findings into called symbols (with
// the own code's call site), imported packages and required modules.
func readGovulncheck(r io.Reader, root, modDir, mainMod string, res *GoReach) error {
	aliases := map[string][]string{}
	level := map[string]int{} // 1 module, 2 package, 3 symbol
	seenCall := map[string]bool{}
	dec := json.NewDecoder(r)
	for {
		var msg gvMessage
		if err := dec.Decode(&msg); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
		if msg.OSV != nil {
			aliases[msg.OSV.ID] = msg.OSV.Aliases
		}
		f := msg.Finding
		if f == nil || len(f.Trace) == 0 {
			continue
		}
		vuln := f.Trace[0]
		switch {
		case vuln.Function == "" && vuln.Package == "":
			level[f.OSV] = max(level[f.OSV], 1)
			continue
		case vuln.Function == "":
			level[f.OSV] = max(level[f.OSV], 2)
			continue
		}
		level[f.OSV] = 3
		c := Called{OSV: f.OSV, Module: vuln.Module, Version: vuln.Version, Fixed: f.FixedVersion, Symbol: vuln.symbol()}
		if c.Module == "toolchain" {
			c.Module = "stdlib"
		}
		// The trace runs from the vulnerable symbol to the entry point;
		// the call site is the own-code frame nearest the symbol.
		for i := len(f.Trace) - 1; i >= 0; i-- {
			fr := f.Trace[i]
			s := fr.symbol()
			if fr.Position != nil && fr.Position.Filename != "" {
				// Own files relative to the source root; the others as
				// govulncheck names them (relative to GOROOT or the
				// module's directory).
				file := fr.Position.Filename
				if fr.Module == mainMod {
					file = relTo(root, modDir, file)
				}
				s += fmt.Sprintf(" (%s:%d)", file, fr.Position.Line)
			}
			c.Trace = append(c.Trace, s)
		}
		for i := 1; i < len(f.Trace); i++ {
			fr := f.Trace[i]
			if fr.Module == mainMod && fr.Position != nil && fr.Position.Filename != "" {
				c.URI, c.Line = relTo(root, modDir, fr.Position.Filename), fr.Position.Line
				break
			}
		}
		key := c.OSV + "\x00" + c.Symbol + "\x00" + c.URI + fmt.Sprint(c.Line)
		if seenCall[key] {
			continue
		}
		seenCall[key] = true
		res.Called = append(res.Called, c)
	}
	for i := range res.Called {
		res.Called[i].Aliases = aliases[res.Called[i].OSV]
	}
	for id, l := range level {
		switch l {
		case 1:
			res.Required = append(res.Required, id)
		case 2:
			res.Imported = append(res.Imported, id)
		}
	}
	slices.Sort(res.Required)
	slices.Sort(res.Imported)
	slices.SortFunc(res.Called, func(a, b Called) int {
		return cmpStrings(a.OSV, b.OSV, a.Symbol, b.Symbol, a.URI, b.URI)
	})
	return nil
}

func cmpStrings(pairs ...string) int {
	for i := 0; i+1 < len(pairs); i += 2 {
		if c := strings.Compare(pairs[i], pairs[i+1]); c != 0 {
			return c
		}
	}
	return 0
}

// relTo makes a file govulncheck names (absolute, or relative to the
// module directory) relative to the source root, in slash form.
func relTo(root, modDir, file string) string {
	if !filepath.IsAbs(file) {
		file = filepath.Join(modDir, file)
	}
	if rel, err := filepath.Rel(root, file); err == nil && !strings.HasPrefix(rel, "..") {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(file)
}

// calledResults turns called symbols into P7 results: one per advisory
// and call site, rated like the P5 finding of the same advisory.
func calledResults(file string, rep *GoReach, rate Rater, db GoVulnDB) []Result {
	var out []Result
	for _, c := range rep.Called {
		sev, src := scorecard.High, "default (no rating in the records)"
		if rate != nil && db != nil {
			recs, err := db.Lookup("Go", moduleForLookup(c.Module))
			if err == nil {
				var mine []*osv.Record
				for _, r := range recs {
					if r.ID == c.OSV {
						mine = append(mine, r)
					}
				}
				if len(mine) > 0 {
					sev, src = rate(mine)
				}
			}
		}
		fix := fmt.Sprintf("Upgrade %s to %s (`go get %s@%s`), rebuild and redeploy the image.", c.Module, c.Fixed, c.Module, c.Fixed)
		switch {
		case c.Fixed == "":
			fix = fmt.Sprintf("No fixed version of %s is known: stop calling %s (see the trace) or replace the module.", c.Module, c.Symbol)
		case c.Module == "stdlib":
			fix = fmt.Sprintf("Build with Go %s or later (the call at %s:%d reaches %s), rebuild and redeploy the image.", c.Fixed, c.URI, c.Line, c.Symbol)
		}
		ev := map[string]any{
			"id":               c.OSV,
			"module":           c.Module,
			"installedVersion": c.Version,
			"symbol":           c.Symbol,
			"trace":            c.Trace,
			"reachable":        "yes",
			"reachability":     "called (govulncheck source mode)",
		}
		if len(c.Aliases) > 0 {
			ev["aliases"] = c.Aliases
		}
		if c.Fixed != "" {
			ev["fixedVersions"] = []string{c.Fixed}
		}
		out = append(out, Result{
			Tool: "govulncheck", ToolVersion: GovulncheckVersion + " (in process)",
			RuleID: c.OSV, Rule: RuleCalled,
			Title:   fmt.Sprintf("%s: own code calls vulnerable %s (%s %s)", c.OSV, c.Symbol, c.Module, c.Version),
			Message: fmt.Sprintf("%s:%d reaches %s, affected by %s", c.URI, c.Line, c.Symbol, c.OSV),
			URI:     c.URI, Line: c.Line,
			Severity: sev, SeveritySource: src,
			File:     file,
			Fix:      fix,
			Evidence: ev,
		})
	}
	return out
}

// moduleForLookup is the name the records use for a module.
func moduleForLookup(m string) string {
	if m == "toolchain" {
		return "stdlib"
	}
	return m
}
