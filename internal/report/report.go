// Package report writes a scan report in the formats users ask for: a
// table for people, JSON for CI, SARIF for code-scanning dashboards, SBOMs,
// and one self-contained HTML page per scan.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// Formats lists the formats Write knows, in help order.
var Formats = []string{"table", "json", "sarif", "cyclonedx", "spdx", "html"}

// Options tune the writers.
type Options struct {
	// Color enables ANSI colours in the table.
	Color bool
}

// Write renders r in format to w. An image report without a grade is
// graded first ([scorecard.GradeOf]); r itself is not changed.
func Write(w io.Writer, format string, r *scorecard.Report, opts Options) error {
	r = graded(r)
	switch format {
	case "table", "":
		return Table(w, r, opts)
	case "json":
		return JSON(w, r)
	case "sarif":
		return SARIF(w, r)
	case "cyclonedx":
		return CycloneDX(w, r)
	case "spdx":
		return SPDX(w, r)
	case "html":
		return HTML(w, r)
	}
	return fmt.Errorf("unknown format %q (want one of %v)", format, Formats)
}

// Known reports whether format is one Write handles.
func Known(format string) bool { return slices.Contains(Formats, format) }

// JSON writes the report as indented JSON, the versioned contract.
func JSON(w io.Writer, r *scorecard.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}
