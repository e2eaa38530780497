// Package scorecard defines shipshape's result model: the nine practices,
// findings with their evidence, and the report that every output format
// renders. The JSON form of Report is a versioned contract for CI users.
package scorecard

import (
	"fmt"
	"strings"
	"time"
)

// SchemaVersion is the version of the JSON report. Additive changes bump the
// minor number; a change that could break a consumer bumps the major number.
const SchemaVersion = "1.3"

// Practice identifies one of the nine container-image practices.
type Practice string

// The nine practices, in report order.
const (
	P1 Practice = "P1" // no build secrets in any layer
	P2 Practice = "P2" // run as a non-root user
	P3 Practice = "P3" // recent base image, updated system packages
	P4 Practice = "P4" // up-to-date third-party dependencies (inventory)
	P5 Practice = "P5" // known vulnerabilities
	P6 Practice = "P6" // content trust
	P7 Practice = "P7" // scan your own code
	P8 Practice = "P8" // remove unneeded files
	P9 Practice = "P9" // reliable base images
)

// Practices lists every practice in report order.
var Practices = []Practice{P1, P2, P3, P4, P5, P6, P7, P8, P9}

var practiceTitles = map[Practice]string{
	P1: "No build secrets in any layer",
	P2: "Run as a non-root user",
	P3: "Recent base image, updated system packages",
	P4: "Up-to-date third-party dependencies",
	P5: "No known vulnerabilities",
	P6: "Content trust",
	P7: "Scan your own code",
	P8: "Remove unneeded files",
	P9: "Reliable base images",
}

// Title is the practice's human name.
func (p Practice) Title() string { return practiceTitles[p] }

// Status is the outcome of one practice in one scan.
type Status string

// Practice statuses.
const (
	Pass   Status = "pass"
	Warn   Status = "warn"
	Fail   Status = "fail"
	NotRun Status = "not-run"
)

// Severity ranks a finding.
type Severity string

// Severities, most severe first.
const (
	Critical Severity = "critical"
	High     Severity = "high"
	Medium   Severity = "medium"
	Low      Severity = "low"
	Info     Severity = "info"
)

// Severities lists every severity, most severe first.
var Severities = []Severity{Critical, High, Medium, Low, Info}

// Rank orders severities: critical is 4, info is 0, unknown is -1.
func (s Severity) Rank() int {
	switch s {
	case Critical:
		return 4
	case High:
		return 3
	case Medium:
		return 2
	case Low:
		return 1
	case Info:
		return 0
	}
	return -1
}

// ParseSeverities parses a comma-separated severity list such as
// "HIGH,critical". An empty string yields nil.
func ParseSeverities(s string) ([]Severity, error) {
	var out []Severity
	for _, f := range strings.Split(s, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		if f == "" {
			continue
		}
		sev := Severity(f)
		if sev.Rank() < 0 {
			return nil, fmt.Errorf("unknown severity %q (want one of critical, high, medium, low, info)", f)
		}
		out = append(out, sev)
	}
	return out, nil
}

// Finding is one problem found in an image, with the evidence that locates
// it and the fix that removes it.
type Finding struct {
	Practice    Practice `json:"practice"`
	Rule        string   `json:"rule"`
	Severity    Severity `json:"severity"`
	Title       string   `json:"title"`
	Description string   `json:"description,omitempty"`

	// Layer is the 1-based index of the layer holding the evidence; 0 when
	// the evidence is not in a layer (config, history, policy).
	Layer       int    `json:"layer,omitempty"`
	LayerDiffID string `json:"layerDiffID,omitempty"`
	// CreatedBy is the history line of the instruction that made the layer.
	CreatedBy string `json:"createdBy,omitempty"`
	Path      string `json:"path,omitempty"`
	// InFinalImage tells whether Path is still present in the final
	// filesystem; nil when the finding has no path.
	InFinalImage *bool `json:"inFinalImage,omitempty"`
	// RemovedInLayer is the layer that deleted Path (whiteout), if any.
	RemovedInLayer int `json:"removedInLayer,omitempty"`
	// OverwrittenInLayer is the layer that replaced Path, if any.
	OverwrittenInLayer int `json:"overwrittenInLayer,omitempty"`
	// Field names a config location such as "Env[3]" or "History[7]".
	Field string `json:"field,omitempty"`
	// Source locates the evidence in a source file (a Dockerfile line).
	Source *Source `json:"source,omitempty"`
	// Package is the package the evidence belongs to, if any.
	Package *PackageRef `json:"package,omitempty"`
	// Evidence holds rule-specific details (redacted values, sizes, …).
	Evidence map[string]any `json:"evidence,omitempty"`
	Fix      string         `json:"fix,omitempty"`
	// Fingerprint identifies the finding across scans, for ignore files.
	Fingerprint string `json:"fingerprint,omitempty"`
}

// Source is a place in a source file, such as a Dockerfile instruction.
type Source struct {
	File      string `json:"file"`
	StartLine int    `json:"startLine,omitempty"`
	EndLine   int    `json:"endLine,omitempty"`
}

// PackageRef names a package as evidence.
type PackageRef struct {
	Name      string `json:"name"`
	Version   string `json:"version,omitempty"`
	Ecosystem string `json:"ecosystem,omitempty"`
	PURL      string `json:"purl,omitempty"`
}

// PracticeResult is one practice's line on the scorecard.
type PracticeResult struct {
	ID      Practice         `json:"id"`
	Title   string           `json:"title"`
	Status  Status           `json:"status"`
	Reason  string           `json:"reason,omitempty"`
	Summary string           `json:"summary,omitempty"`
	Counts  map[Severity]int `json:"counts,omitempty"`
	Metrics map[string]any   `json:"metrics,omitempty"`
}

// LayerInfo describes one layer of the scanned image.
type LayerInfo struct {
	Index     int    `json:"index"`
	Digest    string `json:"digest,omitempty"`
	DiffID    string `json:"diffID"`
	Size      int64  `json:"size"`
	MediaType string `json:"mediaType,omitempty"`
	CreatedBy string `json:"createdBy,omitempty"`
	Files     int    `json:"files"`
	Bytes     int64  `json:"bytes"`
	Cached    bool   `json:"cached,omitempty"`
}

// ImageInfo describes the scanned image.
type ImageInfo struct {
	Reference    string      `json:"reference"`
	Transport    string      `json:"transport"`
	Digest       string      `json:"digest,omitempty"`
	ConfigDigest string      `json:"configDigest,omitempty"`
	OS           string      `json:"os,omitempty"`
	Architecture string      `json:"architecture,omitempty"`
	Variant      string      `json:"variant,omitempty"`
	Created      *time.Time  `json:"created,omitempty"`
	RepoTags     []string    `json:"repoTags,omitempty"`
	Layers       []LayerInfo `json:"layers"`
	// History is the config's history, instructions that made no layer
	// included, each with the layer it made (schema 1.1).
	History []HistoryInfo `json:"history,omitempty"`
}

// HistoryInfo is one entry of the image's history.
type HistoryInfo struct {
	// Layer is the 1-based layer the entry made; 0 for ENV, LABEL, CMD …
	Layer      int    `json:"layer,omitempty"`
	CreatedBy  string `json:"createdBy"`
	EmptyLayer bool   `json:"emptyLayer,omitempty"`
}

// Report is the whole result of a scan.
type Report struct {
	SchemaVersion string           `json:"schemaVersion"`
	Tool          Tool             `json:"tool"`
	CreatedAt     time.Time        `json:"createdAt"`
	Image         ImageInfo        `json:"image"`
	Practices     []PracticeResult `json:"practices"`
	// Grade is the overall mark of an image scan ([GradeOf] over
	// Practices); empty for reports that grade nothing (lint). Added in
	// schema 1.1.
	Grade    Grade     `json:"grade,omitempty"`
	Findings []Finding `json:"findings"`
	// Warnings are problems with the input that did not stop the scan, such
	// as an archive entry that tried to escape the image root.
	Warnings []string `json:"warnings,omitempty"`
	// Suppressed lists the findings that ignore entries removed.
	Suppressed []Suppressed `json:"suppressed,omitempty"`
	// Sections carries analyzer-specific data (inventory, metrics) by name.
	Sections map[string]any `json:"sections,omitempty"`
}

// Suppressed is a finding an ignore entry removed, kept in the report so
// that accepted risks stay visible.
type Suppressed struct {
	Rule    string `json:"rule"`
	Path    string `json:"path,omitempty"`
	Reason  string `json:"reason"`
	Expires string `json:"expires,omitempty"`
	// Source is the ignore entry, as FILE:LINE.
	Source string `json:"source"`
}

// Tool identifies the program that wrote a report.
type Tool struct {
	Name    string `json:"name"`
	Version string `json:"version"`
}

// Bool returns a pointer to b, for optional JSON booleans.
func Bool(b bool) *bool { return &b }

// Section returns the report section name as the type its analyzer put
// there; false when the report has no such section or it is of another
// type (a report read back from JSON holds plain maps).
func Section[T any](r *Report, name string) (T, bool) {
	v, ok := r.Sections[name].(T)
	return v, ok
}
