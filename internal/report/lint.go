package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// LintTable writes lint findings for people: one line per finding with
// its Dockerfile line, then the fix.
func LintTable(w io.Writer, r *scorecard.Report, o Options) error {
	color := o.Color
	var b strings.Builder
	fmt.Fprintf(&b, "Dockerfile: %s\n\n", r.Image.Reference)
	if len(r.Findings) == 0 {
		fmt.Fprintln(&b, "No findings.")
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	for _, f := range r.Findings {
		line := ""
		if f.Source != nil {
			line = fmt.Sprintf("%s:%d", f.Source.File, f.Source.StartLine)
		}
		sev := strings.ToUpper(string(f.Severity))
		if color {
			sev = painter(true).severity(f.Severity)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", line, sev, f.Rule, f.Practice, f.Title)
		if f.Fix != "" {
			fmt.Fprintf(tw, "\t\t\t\tfix: %s\n", f.Fix)
		}
	}
	tw.Flush()
	if len(r.Suppressed) > 0 {
		fmt.Fprintf(&b, "\nSuppressed\n")
		for _, s := range r.Suppressed {
			fmt.Fprintf(&b, "  %s at %s: %s\n", s.Rule, s.Source, s.Reason)
		}
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(&b, "\nWarnings\n")
		for _, x := range r.Warnings {
			fmt.Fprintf(&b, "  - %s\n", x)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
