package owncode

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// MaxSARIFBytes bounds one imported SARIF file.
const MaxSARIFBytes = 256 << 20

// Result is one imported SAST result.
type Result struct {
	Tool, ToolVersion string
	RuleID, RuleName  string
	// RuleText is the rule's short description.
	RuleText string
	Message  string
	// URI is the result's file as the tool named it (relative to the
	// source root, or a file: URL); Line and EndLine its region.
	URI           string
	Line, EndLine int
	Severity      scorecard.Severity
	// SeveritySource says where the severity came from:
	// "security-severity", "tool rating" or "level".
	SeveritySource string
	// File is the SARIF file it came from.
	File string

	// Set for results shipshape makes itself (govulncheck): the rule,
	// title, fix and evidence of the finding; empty for imported ones.
	Rule, Title, Fix string
	Evidence         map[string]any
}

// Report is one imported SARIF file.
type Report struct {
	File    string
	Tools   []string
	Results []Result
	// Artifacts are the files the tools say they analysed (results'
	// files included).
	Artifacts []string
	// Errors are what the tool could not analyse (code that does not
	// type-check): the results may be incomplete.
	Errors []string
	// GoReach is govulncheck's source-mode verdict per Go module
	// (--source with a vulnerability database); GoReachNote says why it
	// did not run when it did not.
	GoReach     []*GoReach
	GoReachNote string
}

// sarif is the part of SARIF 2.1.0 the import reads.
type sarif struct {
	Version string `json:"version"`
	Runs    []struct {
		Tool struct {
			Driver struct {
				Name            string      `json:"name"`
				Version         string      `json:"version"`
				SemanticVersion string      `json:"semanticVersion"`
				Rules           []sarifRule `json:"rules"`
			} `json:"driver"`
		} `json:"tool"`
		Artifacts []struct {
			Location sarifArtifact `json:"location"`
		} `json:"artifacts"`
		Results []struct {
			RuleID    string         `json:"ruleId"`
			RuleIndex *int           `json:"ruleIndex"`
			Rule      *sarifRuleRef  `json:"rule"`
			Level     string         `json:"level"`
			Message   sarifMessage   `json:"message"`
			Locations []sarifLoc     `json:"locations"`
			Props     map[string]any `json:"properties"`
		} `json:"results"`
	} `json:"runs"`
}

type sarifRule struct {
	ID               string       `json:"id"`
	Name             string       `json:"name"`
	ShortDescription sarifMessage `json:"shortDescription"`
	Default          *struct {
		Level string `json:"level"`
	} `json:"defaultConfiguration"`
	Props map[string]any `json:"properties"`
}

type sarifRuleRef struct {
	ID    string `json:"id"`
	Index *int   `json:"index"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifArtifact struct {
	URI       string `json:"uri"`
	URIBaseID string `json:"uriBaseId"`
}

type sarifLoc struct {
	Physical *struct {
		Artifact sarifArtifact `json:"artifactLocation"`
		Region   *struct {
			StartLine int `json:"startLine"`
			EndLine   int `json:"endLine"`
		} `json:"region"`
	} `json:"physicalLocation"`
}

// LoadSARIF reads a SARIF 2.1.0 file.
func LoadSARIF(file string) (*Report, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("--sarif: %w", err)
	}
	defer f.Close()
	r, err := ParseSARIF(io.LimitReader(f, MaxSARIFBytes+1), file)
	if err != nil {
		return nil, fmt.Errorf("--sarif %s: %w", file, err)
	}
	return r, nil
}

// ParseSARIF reads SARIF 2.1.0; name names it in results.
func ParseSARIF(rd io.Reader, name string) (*Report, error) {
	b, err := io.ReadAll(rd)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxSARIFBytes {
		return nil, fmt.Errorf("larger than %d bytes", MaxSARIFBytes)
	}
	var doc sarif
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("not SARIF JSON: %w", err)
	}
	if doc.Version != "2.1.0" {
		return nil, fmt.Errorf("SARIF version %q: want 2.1.0", doc.Version)
	}
	if doc.Runs == nil {
		return nil, errors.New("SARIF without runs")
	}
	rep := &Report{File: name}
	seenArt := map[string]bool{}
	addArt := func(u string) {
		if u != "" && !seenArt[u] {
			seenArt[u] = true
			rep.Artifacts = append(rep.Artifacts, u)
		}
	}
	for _, run := range doc.Runs {
		d := run.Tool.Driver
		tool := strings.TrimSpace(d.Name)
		if tool == "" {
			tool = "unknown tool"
		}
		rep.Tools = append(rep.Tools, tool)
		version := d.SemanticVersion
		if version == "" {
			version = d.Version
		}
		byID := map[string]*sarifRule{}
		for i := range d.Rules {
			byID[d.Rules[i].ID] = &d.Rules[i]
		}
		for _, a := range run.Artifacts {
			addArt(cleanURI(a.Location.URI))
		}
		for _, res := range run.Results {
			var rule *sarifRule
			idx := res.RuleIndex
			id := res.RuleID
			if res.Rule != nil {
				if id == "" {
					id = res.Rule.ID
				}
				if idx == nil {
					idx = res.Rule.Index
				}
			}
			if idx != nil && *idx >= 0 && *idx < len(d.Rules) {
				rule = &d.Rules[*idx]
			} else if r, ok := byID[id]; ok {
				rule = r
			}
			if id == "" && rule != nil {
				id = rule.ID
			}
			out := Result{Tool: tool, ToolVersion: version, RuleID: id, Message: strings.TrimSpace(res.Message.Text), File: name}
			if rule != nil {
				out.RuleName, out.RuleText = rule.Name, rule.ShortDescription.Text
			}
			out.Severity, out.SeveritySource = severityOf(res.Level, res.Props, rule)
			for _, l := range res.Locations {
				if l.Physical == nil {
					continue
				}
				out.URI = cleanURI(l.Physical.Artifact.URI)
				if r := l.Physical.Region; r != nil {
					out.Line, out.EndLine = max(r.StartLine, 0), max(r.EndLine, 0)
				}
				break
			}
			addArt(out.URI)
			rep.Results = append(rep.Results, out)
		}
	}
	return rep, nil
}

// cleanURI turns a SARIF artifact URI into a slash path: a file: URL's
// path, or the relative path as given ("./a/b.go" → "a/b.go").
func cleanURI(u string) string {
	if u == "" {
		return ""
	}
	if p, err := url.Parse(u); err == nil && p.Scheme == "file" {
		u = p.Path
	} else if err == nil && p.Scheme == "" {
		if un, err := url.PathUnescape(u); err == nil {
			u = un
		}
	}
	if strings.HasPrefix(u, "/") {
		return path.Clean(u)
	}
	return strings.TrimPrefix(path.Clean("/"+u), "/")
}

// severityOf rates a result: its (or its rule's) security-severity (a
// CVSS-like score, CodeQL and GitHub code scanning), else a severity word
// among the rule's tags or properties (gosec tags HIGH/MEDIUM/LOW), else
// the result's level (error high, warning medium, note low, none info).
func severityOf(level string, props map[string]any, rule *sarifRule) (scorecard.Severity, string) {
	var rp map[string]any
	if rule != nil {
		rp = rule.Props
	}
	for _, p := range []map[string]any{props, rp} {
		if s, ok := securitySeverity(p); ok {
			return s, "security-severity"
		}
	}
	for _, p := range []map[string]any{props, rp} {
		if s, ok := wordSeverity(p); ok {
			return s, "tool rating"
		}
	}
	if level == "" && rule != nil && rule.Default != nil {
		level = rule.Default.Level
	}
	switch level {
	case "error":
		return scorecard.High, "level"
	case "note":
		return scorecard.Low, "level"
	case "none":
		return scorecard.Info, "level"
	}
	return scorecard.Medium, "level" // "warning", SARIF's default
}

func securitySeverity(p map[string]any) (scorecard.Severity, bool) {
	var f float64
	switch v := p["security-severity"].(type) {
	case string:
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil {
			return "", false
		}
		f = x
	case float64:
		f = v
	default:
		return "", false
	}
	switch {
	case f >= 9:
		return scorecard.Critical, true
	case f >= 7:
		return scorecard.High, true
	case f >= 4:
		return scorecard.Medium, true
	case f > 0:
		return scorecard.Low, true
	}
	return scorecard.Info, true
}

func wordSeverity(p map[string]any) (scorecard.Severity, bool) {
	var words []string
	if tags, ok := p["tags"].([]any); ok {
		for _, t := range tags {
			if s, ok := t.(string); ok {
				words = append(words, s)
			}
		}
	}
	for _, k := range []string{"severity", "problem.severity", "impact"} {
		if s, ok := p[k].(string); ok {
			words = append(words, s)
		}
	}
	best := scorecard.Severity("")
	for _, w := range words {
		var s scorecard.Severity
		switch strings.ToUpper(w) {
		case "CRITICAL":
			s = scorecard.Critical
		case "HIGH":
			s = scorecard.High
		case "MEDIUM", "MODERATE":
			s = scorecard.Medium
		case "LOW":
			s = scorecard.Low
		default:
			continue
		}
		if best == "" || s.Rank() > best.Rank() {
			best = s
		}
	}
	return best, best != ""
}
