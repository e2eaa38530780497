package scorecard

import (
	"cmp"
	"slices"
	"strings"
)

// Coverage is what an analyzer says about a practice it is responsible for:
// that it ran (or why it could not), and what it measured.
type Coverage struct {
	Practice Practice
	// Ran is false when the analyzer could not check the practice; Reason
	// then says why and how to fix it.
	Ran     bool
	Reason  string
	Summary string
	Metrics map[string]any
	// FailAt is the lowest severity that fails the practice; findings below
	// it (but above info) warn. The zero value means high.
	FailAt Severity
	// WarnAt is the lowest severity that warns; findings below it count
	// but neither warn nor fail. The zero value means low.
	WarnAt Severity
	// FailIf, when set, narrows which findings at or above FailAt fail
	// the practice (P5: only fixable ones); the others warn.
	FailIf func(Finding) bool `json:"-"`
	// Partial, when set, says what the analyzer could not check although
	// it ran: the practice then cannot pass (it warns at best), and the
	// reason is added to the summary.
	Partial string
}

// NothingToJudge is the reason of a practice that did not run because the
// image (or directory) holds no files.
const NothingToJudge = "nothing to judge: the image has no files"

// Evaluate builds the scorecard: one result per practice, in order. A
// practice with no coverage that ran is not-run, with the reason its
// analyzer gave (its summary and metrics are kept as information); otherwise it
// fails on any finding at or above its FailAt severity, warns on any other
// finding above info, and passes.
func Evaluate(findings []Finding, coverage []Coverage) []PracticeResult {
	out := make([]PracticeResult, 0, len(Practices))
	for _, p := range Practices {
		r := PracticeResult{ID: p, Title: p.Title(), Status: NotRun, Reason: "no analyzer for this practice yet"}
		failAt, warnAt := High, Low
		var failIf func(Finding) bool
		covered := false
		var partial []string
		for _, c := range coverage {
			if c.Practice != p {
				continue
			}
			if !c.Ran {
				if !covered && r.Reason == "no analyzer for this practice yet" {
					r.Reason = c.Reason
				}
			} else {
				if !covered {
					r.Reason = ""
				}
				covered = true
			}
			// A practice that did not run may still carry information (P4:
			// the inventory), shown as such.
			if c.Summary != "" {
				if r.Summary != "" {
					r.Summary += "; "
				}
				r.Summary += c.Summary
			}
			for k, v := range c.Metrics {
				if r.Metrics == nil {
					r.Metrics = map[string]any{}
				}
				r.Metrics[k] = v
			}
			if !c.Ran {
				continue
			}
			if c.Partial != "" {
				partial = append(partial, c.Partial)
			}
			if c.FailAt != "" {
				failAt = c.FailAt
			}
			if c.WarnAt != "" {
				warnAt = c.WarnAt
			}
			if c.FailIf != nil {
				failIf = c.FailIf
			}
		}
		for _, f := range findings {
			if f.Practice != p {
				continue
			}
			if r.Counts == nil {
				r.Counts = map[Severity]int{}
			}
			r.Counts[f.Severity]++
		}
		if !covered {
			out = append(out, r)
			continue
		}
		r.Status = Pass
		for _, f := range findings {
			if f.Practice != p {
				continue
			}
			switch {
			case f.Severity.Rank() >= failAt.Rank() && (failIf == nil || failIf(f)):
				r.Status = Fail
			case f.Severity.Rank() >= warnAt.Rank() && r.Status == Pass:
				r.Status = Warn
			}
		}
		if len(partial) > 0 {
			// Nothing found in what could be checked is not a pass when
			// part of the practice could not be checked.
			if r.Status == Pass {
				r.Status = Warn
			}
			if r.Summary != "" {
				r.Summary += "; "
			}
			r.Summary += "not fully checked: " + strings.Join(partial, "; ")
		}
		out = append(out, r)
	}
	return out
}

// SortFindings orders findings by practice, then priority (the
// evidence's "priorityScore", higher first: P5 ranks known-exploited and
// reachable vulnerabilities first), then severity (most severe first),
// then layer, path and rule, so that output is stable.
func SortFindings(fs []Finding) {
	slices.SortStableFunc(fs, func(a, b Finding) int {
		return cmp.Or(
			cmp.Compare(a.Practice, b.Practice),
			cmp.Compare(priorityScore(b), priorityScore(a)),
			cmp.Compare(b.Severity.Rank(), a.Severity.Rank()),
			cmp.Compare(a.Layer, b.Layer),
			cmp.Compare(a.Path, b.Path),
			cmp.Compare(a.Field, b.Field),
			cmp.Compare(a.Rule, b.Rule),
		)
	})
}

// Filter returns the findings whose severity is in sevs; all of them when
// sevs is empty.
func Filter(fs []Finding, sevs []Severity) []Finding {
	if len(sevs) == 0 {
		return fs
	}
	out := make([]Finding, 0, len(fs))
	for _, f := range fs {
		if slices.Contains(sevs, f.Severity) {
			out = append(out, f)
		}
	}
	return out
}

// priorityScore is a finding's evidence "priorityScore" (0 when absent).
func priorityScore(f Finding) int {
	switch v := f.Evidence["priorityScore"].(type) {
	case int:
		return v
	case float64:
		return int(v)
	}
	return 0
}
