// Package report writes a scan report in the formats users ask for: a
// table for people, JSON for CI, SARIF for code-scanning dashboards.
package report

import (
	"encoding/json"
	"io"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// Formats lists the formats of a scan report, in help order.
var Formats = ScanFormats.IDs()

// Options tune the writers.
type Options struct {
	// Color enables ANSI colours in the table.
	Color bool
}

// Write renders a scan report in format to w.
func Write(w io.Writer, format string, r *scorecard.Report, opts Options) error {
	if format == "" {
		format = "table"
	}
	return ScanFormats.Write(w, format, r, opts)
}

// Known reports whether format is a scan report format.
func Known(format string) bool {
	_, err := ScanFormats.Lookup(format)
	return err == nil
}

// JSON writes the report as indented JSON, the versioned contract.
func JSON(w io.Writer, r *scorecard.Report) error { return writeJSON(w, r) }

// writeJSON writes any result as indented JSON, without HTML escaping.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
