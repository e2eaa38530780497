// Package report writes a scan report in the formats users ask for: a
// table for people, JSON for CI, SARIF for code-scanning dashboards.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// Formats lists the formats Write knows, in help order.
var Formats = []string{"table", "json", "sarif", "cyclonedx", "spdx"}

// Options tune the writers.
type Options struct {
	// Color enables ANSI colours in the table; ColorAllowed decides it
	// from the terminal and the environment.
	Color bool
	// Width wraps the table's lines to this many columns (the terminal's
	// width); 0 does not wrap.
	Width int
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

// Write renders r in format to w.
func Write(w io.Writer, format string, r *scorecard.Report, opts Options) error {
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
