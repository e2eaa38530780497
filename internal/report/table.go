package report

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"unicode/utf8"

	"github.com/shipshape-dev/shipshape/internal/dockerfile"
	"github.com/shipshape-dev/shipshape/internal/humanize"
	"github.com/shipshape-dev/shipshape/internal/rules"
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

// status is a practice's status, padded to the widest status before it is
// painted, so that colour codes never count as width.
func (p painter) status(s scorecard.Status) string {
	switch s {
	case scorecard.Pass:
		return p.paint(ansiGreen, "PASS   ")
	case scorecard.Warn:
		return p.paint(ansiYellow, "WARN   ")
	case scorecard.Fail:
		return p.paint(ansiRed, "FAIL   ")
	}
	return p.paint(ansiGrey, "NOT RUN")
}

// severity is a finding's severity, padded to 8 columns before it is
// painted.
func (p painter) severity(s scorecard.Severity) string {
	u := fmt.Sprintf("%-8s", strings.ToUpper(string(s)))
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
	fmt.Fprintf(b, "   %s   size %s\n\n", humanize.Count(len(img.Layers), "layer"), humanize.Bytes(bytes))

	if r.Grade != "" {
		_, why := scorecard.GradeOf(r.Practices)
		fmt.Fprintf(b, "%s  grade %s (%s)\n", p.paint(ansiBold, "Scorecard"), p.paint(ansiBold, string(r.Grade)), why)
	} else {
		fmt.Fprintln(b, p.paint(ansiBold, "Scorecard"))
	}
	ignored := ignoredByPractice(r.Suppressed)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	for _, pr := range r.Practices {
		detail := pr.Summary
		if pr.Status == scorecard.NotRun {
			detail = pr.Reason
			if pr.Summary != "" {
				detail += "; " + pr.Summary
			}
		}
		if n := ignored[pr.ID]; n > 0 {
			detail += fmt.Sprintf("; %d ignored", n)
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
		fmt.Fprintf(b, "\n%s\n", p.paint(ansiBold, fmt.Sprintf("%s %s — %s", pr.ID, pr.Title, humanize.Count(len(fs), "finding"))))
		// Advice that every finding of the practice carries is said once,
		// after them.
		var once []string
		for _, f := range fs {
			if prio, ok := f.Evidence["priority"].(string); ok {
				// P5: the priority column, then what it rests on.
				fmt.Fprintf(b, "  %s %s  %-9s  %s\n", p.severity(f.Severity), f.Rule, strings.ToUpper(prio), f.Title)
				if r := riskLine(f); r != "" {
					fmt.Fprintf(b, "           risk     %s\n", r)
				}
			} else {
				fmt.Fprintf(b, "  %s %s  %s\n", p.severity(f.Severity), f.Rule, f.Title)
			}
			if f.Path != "" {
				fmt.Fprintf(b, "           path     %s%s\n", f.Path, fate(f))
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
			fix := f.Fix
			for _, a := range onceAdvice {
				if i := strings.Index(fix, a); i >= 0 {
					if end := strings.Index(fix[i:], ". "); end >= 0 {
						a = fix[i : i+end+1]
					} else {
						a = fix[i:]
					}
					fix = strings.TrimSpace(fix[:i] + fix[i+len(a):])
					if !slices.Contains(once, a) {
						once = append(once, a)
					}
				}
			}
			if fix != "" {
				fmt.Fprintf(b, "           fix      %s\n", fix)
			}
		}
		for _, a := range once {
			fmt.Fprintf(b, "  %s\n", a)
		}
	}
	if n := len(r.Suppressed); n > 0 {
		fmt.Fprintf(b, "\n%s ignored (.shipshapeignore or the policy): listed under \"suppressed\" in -f json\n", humanize.Count(n, "finding"))
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(b, "\n%s\n", p.paint(ansiBold, "Warnings about the input"))
		for _, w := range r.Warnings {
			fmt.Fprintf(b, "  - %s\n", w)
		}
	}
	out := b.String()
	if opts.Width > 0 {
		out = wrap(out, opts.Width)
	}
	_, err := io.WriteString(w, out)
	return err
}

// riskLine says what a vulnerability's priority rests on: known
// exploitation, EPSS, reachability and where its severity came from.
func riskLine(f scorecard.Finding) string {
	var parts []string
	if f.Evidence["knownExploited"] == true {
		s := "known exploited (CISA KEV"
		if d, _ := f.Evidence["kevDateAdded"].(string); d != "" {
			s += " since " + d
		}
		parts = append(parts, s+")")
	}
	if rel, ok := f.Evidence["relatedKnownExploited"].([]string); ok && len(rel) > 0 {
		parts = append(parts, "related "+strings.Join(rel, ", ")+" known exploited")
	}
	if e, ok := f.Evidence["epss"].(float64); ok {
		parts = append(parts, fmt.Sprintf("EPSS %.3f", e))
	}
	if r, _ := f.Evidence["reachable"].(string); r != "" {
		s := "reachable " + r
		if syms, ok := f.Evidence["reachableSymbols"].([]string); ok && len(syms) > 0 && r == "yes" {
			s += " (" + humanize.Line(strings.Join(syms, ", "), 80) + ")"
		}
		parts = append(parts, s)
	}
	if u, _ := f.Evidence["inUse"].(string); u != "" {
		s := "in use " + u
		if files, ok := f.Evidence["inUseFiles"].([]string); ok && len(files) > 0 && u == "yes" {
			s += " (opened " + humanize.Line(strings.Join(files, ", "), 80) + ")"
		}
		parts = append(parts, s)
	}
	if src, _ := f.Evidence["severitySource"].(string); src != "" {
		s := "severity from " + src
		if rec, _ := f.Evidence["severityRecord"].(string); rec != "" {
			s += " of " + rec
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " · ")
}

// onceAdvice starts sentences that findings repeat word for word and the
// table says once per practice.
var onceAdvice = []string{"Rotate this credential"}

// ignoredByPractice counts suppressed findings per practice, as far as
// the rule id tells the practice (SS-P1-…, an image rule, SS-DF-…).
func ignoredByPractice(sup []scorecard.Suppressed) map[scorecard.Practice]int {
	out := map[scorecard.Practice]int{}
	for _, s := range sup {
		if r, ok := rules.Lookup(s.Rule); ok {
			out[r.Practice]++
		} else if r, ok := dockerfile.RuleByID(s.Rule); ok {
			out[r.Practice]++
		} else if len(s.Rule) > 5 && strings.HasPrefix(s.Rule, "SS-P") {
			out[scorecard.Practice(s.Rule[3:5])]++
		}
	}
	return out
}

var ansiRE = regexp.MustCompile("\x1b\\[[0-9;]*m")

// visible is the width of s on a terminal, without colour codes.
func visible(s string) int { return utf8.RuneCountInString(ansiRE.ReplaceAllString(s, "")) }

// wrap folds every line wider than width at spaces, indenting the
// continuation under the line's last column (where its text starts after
// a gap of two or more spaces), so that a long fix or path stays readable.
// A word longer than the room is cut.
func wrap(s string, width int) string {
	var out strings.Builder
	for _, line := range strings.SplitAfter(s, "\n") {
		nl := strings.HasSuffix(line, "\n")
		line = strings.TrimSuffix(line, "\n")
		indent := hangingIndent(ansiRE.ReplaceAllString(line, ""), width)
		room, prefix := width, ""
		for visible(line) > room {
			minCol := 0
			if prefix == "" {
				minCol = indent
			}
			cut := cutAt(line, room, minCol)
			if cut <= 0 {
				_, cut = utf8.DecodeRuneInString(line)
			}
			out.WriteString(prefix + strings.TrimRight(line[:cut], " ") + "\n")
			line = strings.TrimLeft(line[cut:], " ")
			room, prefix = width-indent, strings.Repeat(" ", indent)
		}
		out.WriteString(prefix + line)
		if nl {
			out.WriteString("\n")
		}
	}
	return out.String()
}

// hangingIndent is the column where a line's last column starts.
func hangingIndent(plain string, width int) int {
	lead := len(plain) - len(strings.TrimLeft(plain, " "))
	indent := lead + 2
	if i := strings.LastIndex(plain[:min(len(plain), width)], "  "); i > lead {
		j := i
		for j < len(plain) && plain[j] == ' ' {
			j++
		}
		indent = utf8.RuneCountInString(plain[:j])
	}
	if indent > width/2 {
		indent = min(lead+2, width/2)
	}
	return indent
}

// cutAt returns the byte offset where line is cut to fit room visible
// columns: at the last space that fits beyond column minCol, else at room
// columns.
func cutAt(line string, room, minCol int) int {
	cols, lastSpace, hard := 0, -1, len(line)
	for i := 0; i < len(line); {
		if loc := ansiRE.FindStringIndex(line[i:]); loc != nil && loc[0] == 0 {
			i += loc[1]
			continue
		}
		r, size := utf8.DecodeRuneInString(line[i:])
		if cols == room {
			hard = i
			break
		}
		if r == ' ' && cols > minCol {
			lastSpace = i
		}
		cols++
		i += size
	}
	if r, _ := utf8.DecodeRuneInString(line[min(hard, len(line)):]); hard < len(line) && r == ' ' && cols > minCol {
		return hard
	}
	if lastSpace > 0 {
		return lastSpace
	}
	return hard
}

// fate says, after a finding's path, whether the file is still in the
// final image or where a later layer removed or replaced it (the table and
// the HTML page say it the same way); "" when the finding does not say.
func fate(f scorecard.Finding) string {
	if f.InFinalImage == nil {
		return ""
	}
	switch {
	case *f.InFinalImage:
		return " (in the final image)"
	case f.RemovedInLayer > 0:
		return fmt.Sprintf(" (removed in layer %d, still recoverable from layer %d)", f.RemovedInLayer, f.Layer)
	case f.OverwrittenInLayer > 0:
		return fmt.Sprintf(" (overwritten in layer %d, still recoverable from layer %d)", f.OverwrittenInLayer, f.Layer)
	}
	return " (not in the final image)"
}
