// Package report writes a scan report in the formats users ask for: a
// table for people, JSON for CI, SARIF for code-scanning dashboards, SBOMs,
// and one self-contained HTML page per scan.
package report

import (
	"bufio"
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
// byte for byte as an indenting json.Encoder would. The report can be
// megabytes: it is encoded compact, then indented as it is written out,
// where the encoder would hold it a second time, indented, in a buffer
// grown step by step (every fresh page costs).
func writeJSON(w io.Writer, v any) error {
	var compact bytes.Buffer
	enc := json.NewEncoder(&compact)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	indent(bw, compact.Bytes())
	return bw.Flush()
}

// indent writes src, compact JSON as encoding/json writes it, indented
// by two spaces as json.Indent would: an empty object or array stays on
// its line, and what follows the value (the encoder's newline) is kept.
func indent(w *bufio.Writer, src []byte) {
	depth := 0
	newline := func() {
		w.WriteByte('\n')
		for range depth {
			w.WriteString("  ")
		}
	}
	for i := 0; i < len(src); i++ {
		switch c := src[i]; c {
		case '"':
			// A string, copied as is up to its closing quote.
			j := i + 1
			for ; j < len(src) && src[j] != '"'; j++ {
				if src[j] == '\\' {
					j++
				}
			}
			w.Write(src[i:min(j+1, len(src))])
			i = j
		case '{', '[':
			w.WriteByte(c)
			if i+1 < len(src) && (src[i+1] == '}' || src[i+1] == ']') {
				w.WriteByte(src[i+1])
				i++
				continue
			}
			depth++
			newline()
		case '}', ']':
			depth--
			newline()
			w.WriteByte(c)
		case ',':
			w.WriteByte(c)
			newline()
		case ':':
			w.WriteString(": ")
		default:
			w.WriteByte(c)
		}
	}
}
