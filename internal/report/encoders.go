package report

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// Encoder writes one kind of result in one format.
type Encoder[T any] struct {
	// ID is the format's name (--format).
	ID string
	// Aliases are other names users type for it.
	Aliases []string
	// Encode writes v to w.
	Encode func(w io.Writer, v T, o Options) error
}

// Encoders are the formats one kind of result can be written in: the one
// registry every command's --format goes through.
type Encoders[T any] []Encoder[T]

// IDs lists the format names, in help order.
func (es Encoders[T]) IDs() []string {
	ids := make([]string, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return ids
}

// String lists the format names for help texts.
func (es Encoders[T]) String() string { return strings.Join(es.IDs(), ", ") }

// Lookup finds the encoder for a format name or alias (any case).
func (es Encoders[T]) Lookup(format string) (Encoder[T], error) {
	f := strings.ToLower(format)
	for _, e := range es {
		if e.ID == f || slices.Contains(e.Aliases, f) {
			return e, nil
		}
	}
	return Encoder[T]{}, fmt.Errorf("unknown format %q (want one of %s)", format, es)
}

// Write writes v to w in format.
func (es Encoders[T]) Write(w io.Writer, format string, v T, o Options) error {
	e, err := es.Lookup(format)
	if err != nil {
		return err
	}
	return e.Encode(w, v, o)
}

// jsonOf adapts the JSON writer to any value.
func jsonOf[T any](w io.Writer, v T, _ Options) error { return writeJSON(w, v) }

// ScanFormats are the formats of a scan report.
var ScanFormats = Encoders[*scorecard.Report]{
	{ID: "table", Encode: Table},
	{ID: "json", Encode: jsonOf[*scorecard.Report]},
	{ID: "sarif", Encode: func(w io.Writer, r *scorecard.Report, _ Options) error { return SARIF(w, r) }},
	{ID: "cyclonedx", Aliases: []string{"cdx"}, Encode: writeCycloneDX},
	{ID: "spdx", Aliases: []string{"spdx-json"}, Encode: writeSPDX},
	{ID: "html", Encode: func(w io.Writer, r *scorecard.Report, _ Options) error { return HTML(w, r) }},
}

// SBOMFormats are the formats of "sbom".
var SBOMFormats = Encoders[*scorecard.Report]{
	{ID: "cyclonedx", Aliases: []string{"cdx"}, Encode: writeCycloneDX},
	{ID: "spdx", Aliases: []string{"spdx-json"}, Encode: writeSPDX},
	{ID: "json", Encode: jsonOf[*scorecard.Report]},
}

// LintFormats are the formats of "lint".
var LintFormats = Encoders[*scorecard.Report]{
	{ID: "table", Encode: LintTable},
	{ID: "json", Encode: jsonOf[*scorecard.Report]},
	{ID: "sarif", Encode: func(w io.Writer, r *scorecard.Report, _ Options) error { return SARIF(w, r) }},
}
