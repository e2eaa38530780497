// Package owncode is practice P7, "scan your own code": it finds the
// application's own code in an image — files no OS package owns, outside
// third-party dependency trees and the base image, grouped by the layer and
// history line that added them, with the entrypoint resolved to a file —
// and turns imported SAST results (SARIF from gosec, CodeQL, Semgrep,
// Bandit …) into findings mapped to the image files and layers that ship
// the code.
package owncode

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"path"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/humanize"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/rules"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// RuleSAST is the rule of imported SAST results.
const RuleSAST = "SS-P7-001"

// SectionName is the report section of the own code.
const SectionName = "ownCode"

// Analyzer is the P7 analyzer.
type Analyzer struct {
	// SARIF are the imported SAST reports (LoadSARIF).
	SARIF []*Report
	// SourceDirs are build contexts whose Go modules gosec (and, with
	// Source.GoVulns, govulncheck) analyse in process when the scan
	// finishes (AnalyzeSource).
	SourceDirs []string
	Source     SourceOptions
}

// Name implements analyze.Analyzer.
func (a *Analyzer) Name() string { return "own-code" }

// Version implements analyze.Analyzer.
func (a *Analyzer) Version() string { return "2" }

// headBytes is how much of an executable is read: its magic number and
// the ELF notes after the program headers, where Go's build id sits.
const headBytes = 8192

// Wants implements analyze.Analyzer: the head of executable files, to
// tell Go binaries, other binaries and scripts apart.
func (a *Analyzer) Wants(e *fstree.Entry) (bool, int64) {
	if e.Mode()&0o111 != 0 && e.Size >= 4 {
		return true, headBytes
	}
	return false, 0
}

// layerFacts are the kinds of a layer's executable files ("go", "elf",
// "script"), by path.
type layerFacts struct {
	Exec map[string]string `json:"exec,omitempty"`
}

type layerScanner struct {
	f    layerFacts
	head []byte // reused for every file of the layer
}

// NewLayer implements analyze.Analyzer.
func (a *Analyzer) NewLayer(*image.Layer) analyze.LayerScanner { return &layerScanner{} }

func (s *layerScanner) File(_ context.Context, e *fstree.Entry, r io.Reader) error {
	if s.head == nil {
		s.head = make([]byte, headBytes)
	}
	n, _ := io.ReadFull(r, s.head)
	head := s.head[:n]
	kind := ""
	switch {
	case bytes.HasPrefix(head, []byte("\x7fELF")) && goNote(head):
		kind = "go"
	case bytes.HasPrefix(head, []byte("\x7fELF")):
		kind = "elf"
	case bytes.HasPrefix(head, []byte("#!")):
		kind = "script"
	default:
		return nil
	}
	if s.f.Exec == nil {
		s.f.Exec = map[string]string{}
	}
	s.f.Exec[e.Path()] = kind
	return nil
}

func (s *layerScanner) Facts() (json.RawMessage, error) { return json.Marshal(&s.f) }

// goNote finds the Go build id note (.note.go.buildid: name size 4, type
// 4, name "Go") the Go linker puts right after the program headers.
func goNote(head []byte) bool {
	pat := []byte("\x04\x00\x00\x00Go\x00\x00")
	for off := 0; ; {
		i := bytes.Index(head[off:], pat)
		if i < 0 {
			return false
		}
		i += off
		if i >= 8 && bytes.Equal(head[i-8:i-4], []byte{4, 0, 0, 0}) {
			return true
		}
		off = i + 1
	}
}

// Section is the report section "ownCode".
type Section struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
	// Languages are the own files by language (source and build outputs).
	Languages []Language `json:"languages,omitempty"`
	// MainBinaries are the own executables (ELF), entrypoint first.
	MainBinaries []string `json:"mainBinaries,omitempty"`
	// Source and BuildOutputs say whether the image carries source files
	// and build outputs (binaries, jars, bytecode, bundles).
	Source       bool `json:"source"`
	BuildOutputs bool `json:"buildOutputs"`
	// Entrypoint is the configured command, resolved to a file.
	Entrypoint *Entrypoint `json:"entrypoint,omitempty"`
	// Layers group the own files by the layer that added them.
	Layers []LayerGroup `json:"layers,omitempty"`
	// Analysed and NotAnalysed say which own code the imported SAST
	// results cover.
	Analysed    []string `json:"analysed,omitempty"`
	NotAnalysed []string `json:"notAnalysed,omitempty"`
	// Imported lists the SARIF files with their tools and result counts.
	Imported []Imported `json:"imported,omitempty"`
}

// Language is one language's own files.
type Language struct {
	Name  string `json:"name"`
	Kind  string `json:"kind"` // "source" or "build output"
	Files int    `json:"files"`
	Bytes int64  `json:"bytes"`
	// Dirs are the top directories holding them (at most five).
	Dirs []string `json:"dirs"`
}

// Entrypoint is the image's command and the file it runs.
type Entrypoint struct {
	Argv []string `json:"argv"`
	// File is the program the command runs (an interpreter's script or
	// jar when the command is an interpreter), resolved in the image.
	File  string `json:"file,omitempty"`
	Layer int    `json:"layer,omitempty"`
	// Own says whether File is own code (else a package's or the base's).
	Own    bool   `json:"own"`
	Reason string `json:"reason,omitempty"`
}

// LayerGroup is the own code one layer added.
type LayerGroup struct {
	Layer     int      `json:"layer"`
	CreatedBy string   `json:"createdBy,omitempty"`
	Files     int      `json:"files"`
	Bytes     int64    `json:"bytes"`
	Paths     []string `json:"paths"` // the first few
}

// Imported is one SARIF file's summary.
type Imported struct {
	File    string   `json:"file"`
	Tools   []string `json:"tools"`
	Results int      `json:"results"`
	// InImage counts the results whose file was found in the image.
	InImage int `json:"inImage"`
}

// ownFile is one file of the application's own code.
type ownFile struct {
	e *fstree.Entry
	*class
}

// ownFiles are the own files of an image, in path order: one list per
// part of the tree searched in parallel.
type ownFiles struct{ parts []*ownList }

// ownList is a list of own files kept as two slices (the entry, the number
// of its class): an image of a million own files costs ten bytes a file
// here.
type ownList struct {
	entries []*fstree.Entry
	classOf []uint16
	classes []*class
}

func (o *ownList) add(e *fstree.Entry, c class) {
	i := -1
	if n := len(o.classOf); n > 0 && *o.classes[o.classOf[n-1]] == c {
		i = int(o.classOf[n-1]) // files of a directory are mostly of one class
	} else {
		i = slices.IndexFunc(o.classes, func(k *class) bool { return *k == c })
	}
	if i < 0 {
		i = len(o.classes)
		k := c // allocated here, once per class, not once per call
		o.classes = append(o.classes, &k)
	}
	o.entries = append(o.entries, e)
	o.classOf = append(o.classOf, uint16(i))
}

// all yields the own files in path order.
func (o *ownFiles) all() iter.Seq[ownFile] {
	return func(yield func(ownFile) bool) {
		for _, l := range o.parts {
			for i, e := range l.entries {
				if !yield(ownFile{e: e, class: l.classes[l.classOf[i]]}) {
					return
				}
			}
		}
	}
}

// class is what an own file is; files share one class value per kind
// (a handful per image).
type class struct {
	lang     string
	kind     string // source, build output, other
	execKind string
}

// Finish implements analyze.Analyzer.
func (a *Analyzer) Finish(ctx context.Context, in *analyze.Input) (*analyze.Output, error) {
	for _, d := range a.SourceDirs {
		r, err := AnalyzeSource(ctx, d, a.Source)
		if err != nil {
			return nil, err
		}
		a.SARIF = append(a.SARIF, r)
	}
	exec := map[string]string{}
	for i, raw := range in.Facts {
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		var f layerFacts
		if err := json.Unmarshal(raw, &f); err != nil {
			return nil, fmt.Errorf("own code: layer %d facts: %w", i+1, err)
		}
		for p, k := range f.Exec {
			exec[p] = k // upper layers last
		}
	}
	own := a.discover(in, exec)
	sec := summarise(in, own)
	sec.Entrypoint = entrypoint(in, own)
	if ep := sec.Entrypoint; ep != nil && ep.Own && ep.File != "" {
		sec.MainBinaries = slices.DeleteFunc(sec.MainBinaries, func(p string) bool { return p == ep.File })
		if k := exec[ep.File]; k == "elf" || k == "go" {
			sec.MainBinaries = append([]string{ep.File}, sec.MainBinaries...)
		}
	}
	findings, covered := a.findings(in, own, sec)
	goSource := false
	for _, r := range a.SARIF {
		for _, u := range r.Artifacts {
			if strings.HasSuffix(u, ".go") {
				goSource = true
			}
		}
	}
	analysedLangs(own, covered, goSource, sec)
	out := &analyze.Output{Sections: map[string]any{SectionName: sec}, Findings: findings}
	out.Coverage = []scorecard.Coverage{a.coverage(in, sec, findings)}
	return out, nil
}

func (a *Analyzer) coverage(in *analyze.Input, sec *Section, findings []scorecard.Finding) scorecard.Coverage {
	c := scorecard.Coverage{Practice: scorecard.P7}
	metrics := map[string]any{"files": sec.Files, "bytes": sec.Bytes, "results": len(findings)}
	c.Metrics = metrics
	what := describe(sec)
	switch {
	case in.Empty():
		c.Reason = scorecard.NothingToJudge
		return c
	case len(a.SARIF) == 0 && sec.Files == 0:
		c.Reason = "no own code found: every file is owned by an OS package, is a third-party dependency (node_modules, site-packages, vendor/, dependency jars, Go module caches) or comes from the base image"
		return c
	case len(a.SARIF) == 0:
		c.Reason = "own code found (" + what + ") but nothing analysed it: import SAST results with `--sarif FILE` (gosec, CodeQL, Semgrep, Bandit …), or give Go source with `--source DIR`"
		c.Summary = notAnalysedNote(sec)
		return c
	}
	c.Ran = true
	var tools []string
	for _, r := range a.SARIF {
		for _, t := range r.Tools {
			if !slices.Contains(tools, t) {
				tools = append(tools, t)
			}
		}
	}
	c.Summary = fmt.Sprintf("%s from %s", humanize.Count(len(findings), "result"), strings.Join(tools, ", "))
	for _, d := range a.SourceDirs {
		c.Summary += fmt.Sprintf(" (gosec %s run in process on the Go modules of %s)", GosecVersion, d)
	}
	var notes []string
	for _, r := range a.SARIF {
		for _, g := range r.GoReach {
			c.Summary += fmt.Sprintf("; govulncheck source mode on %s: %s called, %s in imported packages not called, %s in required modules only",
				g.Module, humanize.Count(len(g.Called), "vulnerable symbol"), humanize.Count(len(g.Imported), "advisory", "advisories"), humanize.Count(len(g.Required), "advisory", "advisories"))
		}
		if r.GoReachNote != "" && !slices.Contains(notes, r.GoReachNote) {
			notes = append(notes, r.GoReachNote)
		}
	}
	if sec.Files > 0 {
		c.Summary += "; own code: " + what
	} else {
		c.Summary += "; no own code found in the image (results kept with their source files)"
	}
	if len(sec.Analysed) > 0 {
		c.Summary += "; analysed: " + strings.Join(sec.Analysed, ", ")
	}
	if n := notAnalysedNote(sec); n != "" {
		c.Summary += "; " + n
		c.Partial = "part of the own code was not analysed: import a SARIF file for it"
	}
	for _, n := range notes {
		if c.Partial != "" {
			c.Partial += "; "
		}
		c.Partial += n
	}
	var errs []string
	for _, r := range a.SARIF {
		errs = append(errs, r.Errors...)
	}
	if len(errs) > 0 {
		p := fmt.Sprintf("gosec could not analyse all of the source (%s", errs[0])
		if len(errs) > 1 {
			p += fmt.Sprintf(" and %d more", len(errs)-1)
		}
		p += "): results may be incomplete"
		if c.Partial != "" {
			c.Partial += "; "
		}
		c.Partial += p
	}
	return c
}

func notAnalysedNote(sec *Section) string {
	if len(sec.NotAnalysed) == 0 {
		return ""
	}
	return "not analysed: " + strings.Join(sec.NotAnalysed, ", ") + " (no analyzer: import a SARIF file)"
}

// describe says what the own code is: files, bytes, languages, binaries.
func describe(sec *Section) string {
	s := humanize.Count(sec.Files, "file") + ", " + humanize.Bytes(sec.Bytes)
	var langs []string
	for _, l := range sec.Languages {
		if l.Kind == "other" {
			continue
		}
		langs = append(langs, l.Name+" "+l.Kind+" in "+strings.Join(l.Dirs, " "))
	}
	if len(langs) > 0 {
		s += ": " + strings.Join(langs, "; ")
	}
	if len(sec.MainBinaries) > 0 {
		s += "; main binaries " + strings.Join(sec.MainBinaries, ", ")
	}
	return s
}

// discover lists the own files of the final image, and every final file
// by path.
func (a *Analyzer) discover(in *analyze.Input, exec map[string]string) *ownFiles {
	own := &ownFiles{}
	if in.Tree == nil {
		return own
	}
	base := 0
	if in.Image != nil && len(in.Image.Layers) > 1 && in.Image.Config != nil {
		base = in.Image.BaseLayers()
	}
	// A big tree is searched in parts, one per core: on a warm scan of an
	// image of a million own files this is the longest analyzer, and the
	// others have finished.
	n, parts := in.Tree.Len(), 1
	if n >= splitAt {
		parts = min(runtime.GOMAXPROCS(0), maxParts)
	}
	own.parts = make([]*ownList, parts)
	var wg sync.WaitGroup
	for k := range parts {
		wg.Go(func() {
			own.parts[k] = discoverRange(in, exec, base, k*n/parts, (k+1)*n/parts)
		})
	}
	wg.Wait()
	return own
}

const (
	splitAt  = 1 << 16 // final entries from which discover searches in parts
	maxParts = 4
)

// discoverRange lists the own files among the final entries lo to hi.
func discoverRange(in *analyze.Input, exec map[string]string, base, lo, hi int) *ownList {
	// At most every entry: sized once, the slices never grow (and never
	// hold twice a million pointers while they do).
	own := &ownList{entries: make([]*fstree.Entry, 0, hi-lo), classOf: make([]uint16, 0, hi-lo)}
	var (
		skip dirSkip
		p    []byte // the file's path, in one buffer: no string per file
	)
	in.Tree.WalkRange(lo, hi, func(e *fstree.Entry) error {
		if !e.IsFile() || !e.InFinal() {
			return nil
		}
		if int(e.Layer) <= base || skip.skipEntry(e) {
			return nil
		}
		p = e.AppendPath(p[:0])
		if _, owned := in.System.OwnerOf(p); owned {
			return nil
		}
		execKind := exec[string(p)]
		lang, kind := classify(p, e.Name(), execKind)
		own.add(e, class{lang: lang, kind: kind, execKind: execKind})
		return nil
	})
	return own
}

// dirSkip answers thirdParty(p) || system(p) for the files of a walk,
// judging each directory once: the files of a directory come one after
// another, and outside a few directories the answer depends on the file's
// name only through thirdParty of the name alone.
type dirSkip struct {
	dir     string // with its trailing slash
	skipDir bool   // the directory's files are skipped whatever their names
	perFile bool   // the directory's answer depends on the file name: judge each file whole
	parent  string // dir as Entry.Dir gives it, when dir was set by skipEntry
}

// skipEntry is skip(e.Path()), building the path only when the entry's
// directory is not the previous one or its answer depends on the name.
func (d *dirSkip) skipEntry(e *fstree.Entry) bool {
	if parent := e.Dir(); parent != d.parent || d.perFile {
		skip := d.skip(e.Path())
		d.parent = parent
		return skip
	}
	return d.skipDir || thirdParty(e.Name())
}

func (d *dirSkip) skip(p string) bool {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return thirdParty(p) || system(p)
	}
	if dir := p[:i+1]; dir != d.dir {
		d.dir, d.perFile, d.parent = dir, nameDependent(dir), ""
		if !d.perFile {
			// No name-dependent rule applies here: a name no rule
			// matches stands for every name.
			probe := dir + "\x00"
			d.skipDir = thirdParty(probe) || system(probe)
		}
	}
	if d.perFile {
		return thirdParty(p) || system(p)
	}
	return d.skipDir || thirdParty(p[i+1:])
}

// nameDependent reports whether, for a file directly in dir (which ends in
// a slash), thirdParty or system look at the file's name beyond its being
// a dependency-tree name itself: the .jar rule under lib-like directories,
// GOPATH's pkg/mod, and the name prefixes of /usr/lib, /usr/local/lib and
// /usr/local/bin.
func nameDependent(dir string) bool {
	switch dir {
	case "/usr/lib/", "/usr/local/lib/", "/usr/local/bin/":
		return true
	}
	for rest, more := strings.TrimSuffix(dir, "/"), true; more; {
		var s string
		s, rest, more = strings.Cut(rest, "/")
		switch s {
		case "lib", "libs", "dependencies", "dependency":
			return true
		case "pkg":
			if !more {
				return true
			}
		}
	}
	return false
}

// thirdParty reports whether p is inside a dependency tree.
func thirdParty(p string) bool {
	for rest, more := p, true; more; {
		var s string
		s, rest, more = strings.Cut(rest, "/")
		switch s {
		case "node_modules", "bower_components", "site-packages", "dist-packages", "vendor", "__pypackages__",
			".m2", ".gradle", ".ivy2", ".cargo", ".rustup", ".npm", ".yarn", ".pnpm-store", ".cache", "gems", ".bundle", "jspm_packages":
			return true
		case "pkg":
			if next, _, _ := strings.Cut(rest, "/"); more && next == "mod" {
				return true // a Go module cache (GOPATH/pkg/mod)
			}
		case "lib", "libs", "dependencies", "dependency":
			if strings.HasSuffix(p, ".jar") {
				return true // dependency jars: BOOT-INF/lib, WEB-INF/lib, app/lib
			}
		}
	}
	return false
}

// systemPrefixes hold runtime and system files an installer or the build
// left, not the application.
var systemPrefixes = []string{
	"/etc/", "/var/", "/tmp/", "/run/", "/proc/", "/sys/", "/dev/", "/boot/", "/lib/apk/", "/usr/lib/sysimage/",
	"/usr/share/doc/", "/usr/share/man/", "/usr/share/info/", "/usr/share/locale/", "/usr/share/zoneinfo/",
	"/usr/local/go/", "/usr/lib/go/", "/usr/local/include/", "/usr/include/", "/usr/local/share/man/",
	"/usr/lib/jvm/", "/opt/java/", "/usr/local/lib/node_modules/",
}

func system(p string) bool {
	for _, s := range systemPrefixes {
		if strings.HasPrefix(p, s) {
			return true
		}
	}
	// A language runtime's own library: /usr/lib/python3.12/…,
	// /usr/local/lib/python3.12/… (site-packages are third-party above).
	for _, pre := range []string{"/usr/lib/", "/usr/local/lib/"} {
		if rest, ok := strings.CutPrefix(p, pre); ok && (strings.HasPrefix(rest, "python") || strings.HasPrefix(rest, "ruby/") || strings.HasPrefix(rest, "perl")) {
			return true
		}
	}
	// A Python build's interpreter and tools in /usr/local/bin.
	if b, ok := strings.CutPrefix(p, "/usr/local/bin/"); ok {
		for _, t := range []string{"python", "pip", "idle", "pydoc", "2to3", "wheel", "node", "npm", "npx", "corepack", "yarn", "go", "gofmt"} {
			if strings.HasPrefix(b, t) {
				return true
			}
		}
	}
	return false
}

var sourceExt = map[string]string{
	".go": "Go", ".py": "Python", ".js": "JavaScript", ".mjs": "JavaScript", ".cjs": "JavaScript", ".jsx": "JavaScript",
	".ts": "TypeScript", ".tsx": "TypeScript", ".java": "Java", ".kt": "Kotlin", ".scala": "Scala", ".rb": "Ruby",
	".php": "PHP", ".rs": "Rust", ".c": "C", ".h": "C", ".cc": "C++", ".cpp": "C++", ".hpp": "C++", ".cs": "C#",
	".sh": "Shell", ".bash": "Shell", ".pl": "Perl", ".lua": "Lua", ".ex": "Elixir", ".exs": "Elixir", ".swift": "Swift",
}

var outputExt = map[string]string{
	".jar": "Java", ".war": "Java", ".ear": "Java", ".class": "Java", ".pyc": "Python", ".wasm": "WebAssembly",
	".so": "native", ".dll": ".NET", ".exe": "native",
}

// classify names a file's language and whether it is source, a build
// output or something else (assets, configuration, data).
func classify(p []byte, name, execKind string) (lang, kind string) {
	ext := strings.ToLower(path.Ext(name))
	switch {
	case execKind == "go":
		return "Go", "build output"
	case execKind == "elf":
		return "native (ELF)", "build output"
	case strings.HasSuffix(name, ".min.js") || (sourceExt[ext] == "JavaScript" && (bytes.Contains(p, []byte("/dist/")) || bytes.Contains(p, []byte("/build/")))):
		return "JavaScript", "build output"
	case sourceExt[ext] != "":
		return sourceExt[ext], "source"
	case outputExt[ext] != "":
		return outputExt[ext], "build output"
	case execKind == "script":
		return "script", "source"
	}
	return "other", "other"
}

// summarise fills the section from the own files.
func summarise(in *analyze.Input, own *ownFiles) *Section {
	sec := &Section{}
	type lk struct{ name, kind string }
	langs := map[lk]*Language{}
	groups := map[int]*LayerGroup{}
	// Consecutive files mostly share their class, layer and directory:
	// the last ones found are tried first.
	var (
		lastClass *class
		l         *Language
		g         *LayerGroup
		lastDir   string
	)
	for f := range own.all() {
		sec.Files++
		sec.Bytes += f.e.Size
		if f.class != lastClass {
			k := lk{f.lang, f.kind}
			if l = langs[k]; l == nil {
				l = &Language{Name: f.lang, Kind: f.kind}
				langs[k] = l
			}
			lastClass, lastDir = f.class, ""
		}
		l.Files++
		l.Bytes += f.e.Size
		// The path is built only for what is reported: a handful of
		// directories and paths, the main binaries.
		if dir := f.e.Dir(); len(l.Dirs) < 5 && (dir != lastDir || dir == "/") {
			lastDir = dir
			if d := topDir(f.e.Path()); !slices.Contains(l.Dirs, d) {
				l.Dirs = append(l.Dirs, d)
			}
		}
		switch f.kind {
		case "source":
			sec.Source = true
		case "build output":
			sec.BuildOutputs = true
		}
		if name := f.e.Name(); (f.execKind == "elf" || f.execKind == "go") && f.e.Mode()&0o111 != 0 && path.Ext(name) != ".so" && !strings.Contains(name, ".so.") {
			sec.MainBinaries = append(sec.MainBinaries, f.e.Path())
		}
		if g == nil || g.Layer != int(f.e.Layer) {
			g = groups[int(f.e.Layer)]
		}
		if g == nil {
			g = &LayerGroup{Layer: int(f.e.Layer)}
			if in.Image != nil && int(f.e.Layer) >= 1 && int(f.e.Layer) <= len(in.Image.Layers) {
				g.CreatedBy = in.Image.Layers[f.e.Layer-1].CreatedBy
			}
			groups[int(f.e.Layer)] = g
		}
		g.Files++
		g.Bytes += f.e.Size
		if len(g.Paths) < 10 {
			g.Paths = append(g.Paths, f.e.Path())
		}
	}
	for _, l := range langs {
		sec.Languages = append(sec.Languages, *l)
	}
	slices.SortFunc(sec.Languages, func(a, b Language) int {
		if a.Kind == "other" || b.Kind == "other" {
			return boolCmp(a.Kind == "other", b.Kind == "other")
		}
		return int(b.Bytes - a.Bytes)
	})
	for _, g := range groups {
		sec.Layers = append(sec.Layers, *g)
	}
	slices.SortFunc(sec.Layers, func(a, b LayerGroup) int { return a.Layer - b.Layer })
	return sec
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// topDir is the first two components of p's directory ("/app/cmd/x.go"
// → "/app/cmd").
func topDir(p string) string {
	var d string
	if i := strings.LastIndexByte(p, '/'); i > 0 && fstree.IsClean(p) {
		d = p[:i] // the directory of a clean path, without cleaning it again
	} else {
		d = path.Dir(p)
		if !strings.HasPrefix(d, "/") {
			d = "/" + d
		}
	}
	// The first two components of d, as a substring of it.
	end := len(d)
	if i := strings.IndexByte(d[1:], '/'); i >= 0 {
		if j := strings.IndexByte(d[i+2:], '/'); j >= 0 {
			end = i + 2 + j
		}
	}
	return d[:end]
}

// interpreters run the program named by a later argument.
var interpreters = map[string]bool{
	"python": true, "python3": true, "node": true, "java": true, "ruby": true, "php": true, "perl": true,
	"sh": true, "bash": true, "dash": true, "ash": true, "deno": true, "bun": true, "dotnet": true, "tini": true, "dumb-init": true,
}

// entrypoint resolves the configured command to the file it runs.
func entrypoint(in *analyze.Input, own *ownFiles) *Entrypoint {
	if in.Image == nil || in.Image.Config == nil || in.Tree == nil {
		return nil
	}
	cfg := in.Image.Config.Config
	argv := append(append([]string{}, cfg.Entrypoint...), cfg.Cmd...)
	if len(argv) == 0 {
		return nil
	}
	ep := &Entrypoint{Argv: argv}
	args := argv
	// sh -c "exec /app/server --flag": the first word of the script.
	if len(args) >= 3 && interpreters[path.Base(args[0])] && args[1] == "-c" {
		args = strings.Fields(strings.TrimPrefix(strings.TrimSpace(args[2]), "exec "))
	}
	pathEnv := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, e := range cfg.Env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			pathEnv = v
		}
	}
	find := func(name string) (string, *fstree.Entry) {
		if strings.Contains(name, "/") {
			if !strings.HasPrefix(name, "/") {
				name = path.Join("/", cfg.WorkingDir, name)
			}
			p, e, err := in.Tree.Resolve(name)
			if err != nil || e == nil {
				return "", nil
			}
			return p, e
		}
		for _, d := range strings.Split(pathEnv, ":") {
			if p, e, err := in.Tree.Resolve(path.Join("/", d, name)); err == nil && e != nil && e.IsFile() {
				return p, e
			}
		}
		return "", nil
	}
	for len(args) > 0 {
		prog := args[0]
		p, e := find(prog)
		base := strings.TrimRight(path.Base(prog), "0123456789.")
		if interpreters[base] && len(args) > 1 {
			// The script or jar the interpreter runs.
			rest := args[1:]
			for i := 0; i < len(rest); i++ {
				a := rest[i]
				if a == "-jar" && i+1 < len(rest) {
					rest = rest[i+1:]
					break
				}
				if a == "-m" || a == "-c" || a == "-e" {
					ep.Reason = "the command runs " + base + " " + a + " (code given inline or by module name)"
					rest = nil
					break
				}
				if !strings.HasPrefix(a, "-") {
					rest = rest[i:]
					break
				}
				if i == len(rest)-1 {
					rest = nil
				}
			}
			if len(rest) > 0 {
				args = rest
				continue
			}
		}
		if e == nil {
			if ep.Reason == "" {
				ep.Reason = fmt.Sprintf("%s is not in the image", prog)
			}
			return ep
		}
		ep.File, ep.Layer = p, int(e.Layer)
		for f := range own.all() {
			if f.e.Path() == p {
				ep.Own = true
			}
		}
		return ep
	}
	return ep
}

// findings turns the SARIF results into P7 findings; covered lists the
// own files the tools analysed.
func (a *Analyzer) findings(in *analyze.Input, own *ownFiles, sec *Section) ([]scorecard.Finding, map[string]bool) {
	covered := map[string]bool{}
	if len(a.SARIF) == 0 {
		return nil, covered // no index of every file's name is needed
	}
	// Every final file, by base name: what a SARIF location is matched on.
	all := map[string]*fstree.Entry{}
	byBase := map[string][]string{}
	if in.Tree != nil {
		in.Tree.Walk(func(e *fstree.Entry) error {
			if e.IsFile() && e.InFinal() {
				p := e.Path()
				all[p] = e
				byBase[path.Base(p)] = append(byBase[path.Base(p)], p)
			}
			return nil
		})
	}
	isOwn := map[string]bool{}
	for f := range own.all() {
		isOwn[f.e.Path()] = true
	}
	var out []scorecard.Finding
	for _, rep := range a.SARIF {
		imp := Imported{File: rep.File, Tools: rep.Tools, Results: len(rep.Results)}
		for _, u := range rep.Artifacts {
			if p := locate(u, byBase, isOwn); p != "" {
				covered[p] = true
			}
		}
		for _, r := range rep.Results {
			f := finding(r)
			if p := locate(r.URI, byBase, isOwn); p != "" {
				in.Locate(&f, all[p])
				imp.InImage++
				covered[p] = true
				f.Evidence["inImage"] = true
			} else if r.URI != "" {
				f.Evidence["inImage"] = false
			}
			out = append(out, f)
		}
		sec.Imported = append(sec.Imported, imp)
	}
	return out, covered
}

func finding(r Result) scorecard.Finding {
	title := r.Title
	if title == "" {
		title = r.Tool + " " + r.RuleID
		what := r.RuleText
		if what == "" {
			what = r.RuleName
		}
		if what == "" {
			what = r.Message
		}
		if what != "" {
			title += ": " + firstLine(what)
		}
	}
	if r.URI != "" {
		title += fmt.Sprintf(" (%s:%d)", r.URI, r.Line)
	}
	ev := map[string]any{
		"tool":           r.Tool,
		"ruleId":         r.RuleID,
		"message":        r.Message,
		"sarifFile":      r.File,
		"severitySource": r.SeveritySource,
	}
	for k, v := range r.Evidence {
		ev[k] = v
	}
	if r.ToolVersion != "" {
		ev["toolVersion"] = r.ToolVersion
	}
	if r.RuleName != "" {
		ev["ruleName"] = r.RuleName
	}
	rule, fix := r.Rule, r.Fix
	if rule == "" {
		rule = RuleSAST
	}
	if fix == "" {
		fix = fmt.Sprintf("Fix the code at %s:%d as %s's rule %s explains, rebuild the image; or suppress the result in %s with a justification.", r.URI, r.Line, r.Tool, r.RuleID, r.Tool)
	}
	f := rules.Finding(rule, scorecard.Finding{
		Severity:    r.Severity,
		Title:       title,
		Description: firstLine(r.Message),
		Evidence:    ev,
		Fix:         fix,
		Fingerprint: fmt.Sprintf("%s:%s:%s:%d", r.Tool, r.RuleID, r.URI, r.Line),
	})
	if r.URI != "" {
		f.Source = &scorecard.Source{File: r.URI, StartLine: r.Line, EndLine: r.EndLine}
	}
	return f
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// locate maps a SARIF file (relative to the source root, or absolute on
// the machine that ran the tool) to the image file that ships it: the
// final file whose path ends with the most components of it, own code
// first. Ambiguous matches pick the shortest path.
func locate(uri string, byBase map[string][]string, isOwn map[string]bool) string {
	if uri == "" {
		return ""
	}
	cands := byBase[path.Base(uri)]
	if len(cands) == 0 {
		return ""
	}
	parts := strings.Split(strings.TrimPrefix(uri, "/"), "/")
	best, bestN := "", 0
	for _, c := range cands {
		cp := strings.Split(strings.TrimPrefix(c, "/"), "/")
		n := 0
		for n < len(parts) && n < len(cp) && parts[len(parts)-1-n] == cp[len(cp)-1-n] {
			n++
		}
		// The whole relative path must match; an absolute one (the
		// tool's machine) at least its file name.
		if !strings.HasPrefix(uri, "/") && n < len(parts) {
			continue
		}
		better := n > bestN ||
			(n == bestN && isOwn[c] && !isOwn[best]) ||
			(n == bestN && isOwn[c] == isOwn[best] && (len(c) < len(best) || (len(c) == len(best) && c < best)))
		if best == "" || better {
			best, bestN = c, n
		}
	}
	return best
}

// analysedLangs says which own code the tools covered: a language and
// directory is analysed when a tool analysed one of its files.
//
// Go binaries count as analysed through their source when the imported
// results analysed Go source: the image ships the build output of code
// the tool read (which binary came from which module is not checked).
func analysedLangs(own *ownFiles, covered map[string]bool, goSource bool, sec *Section) {
	type key struct{ lang, kind, dir string }
	seen := map[key]bool{}
	hit := map[key]bool{}
	var (
		order        []key
		lastDir, top string // topDir depends on the directory only
		p            []byte // the file's path, built only to look it up
	)
	for f := range own.all() {
		if f.kind == "other" {
			continue
		}
		if dir := f.e.Dir(); dir != lastDir || dir == "/" {
			lastDir, top = dir, topDir(f.e.Path())
		}
		k := key{f.lang, f.kind, top}
		if !seen[k] {
			seen[k] = true
			order = append(order, k)
		}
		if len(covered) > 0 {
			if p = f.e.AppendPath(p[:0]); covered[string(p)] {
				hit[k] = true
			}
		}
	}
	for _, k := range order {
		s := k.lang + " " + k.kind + " in " + k.dir
		if !hit[k] && goSource && k.lang == "Go" && k.kind == "build output" {
			hit[k] = true
			s += " (through its Go source)"
		}
		if hit[k] {
			sec.Analysed = append(sec.Analysed, s)
		} else {
			sec.NotAnalysed = append(sec.NotAnalysed, s)
		}
	}
}
