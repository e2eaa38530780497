package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/shipshape-dev/shipshape/internal/humanize"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiYellow = "\x1b[33m"
	ansiGreen  = "\x1b[32m"
	ansiGrey   = "\x1b[90m"
	ansiMag    = "\x1b[35m"
)

type painter bool

func (p painter) paint(code, s string) string {
	if !p {
		return s
	}
	return code + s + ansiReset
}

func (p painter) status(s scorecard.Status) string {
	switch s {
	case scorecard.Pass:
		return p.paint(ansiGreen, "PASS")
	case scorecard.Warn:
		return p.paint(ansiYellow, "WARN")
	case scorecard.Fail:
		return p.paint(ansiRed, "FAIL")
	}
	return p.paint(ansiGrey, "NOT RUN")
}

func (p painter) severity(s scorecard.Severity) string {
	u := strings.ToUpper(string(s))
	switch s {
	case scorecard.Critical:
		return p.paint(ansiMag+ansiBold, u)
	case scorecard.High:
		return p.paint(ansiRed, u)
	case scorecard.Medium:
		return p.paint(ansiYellow, u)
	}
	return p.paint(ansiGrey, u)
}

// Table writes the report for people: the image, the scorecard, then the
// findings grouped by practice with their evidence and fix.
func Table(w io.Writer, r *scorecard.Report, opts Options) error {
	p := painter(opts.Color)
	b := &strings.Builder{}
	img := r.Image
	fmt.Fprintf(b, "%s %s\n", p.paint(ansiBold, "Image:"), img.Reference)
	if img.Digest != "" {
		fmt.Fprintf(b, "  digest   %s\n", img.Digest)
	}
	if img.ConfigDigest != "" {
		fmt.Fprintf(b, "  id       %s\n", img.ConfigDigest)
	}
	fmt.Fprintf(b, "  platform %s/%s", img.OS, img.Architecture)
	if img.Variant != "" {
		fmt.Fprintf(b, "/%s", img.Variant)
	}
	var bytes int64
	for _, l := range img.Layers {
		bytes += l.Bytes
	}
	fmt.Fprintf(b, "   layers %d   size %s\n\n", len(img.Layers), humanize.Bytes(bytes))

	if r.Grade != "" {
		_, why := scorecard.GradeOf(r.Practices)
		fmt.Fprintf(b, "%s  grade %s (%s)\n", p.paint(ansiBold, "Scorecard"), p.paint(ansiBold, string(r.Grade)), why)
	} else {
		fmt.Fprintln(b, p.paint(ansiBold, "Scorecard"))
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	for _, pr := range r.Practices {
		detail := pr.Summary
		if pr.Status == scorecard.NotRun {
			detail = pr.Reason
		}
		counts := ""
		for _, s := range scorecard.Severities {
			if n := pr.Counts[s]; n > 0 {
				counts += fmt.Sprintf(" %d %s", n, s)
			}
		}
		if counts != "" {
			detail = strings.TrimSpace(counts) + "; " + detail
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", pr.ID, p.status(pr.Status), pr.Title, strings.TrimSuffix(detail, "; "))
	}
	tw.Flush()

	for _, pr := range r.Practices {
		var fs []scorecard.Finding
		for _, f := range r.Findings {
			if f.Practice == pr.ID {
				fs = append(fs, f)
			}
		}
		if len(fs) == 0 {
			continue
		}
		fmt.Fprintf(b, "\n%s\n", p.paint(ansiBold, fmt.Sprintf("%s %s — %d finding(s)", pr.ID, pr.Title, len(fs))))
		for _, f := range fs {
			fmt.Fprintf(b, "  %-8s %s  %s\n", p.severity(f.Severity), f.Rule, f.Title)
			if f.Path != "" {
				state := ""
				if f.InFinalImage != nil {
					switch {
					case *f.InFinalImage:
						state = " (in final image)"
					case f.RemovedInLayer > 0:
						state = fmt.Sprintf(" (removed in layer %d, still recoverable from layer %d)", f.RemovedInLayer, f.Layer)
					case f.OverwrittenInLayer > 0:
						state = fmt.Sprintf(" (overwritten in layer %d, still recoverable from layer %d)", f.OverwrittenInLayer, f.Layer)
					}
				}
				fmt.Fprintf(b, "           path     %s%s\n", f.Path, state)
			}
			if f.Field != "" {
				fmt.Fprintf(b, "           field    %s\n", f.Field)
			}
			if f.Source != nil {
				fmt.Fprintf(b, "           source   %s:%d\n", f.Source.File, f.Source.StartLine)
			}
			if f.Package != nil {
				fmt.Fprintf(b, "           package  %s %s\n", f.Package.Name, f.Package.Version)
			}
			if f.Layer > 0 {
				fmt.Fprintf(b, "           layer    %d %s\n", f.Layer, humanize.Digest(f.LayerDiffID))
				if f.CreatedBy != "" {
					fmt.Fprintf(b, "           by       %s\n", humanize.Line(f.CreatedBy, 120))
				}
			}
			if f.Fix != "" {
				fmt.Fprintf(b, "           fix      %s\n", f.Fix)
			}
		}
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(b, "\n%s\n", p.paint(ansiBold, "Warnings about the input"))
		for _, w := range r.Warnings {
			fmt.Fprintf(b, "  - %s\n", w)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}
