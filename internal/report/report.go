// Package report writes a scan report in the formats users ask for: a
// table for people, JSON for CI, SARIF for code-scanning dashboards, SBOMs,
// and one self-contained HTML page per scan.
package report

import (
	"bytes"
	"encoding/json"
	"io"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// Formats lists the formats of a scan report, in help order.
var Formats = ScanFormats.IDs()

// Options tune the writers.
type Options struct {
	// Color enables ANSI colours in the table; ColorAllowed decides it
	// from the terminal and the environment.
	Color bool
	// Width wraps the table's lines to this many columns (the terminal's
	// width); 0 does not wrap.
	Width int
	// IncludeDeclared lists packages only declared in lock files in the
	// CycloneDX and SPDX SBOMs (marked declaredOnly); by default an SBOM
	// lists what is installed.
	IncludeDeclared bool
}

// ColorAllowed reports whether a table written to a terminal (isTerminal)
// may use colour, given the environment: never with NO_COLOR set or on a
// terminal that says it has none (TERM=dumb or unset).
func ColorAllowed(isTerminal bool, getenv func(string) string) bool {
	if !isTerminal || getenv("NO_COLOR") != "" {
		return false
	}
	term := getenv("TERM")
	return term != "" && term != "dumb"
}

// Write renders a scan report in format to w.
func Write(w io.Writer, format string, r *scorecard.Report, opts Options) error {
	if format == "" {
		format = "table"
	}
	return ScanFormats.Write(w, format, graded(r), opts)
}

// Known reports whether format is a scan report format.
func Known(format string) bool {
	_, err := ScanFormats.Lookup(format)
	return err == nil
}

// JSON writes the report as indented JSON, the versioned contract.
func JSON(w io.Writer, r *scorecard.Report) error { return writeJSON(w, r) }

// writeJSON writes any result as indented JSON, without HTML escaping,
// as an indenting json.Encoder would. The report can be megabytes: it is
// encoded compact, then indented into a buffer sized once, where the
// encoder's indent buffer grows (and is copied) step by step.
func writeJSON(w io.Writer, v any) error {
	var compact bytes.Buffer
	enc := json.NewEncoder(&compact)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	var out bytes.Buffer
	out.Grow(compact.Len() * 2)
	if err := json.Indent(&out, compact.Bytes(), "", "  "); err != nil {
		return err
	}
	_, err := out.WriteTo(w)
	return err
}
