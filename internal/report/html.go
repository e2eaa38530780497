package report

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shipshape-dev/shipshape/internal/humanize"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

//go:embed html/report.tmpl html/report.css html/report.js
var htmlFiles embed.FS

var (
	htmlTemplate = template.Must(template.New("report.tmpl").ParseFS(htmlFiles, "html/report.tmpl"))
	htmlCSS      = mustRead("html/report.css")
	htmlJS       = mustRead("html/report.js")
)

func mustRead(name string) string {
	b, err := htmlFiles.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	return string(b)
}

// HTML writes the report as one self-contained page: styles and the small
// script that sorts and filters tables are inline, charts are inline SVG,
// and a Content-Security-Policy forbids every other request. The page is
// made from the JSON form of the report, so it shows exactly what the JSON
// report carries (secrets stay as redacted as they are there), and it is
// complete without JavaScript and when printed.
func HTML(w io.Writer, r *scorecard.Report) error {
	p, err := buildPage(r)
	if err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	var buf bytes.Buffer
	if err := htmlTemplate.Execute(&buf, p); err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

// page is what the template renders.
type page struct {
	Title       string
	CSP         string
	CSS         template.CSS
	JS          template.JS
	Image       imageView
	Grade       string
	GradeReason string
	GradeClass  string
	Tiles       []tile
	SevChart    template.HTML
	Practices   []practiceView
	Warnings    []string
	Suppressed  []scorecard.Suppressed
	Other       []factBlock
}

type imageView struct {
	Name, Reference, Transport   string
	Digest, ConfigDigest         string
	Platform                     string
	Size, Compressed             string
	Layers                       int
	Created, Scanned, Tool       string
	RepoTags                     []string
	SchemaVersion                string
	HasDigest, HasConfig, HasTag bool
}

type status struct {
	Class, Icon, Text string
}

func statusOf(s scorecard.Status) status {
	switch s {
	case scorecard.Pass:
		return status{"pass", "✓", "pass"}
	case scorecard.Warn:
		return status{"warn", "!", "warn"}
	case scorecard.Fail:
		return status{"fail", "✗", "fail"}
	}
	return status{"not-run", "–", "not run"}
}

type tile struct {
	ID, Title string
	Status    status
	Detail    template.HTML
	Counts    string
}

type practiceView struct {
	ID, Title string
	Status    status
	Summary   template.HTML
	Reason    template.HTML
	Counts    string
	Metrics   []kv
	Findings  []findingView
	// NoFindings: the practice ran and found nothing.
	NoFindings bool
	Facts      []factBlock
	Vulns      *vulnTable
	Inventory  *inventoryView
	Layers     *layersView
}

// kv is one labelled value; Code renders the value in monospace.
type kv struct {
	Key, Value string
	Code       bool
}

type findingView struct {
	Severity, Rule, Title string
	Description, Fix      template.HTML
	Evidence              []kv
}

// factBlock is an analyzer section shown as a list of facts.
type factBlock struct {
	Name  string
	Facts []kv
	Rows  *genericTable
}

type genericTable struct {
	Head []string
	Rows [][]string
}

type vulnTable struct {
	Rows    []vulnRow
	Fixable int
	Missing []string
	VEX     *genericTable
}

type vulnRow struct {
	Priority          int
	ID, Aliases, URL  string
	Severity          string
	SevRank           int
	CVSS              string
	CVSSValue         float64
	Package, Version  string
	Ecosystem         string
	Fixed             string
	Layer             int
	Path, Summary     string
	DeclaredOnly      bool
	SourcePackageNote string
}

type inventoryView struct {
	Distro     string
	Total      int
	Chart      template.HTML
	Ecosystems []ecoGroup
	Removed    []pkgRow
	Errors     []string
}

type ecoGroup struct {
	Name     string
	Anchor   string
	Packages []pkgRow
}

type pkgRow struct {
	Name, Version, Type, Source, Licenses, Location string
	Layer, RemovedIn                                int
	Declared                                        bool
}

type layersView struct {
	Efficiency, WastedBytes, TotalBytes string
	Chart                               template.HTML
	Layers                              []layerRow
	WastedPaths                         []wastedRow
	Slim                                *slimView
}

type layerRow struct {
	Index               int
	Size, Bytes, DiffID string
	Files               int
	CreatedBy           string
	Cached              bool
}

type wastedRow struct {
	Path   string
	Copies int
	Bytes  string
	Layers string
}

type slimView struct {
	Before, After, BeforeFiles, AfterFiles string
	Used, Verified, Image, Created         string
	Chart                                  template.HTML
}

// jsonReport is the report as its JSON form decodes: sections stay raw so
// that each is read with the fields its writer published, and nothing else.
type jsonReport struct {
	scorecard.Report
	Sections map[string]json.RawMessage `json:"sections"`
}

func buildPage(r *scorecard.Report) (*page, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode report: %w", err)
	}
	var rep jsonReport
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("decode report: %w", err)
	}
	p := &page{
		Image:      imageOf(&rep.Report),
		Warnings:   rep.Warnings,
		Suppressed: rep.Suppressed,
	}
	p.Title = "shipshape: " + p.Image.Name
	grade, reason := rep.Grade, ""
	if len(rep.Practices) > 0 {
		var g scorecard.Grade
		g, reason = scorecard.GradeOf(rep.Practices)
		if grade == "" {
			grade = g
		}
	}
	p.Grade, p.GradeReason = string(grade), reason
	switch grade {
	case scorecard.GradeA, scorecard.GradeB:
		p.GradeClass = "pass"
	case scorecard.GradeC, scorecard.GradeD:
		p.GradeClass = "warn"
	default:
		p.GradeClass = "fail"
	}

	byPractice := map[scorecard.Practice][]scorecard.Finding{}
	for _, f := range rep.Findings {
		byPractice[f.Practice] = append(byPractice[f.Practice], f)
	}
	used := map[string]bool{}
	for _, pr := range rep.Practices {
		st := statusOf(pr.Status)
		t := tile{ID: string(pr.ID), Title: pr.Title, Status: st, Detail: codeSpans(pr.Summary), Counts: countsText(pr.Counts)}
		if pr.Status == scorecard.NotRun {
			t.Detail = codeSpans(pr.Reason)
		}
		p.Tiles = append(p.Tiles, t)

		pv := practiceView{ID: string(pr.ID), Title: pr.Title, Status: st, Summary: codeSpans(pr.Summary), Reason: codeSpans(pr.Reason), Counts: countsText(pr.Counts)}
		for _, k := range slices.Sorted(maps.Keys(pr.Metrics)) {
			if k == "packagesByEcosystem" {
				continue // drawn as the P4 chart
			}
			pv.Metrics = append(pv.Metrics, kv{Key: k, Value: valueText(pr.Metrics[k])})
		}
		fs := byPractice[pr.ID]
		switch pr.ID {
		case scorecard.P5:
			pv.Vulns = vulnsOf(fs, rep.Sections["vulnerabilities"])
			used["vulnerabilities"] = true
			fs = nonVuln(fs)
		case scorecard.P4:
			if raw, ok := rep.Sections["packages"]; ok {
				inv, err := inventoryViewOf(raw)
				if err != nil {
					return nil, err
				}
				pv.Inventory = inv
				used["packages"] = true
			}
		case scorecard.P8:
			lv, err := layersOf(&rep.Report, rep.Sections["waste"], rep.Sections["slim"])
			if err != nil {
				return nil, err
			}
			pv.Layers = lv
			used["waste"], used["slim"] = true, true
		}
		for _, f := range fs {
			pv.Findings = append(pv.Findings, findingOf(f))
		}
		pv.NoFindings = pr.Status != scorecard.NotRun && len(pv.Findings) == 0 && (pv.Vulns == nil || len(pv.Vulns.Rows) == 0)
		for _, name := range sectionsOf[pr.ID] {
			if raw, ok := rep.Sections[name]; ok {
				pv.Facts = append(pv.Facts, factsOf(name, raw))
				used[name] = true
			}
		}
		p.Practices = append(p.Practices, pv)
	}
	for _, name := range slices.Sorted(maps.Keys(rep.Sections)) {
		if !used[name] {
			p.Other = append(p.Other, factsOf(name, rep.Sections[name]))
		}
	}
	p.SevChart = severityChart(rep.Practices)

	css := ":root{color-scheme:light dark;" + lightTheme.vars() + "}" +
		"@media (prefers-color-scheme:dark){:root{" + darkTheme.vars() + "}}" + htmlCSS
	p.CSS, p.JS = template.CSS(css), template.JS(htmlJS)
	p.CSP = fmt.Sprintf("default-src 'none'; style-src '%s'; script-src '%s'; img-src 'none'; base-uri 'none'; form-action 'none'", hash(css), hash(htmlJS))
	return p, nil
}

// sectionsOf places the image checks' sections under their practice.
var sectionsOf = map[scorecard.Practice][]string{
	scorecard.P2: {"user", "setuid"},
	scorecard.P3: {"os", "packageDB"},
	scorecard.P9: {"base"},
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

func imageOf(r *scorecard.Report) imageView {
	img := r.Image
	v := imageView{
		Name: img.Reference, Reference: img.Reference, Transport: img.Transport,
		Digest: img.Digest, ConfigDigest: img.ConfigDigest, RepoTags: img.RepoTags,
		Layers: len(img.Layers), SchemaVersion: r.SchemaVersion,
		Tool:    strings.TrimSpace(r.Tool.Name + " " + r.Tool.Version),
		Scanned: timeText(r.CreatedAt),
	}
	if len(img.RepoTags) > 0 {
		v.Name = img.RepoTags[0]
	}
	v.HasDigest, v.HasConfig, v.HasTag = img.Digest != "", img.ConfigDigest != "", len(img.RepoTags) > 0
	if img.OS != "" || img.Architecture != "" {
		v.Platform = img.OS + "/" + img.Architecture
		if img.Variant != "" {
			v.Platform += "/" + img.Variant
		}
	}
	var size, blobs int64
	for _, l := range img.Layers {
		size += l.Bytes
		blobs += l.Size
	}
	v.Size, v.Compressed = humanize.Bytes(size), humanize.Bytes(blobs)
	if img.Created != nil {
		v.Created = timeText(*img.Created)
	}
	return v
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

func countsText(c map[scorecard.Severity]int) string {
	var parts []string
	for _, s := range scorecard.Severities {
		if n := c[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	return strings.Join(parts, ", ")
}

// valueText writes a decoded JSON value for people.
func valueText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return "yes"
		}
		return "no"
	case float64:
		if x == float64(int64(x)) && x < 1e15 && x > -1e15 {
			return strconv.FormatInt(int64(x), 10)
		}
		return strconv.FormatFloat(x, 'g', 4, 64)
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, valueText(e))
		}
		return strings.Join(parts, ", ")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func findingOf(f scorecard.Finding) findingView {
	v := findingView{Severity: string(f.Severity), Rule: f.Rule, Title: f.Title, Description: codeSpans(f.Description), Fix: codeSpans(f.Fix)}
	add := func(k, val string, code bool) {
		if val != "" {
			v.Evidence = append(v.Evidence, kv{k, val, code})
		}
	}
	if f.Path != "" {
		add("path", f.Path+fate(f), true)
	}
	add("field", f.Field, true)
	if f.Source != nil {
		loc := f.Source.File
		if f.Source.StartLine > 0 {
			loc += ":" + strconv.Itoa(f.Source.StartLine)
			if f.Source.EndLine > f.Source.StartLine {
				loc += "-" + strconv.Itoa(f.Source.EndLine)
			}
		}
		add("source", loc, true)
	}
	if f.Layer > 0 {
		add("layer", strconv.Itoa(f.Layer), false)
		add("diffID", f.LayerDiffID, true)
		add("created by", f.CreatedBy, true)
	}
	if f.RemovedInLayer > 0 {
		add("removed in", "layer "+strconv.Itoa(f.RemovedInLayer), false)
	}
	if f.OverwrittenInLayer > 0 {
		add("overwritten in", "layer "+strconv.Itoa(f.OverwrittenInLayer), false)
	}
	if pk := f.Package; pk != nil {
		add("package", strings.TrimSpace(pk.Name+" "+pk.Version), true)
		add("ecosystem", pk.Ecosystem, false)
		add("purl", pk.PURL, true)
	}
	for _, k := range slices.Sorted(maps.Keys(f.Evidence)) {
		add(k, valueText(f.Evidence[k]), k == "secret" || k == "secretHash" || k == "value")
	}
	add("fingerprint", f.Fingerprint, true)
	return v
}

// codeSpans escapes s and sets the parts between backticks, as the fix
// texts quote commands, in monospace.
func codeSpans(s string) template.HTML {
	parts := strings.Split(s, "`")
	if len(parts)%2 == 0 { // an unpaired backtick: leave the text as it is
		return template.HTML(template.HTMLEscapeString(s))
	}
	var b strings.Builder
	for i, p := range parts {
		if i%2 == 1 {
			b.WriteString("<code>" + template.HTMLEscapeString(p) + "</code>")
		} else {
			b.WriteString(template.HTMLEscapeString(p))
		}
	}
	return template.HTML(b.String())
}

func nonVuln(fs []scorecard.Finding) []scorecard.Finding {
	var out []scorecard.Finding
	for _, f := range fs {
		if !isVuln(f) {
			out = append(out, f)
		}
	}
	return out
}

func isVuln(f scorecard.Finding) bool {
	_, ok := f.Evidence["id"].(string)
	return f.Practice == scorecard.P5 && ok && f.Package != nil
}

// vulnsOf makes the P5 table. Priority orders what to fix first: fixable
// before unfixable, then by severity, CVSS score, package and id.
func vulnsOf(fs []scorecard.Finding, section json.RawMessage) *vulnTable {
	t := &vulnTable{}
	for _, f := range fs {
		if !isVuln(f) {
			continue
		}
		id, _ := f.Evidence["id"].(string)
		row := vulnRow{
			ID: id, Severity: string(f.Severity), SevRank: f.Severity.Rank(),
			Package: f.Package.Name, Version: f.Package.Version, Ecosystem: f.Package.Ecosystem,
			Layer: f.Layer, Path: f.Path, Summary: f.Description,
			URL: "https://osv.dev/vulnerability/" + id,
		}
		if v, ok := f.Evidence["aliases"]; ok {
			row.Aliases = valueText(v)
		}
		if v, ok := f.Evidence["fixedVersions"]; ok {
			row.Fixed = valueText(v)
			t.Fixable++
		}
		if v, ok := f.Evidence["cvssScore"].(float64); ok {
			row.CVSSValue, row.CVSS = v, strconv.FormatFloat(v, 'f', 1, 64)
		}
		if v, ok := f.Evidence["declaredOnly"].(bool); ok {
			row.DeclaredOnly = v
		}
		if sp, ok := f.Evidence["sourcePackage"].(string); ok {
			row.SourcePackageNote = "source " + strings.TrimSpace(sp+" "+valueText(f.Evidence["sourceVersion"]))
		}
		t.Rows = append(t.Rows, row)
	}
	slices.SortStableFunc(t.Rows, func(a, b vulnRow) int {
		return cmp.Or(
			boolRank(b.Fixed != "")-boolRank(a.Fixed != ""),
			b.SevRank-a.SevRank,
			cmp.Compare(b.CVSSValue, a.CVSSValue),
			cmp.Compare(a.Package, b.Package),
			cmp.Compare(a.ID, b.ID),
		)
	})
	for i := range t.Rows {
		t.Rows[i].Priority = i + 1
	}
	if len(section) > 0 {
		var sec struct {
			Missing []string         `json:"missingEcosystems"`
			VEX     []map[string]any `json:"vexSuppressed"`
		}
		if json.Unmarshal(section, &sec) == nil {
			t.Missing = sec.Missing
			if len(sec.VEX) > 0 {
				t.VEX = tableOf(sec.VEX)
			}
		}
	}
	return t
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// inventoryViewOf reads the P4 section as the JSON report publishes it.
func inventoryViewOf(raw json.RawMessage) (*inventoryView, error) {
	type pkg struct {
		Name          string   `json:"name"`
		Version       string   `json:"version"`
		Ecosystem     string   `json:"ecosystem"`
		Type          string   `json:"type"`
		SourceName    string   `json:"sourceName"`
		SourceVersion string   `json:"sourceVersion"`
		Licenses      []string `json:"licenses"`
		Locations     []string `json:"locations"`
		Layer         int      `json:"layer"`
		RemovedIn     int      `json:"removedInLayer"`
		Declared      bool     `json:"declared"`
	}
	var inv struct {
		Distro *struct {
			PrettyName string `json:"prettyName"`
			Ecosystem  string `json:"ecosystem"`
		} `json:"distro"`
		Packages []pkg    `json:"packages"`
		Removed  []pkg    `json:"removed"`
		Errors   []string `json:"errors"`
	}
	if err := json.Unmarshal(raw, &inv); err != nil {
		return nil, fmt.Errorf("packages section: %w", err)
	}
	row := func(p pkg) pkgRow {
		r := pkgRow{Name: p.Name, Version: p.Version, Type: p.Type, Licenses: strings.Join(p.Licenses, ", "), Layer: p.Layer, RemovedIn: p.RemovedIn, Declared: p.Declared}
		if p.SourceName != "" && (p.SourceName != p.Name || p.SourceVersion != p.Version) {
			r.Source = strings.TrimSpace(p.SourceName + " " + p.SourceVersion)
		}
		if len(p.Locations) > 0 {
			r.Location = p.Locations[0]
			if n := len(p.Locations) - 1; n > 0 {
				r.Location += fmt.Sprintf(" (+%d)", n)
			}
		}
		return r
	}
	v := &inventoryView{Total: len(inv.Packages), Errors: inv.Errors}
	if d := inv.Distro; d != nil {
		v.Distro = strings.TrimSpace(d.PrettyName)
		if d.Ecosystem != "" {
			v.Distro += " (" + d.Ecosystem + ")"
		}
	}
	groups := map[string]*ecoGroup{}
	var names []string
	for _, p := range inv.Packages {
		name := ecosystemName(p.Ecosystem, p.Type)
		g := groups[name]
		if g == nil {
			g = &ecoGroup{Name: name, Anchor: "P4-" + anchor(name)}
			groups[name] = g
			names = append(names, name)
		}
		g.Packages = append(g.Packages, row(p))
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Or(len(groups[b].Packages)-len(groups[a].Packages), cmp.Compare(a, b))
	})
	var bars []bar
	for _, n := range names {
		v.Ecosystems = append(v.Ecosystems, *groups[n])
		c := len(groups[n].Packages)
		bars = append(bars, bar{Label: n, Value: int64(c), Text: strconv.Itoa(c)})
	}
	if len(bars) > 0 {
		v.Chart = barChart("Packages per ecosystem", bars)
	}
	for _, p := range inv.Removed {
		v.Removed = append(v.Removed, row(p))
	}
	return v, nil
}

func ecosystemName(eco, typ string) string {
	if eco == "" {
		if typ == "" {
			return "unknown"
		}
		return typ
	}
	base, _, _ := strings.Cut(eco, ":")
	return base
}

// anchor makes s usable in an id attribute.
func anchor(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' {
			return r
		}
		return '-'
	}, s)
}

// layersOf makes P8's dive-like view.
func layersOf(r *scorecard.Report, wasteRaw, slimRaw json.RawMessage) (*layersView, error) {
	v := &layersView{}
	var bars []bar
	for _, l := range r.Image.Layers {
		v.Layers = append(v.Layers, layerRow{
			Index: l.Index, Size: humanize.Bytes(l.Size), Bytes: humanize.Bytes(l.Bytes),
			DiffID: l.DiffID, Files: l.Files, CreatedBy: l.CreatedBy, Cached: l.Cached,
		})
		bars = append(bars, bar{Label: "layer " + strconv.Itoa(l.Index), Value: l.Bytes, Text: humanize.Bytes(l.Bytes)})
	}
	if len(bars) > 0 {
		v.Chart = barChart("Bytes per layer", bars)
	}
	if len(wasteRaw) > 0 {
		var m struct {
			Efficiency  float64 `json:"efficiency"`
			WastedBytes int64   `json:"wastedBytes"`
			TotalBytes  int64   `json:"totalBytes"`
			Paths       []struct {
				Path   string `json:"path"`
				Copies int    `json:"copies"`
				Bytes  int64  `json:"bytes"`
				Layers []int  `json:"layers"`
			} `json:"paths"`
		}
		if err := json.Unmarshal(wasteRaw, &m); err != nil {
			return nil, fmt.Errorf("waste section: %w", err)
		}
		v.Efficiency = strconv.FormatFloat(100*m.Efficiency, 'f', 1, 64) + "%"
		v.WastedBytes, v.TotalBytes = humanize.Bytes(m.WastedBytes), humanize.Bytes(m.TotalBytes)
		for _, p := range m.Paths {
			ls := make([]string, len(p.Layers))
			for i, l := range p.Layers {
				ls[i] = strconv.Itoa(l)
			}
			v.WastedPaths = append(v.WastedPaths, wastedRow{Path: p.Path, Copies: p.Copies, Bytes: humanize.Bytes(p.Bytes), Layers: strings.Join(ls, ", ")})
		}
	}
	if len(slimRaw) > 0 {
		var s struct {
			ImageDigest string `json:"imageDigest"`
			Before      struct {
				Files int   `json:"files"`
				Bytes int64 `json:"bytes"`
			} `json:"before"`
			After struct {
				Files int   `json:"files"`
				Bytes int64 `json:"bytes"`
			} `json:"after"`
			UsedShare float64   `json:"usedShare"`
			Verified  bool      `json:"verified"`
			Created   time.Time `json:"created"`
		}
		if err := json.Unmarshal(slimRaw, &s); err != nil {
			return nil, fmt.Errorf("slim section: %w", err)
		}
		v.Slim = &slimView{
			Before: humanize.Bytes(s.Before.Bytes), After: humanize.Bytes(s.After.Bytes),
			BeforeFiles: strconv.Itoa(s.Before.Files), AfterFiles: strconv.Itoa(s.After.Files),
			Used: strconv.FormatFloat(100*s.UsedShare, 'f', 1, 64) + "%", Verified: valueText(s.Verified),
			Image: s.ImageDigest, Created: timeText(s.Created),
			Chart: barChart("Slim: bytes before and after", []bar{
				{Label: "before", Value: s.Before.Bytes, Text: humanize.Bytes(s.Before.Bytes)},
				{Label: "after", Value: s.After.Bytes, Text: humanize.Bytes(s.After.Bytes)},
			}),
		}
	}
	return v, nil
}

// factsOf shows an analyzer section: an object as a list of facts (nested
// values flattened to dotted keys), a list of objects as a table.
func factsOf(name string, raw json.RawMessage) factBlock {
	fb := factBlock{Name: name}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		fb.Facts = []kv{{Key: "error", Value: err.Error()}}
		return fb
	}
	switch x := v.(type) {
	case map[string]any:
		flatten("", x, &fb.Facts)
	case []any:
		var rows []map[string]any
		for _, e := range x {
			m, ok := e.(map[string]any)
			if !ok {
				fb.Facts = []kv{{Key: name, Value: valueText(x)}}
				return fb
			}
			rows = append(rows, m)
		}
		fb.Rows = tableOf(rows)
	default:
		fb.Facts = []kv{{Key: name, Value: valueText(x)}}
	}
	return fb
}

func flatten(prefix string, m map[string]any, out *[]kv) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		key := k
		if prefix != "" {
			key = prefix + "." + k
		}
		if sub, ok := m[k].(map[string]any); ok {
			flatten(key, sub, out)
			continue
		}
		*out = append(*out, kv{Key: key, Value: valueText(m[k])})
	}
}

// tableOf lays out objects as rows under the union of their keys.
func tableOf(rows []map[string]any) *genericTable {
	keys := map[string]bool{}
	for _, r := range rows {
		for k := range r {
			keys[k] = true
		}
	}
	t := &genericTable{Head: slices.Sorted(maps.Keys(keys))}
	for _, r := range rows {
		cells := make([]string, len(t.Head))
		for i, k := range t.Head {
			cells[i] = valueText(r[k])
		}
		t.Rows = append(t.Rows, cells)
	}
	return t
}
