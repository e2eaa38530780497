package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/strip"
)

// FixSecrets is the result of "shipshape fix secrets": P1 before and after,
// and what was changed.
type FixSecrets struct {
	// Reference is the image that was fixed.
	Reference string               `json:"-"`
	Output    string               `json:"output"`
	Before    *scorecard.Report    `json:"before"`
	After     *scorecard.Report    `json:"after"`
	Changes   *strip.Result        `json:"changes"`
	Kept      []scorecard.Finding  `json:"kept,omitempty"`
	Notice    string               `json:"notice,omitempty"`
	P1        map[string]P1Summary `json:"p1"`
}

// P1Summary is P1's status in one report.
type P1Summary struct {
	Status   scorecard.Status `json:"status"`
	Findings int              `json:"findings"`
	Summary  string           `json:"summary,omitempty"`
}

// FixFormats are the formats of "fix secrets".
var FixFormats = Encoders[*FixSecrets]{
	{ID: "table", Encode: FixTable},
	{ID: "json", Encode: jsonOf[*FixSecrets]},
}

// P1Of summarises P1 in a report.
func P1Of(r *scorecard.Report) P1Summary {
	s := P1Summary{}
	for _, p := range r.Practices {
		if p.ID == scorecard.P1 {
			s.Status, s.Summary = p.Status, p.Summary
		}
	}
	for _, f := range r.Findings {
		if f.Practice == scorecard.P1 {
			s.Findings++
		}
	}
	return s
}

// FixTable writes a fix for people.
func FixTable(w io.Writer, out *FixSecrets, _ Options) error {
	ref := out.Reference
	b, af := out.P1["before"], out.P1["after"]
	fmt.Fprintf(w, "P1 before: %s, %d findings (%s)\n", strings.ToUpper(string(b.Status)), b.Findings, b.Summary)
	for _, f := range out.Before.Findings {
		if f.Practice != scorecard.P1 {
			continue
		}
		where := f.Path
		if f.Field != "" {
			where = f.Field
		}
		action := "removed"
		if !strip.Strippable(&f) {
			action = "kept (" + fmt.Sprint(f.Evidence["class"]) + ")"
		}
		layer := ""
		if f.Layer > 0 {
			layer = fmt.Sprintf(" layer %d", f.Layer)
		}
		fmt.Fprintf(w, "  %-8s %-28s %s%s  %v  → %s\n", f.Severity, f.Rule, where, layer, f.Evidence["secret"], action)
	}
	c := out.Changes
	var layers []int
	for l := range c.Removed {
		layers = append(layers, l)
	}
	sort.Ints(layers)
	if len(c.Removed) == 0 && len(c.EnvRemoved) == 0 && len(c.LabelsRedacted) == 0 && len(c.HistoryRedacted) == 0 {
		fmt.Fprintf(w, "\nNo secrets to remove: the image was copied unchanged.\n")
		fmt.Fprintf(w, "Wrote %s\n", out.Output)
		return nil
	}
	fmt.Fprintf(w, "\nChanges:\n")
	for _, l := range layers {
		fmt.Fprintf(w, "  layer %d: removed %s\n", l, strings.Join(c.Removed[l], ", "))
	}
	if len(c.EnvRemoved) > 0 {
		fmt.Fprintf(w, "  Env: removed %s\n", strings.Join(c.EnvRemoved, ", "))
	}
	if len(c.LabelsRedacted) > 0 {
		fmt.Fprintf(w, "  Labels: redacted %s\n", strings.Join(c.LabelsRedacted, ", "))
	}
	if len(c.HistoryRedacted) > 0 {
		fmt.Fprintf(w, "  History: redacted %d entries\n", len(c.HistoryRedacted))
	}
	fmt.Fprintf(w, "\nWrote %s\n", out.Output)
	fmt.Fprintf(w, "P1 after:  %s, %d findings (%s)\n", strings.ToUpper(string(af.Status)), af.Findings, af.Summary)
	fmt.Fprintf(w, "\n%s (%s)\n", strip.RotateNotice, ref)
	return nil
}
