// Package waste measures the space an image wastes on files that later
// layers delete or replace (dive's efficiency and wasted bytes), and
// reports it under practice P8.
package waste

import (
	"context"
	"fmt"
	"sort"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/humanize"
	"github.com/shipshape-dev/shipshape/internal/rules"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// Metrics are dive's image metrics.
type Metrics struct {
	// Efficiency is Σ smallest copy of each path ÷ Σ all copies of each
	// path across layers (1 when nothing is duplicated or deleted).
	Efficiency float64 `json:"efficiency"`
	// WastedBytes is the size of every copy of each path present in two or
	// more layers (a whiteout counts as a copy of size 0).
	WastedBytes int64 `json:"wastedBytes"`
	// TotalBytes is the size of all regular files in all layers.
	TotalBytes int64 `json:"totalBytes"`
	// UserWastedPercent is WastedBytes ÷ the bytes of all layers but the
	// first (the base), as dive's CI rule computes it.
	UserWastedPercent float64 `json:"userWastedPercent"`
	// Paths lists the most wasteful paths, largest first.
	Paths []Path `json:"paths,omitempty"`
}

// Path is one path present in several layers.
type Path struct {
	Path   string `json:"path"`
	Copies int    `json:"copies"`
	Bytes  int64  `json:"bytes"`
	// Layers holds the layer index of every copy, bottom first.
	Layers []int `json:"layers"`
}

// Measure computes the metrics from the per-layer indexes of a squashed
// tree. top bounds the number of paths listed.
func Measure(t *fstree.Tree, top int) Metrics {
	type acc struct {
		copies []*fstree.Entry
		sum    int64
		min    int64
	}
	size := func(e *fstree.Entry) int64 {
		if e.Type == fstree.Regular {
			return e.Size
		}
		return 0
	}
	// A path has several copies exactly when one of its entries was removed
	// or overwritten, or is a whiteout; only those paths need accounting.
	multi := map[string]*acc{}
	var m Metrics
	var baseBytes int64
	for i, l := range t.Layers() {
		if i == 0 {
			baseBytes = l.Bytes
		}
		m.TotalBytes += l.Bytes
		for _, e := range l.All() {
			if e.Type != fstree.Dir && e.Type != fstree.Opaque && (e.Type == fstree.Whiteout || !e.InFinal()) {
				multi[e.Path()] = nil
			}
		}
	}
	var p []byte // each path, built in one buffer: the lookup builds no string
	for _, l := range t.Layers() {
		for _, e := range l.All() {
			if e.Type == fstree.Dir || e.Type == fstree.Opaque {
				continue
			}
			p = e.AppendPath(p[:0])
			a, ok := multi[string(p)]
			if !ok {
				continue
			}
			if a == nil {
				a = &acc{min: size(e)}
				multi[string(p)] = a
			}
			a.copies = append(a.copies, e)
			a.sum += size(e)
			a.min = min(a.min, size(e))
		}
	}
	// Single-copy paths contribute their size to both sums.
	allSum, minSum := m.TotalBytes, m.TotalBytes
	var list []Path
	for p, a := range multi {
		if len(a.copies) < 2 {
			continue
		}
		minSum -= a.sum - a.min
		m.WastedBytes += a.sum
		if a.sum > 0 {
			wp := Path{Path: fstree.Display(p), Copies: len(a.copies), Bytes: a.sum}
			for _, e := range a.copies {
				wp.Layers = append(wp.Layers, int(e.Layer))
			}
			list = append(list, wp)
		}
	}
	m.Efficiency = 1
	if allSum > 0 {
		m.Efficiency = float64(minSum) / float64(allSum)
	}
	if user := m.TotalBytes - baseBytes; user > 0 {
		m.UserWastedPercent = float64(m.WastedBytes) / float64(user)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Bytes != list[j].Bytes {
			return list[i].Bytes > list[j].Bytes
		}
		return list[i].Path < list[j].Path
	})
	if len(list) > top {
		list = list[:top]
	}
	m.Paths = list
	return m
}

// SectionName is the report section that holds the image's Metrics.
const SectionName = "waste"

// Analyzer reports wasted space as P8 findings.
type Analyzer struct {
	analyze.NoFiles
	// MinEfficiency is dive's lowestEfficiency rule (default 0.9).
	MinEfficiency float64
	// MinPathBytes is the smallest wasted path reported on its own
	// (default 1 MiB).
	MinPathBytes int64
}

// Name implements analyze.Analyzer.
func (a *Analyzer) Name() string { return "waste" }

// Version implements analyze.Analyzer.
func (a *Analyzer) Version() string { return "1" }

// Finish implements analyze.Analyzer.
func (a *Analyzer) Finish(_ context.Context, in *analyze.Input) (*analyze.Output, error) {
	minEff := a.MinEfficiency
	if minEff == 0 {
		minEff = 0.9
	}
	minPath := a.MinPathBytes
	if minPath == 0 {
		minPath = 1 << 20
	}
	if in.Empty() {
		return &analyze.Output{Coverage: []scorecard.Coverage{{Practice: scorecard.P8, Reason: scorecard.NothingToJudge}}}, nil
	}
	m := Measure(in.Tree, 20)
	out := &analyze.Output{
		Sections: map[string]any{SectionName: m},
		Coverage: []scorecard.Coverage{{
			Practice: scorecard.P8,
			Ran:      true,
			Summary:  fmt.Sprintf("image efficiency %.1f%%, %s wasted", m.Efficiency*100, humanize.Bytes(m.WastedBytes)),
			Metrics: map[string]any{
				"efficiency":        m.Efficiency,
				"wastedBytes":       m.WastedBytes,
				"userWastedPercent": m.UserWastedPercent,
			},
		}},
	}
	if m.Efficiency < minEff {
		out.Findings = append(out.Findings, rules.Finding("SS-P8-001", scorecard.Finding{
			Title:       fmt.Sprintf("Image efficiency %.1f%% is below %.0f%%", m.Efficiency*100, minEff*100),
			Description: fmt.Sprintf("%s of files are stored in layers but deleted or replaced by later layers: every pull still downloads them.", humanize.Bytes(m.WastedBytes)),
			Evidence:    map[string]any{"efficiency": m.Efficiency, "wastedBytes": m.WastedBytes},
			Fix:         "Create, use and delete temporary files in the same RUN instruction, or build in a separate stage and COPY --from only the results.",
		}))
	}
	for _, p := range m.Paths {
		if p.Bytes < minPath {
			continue
		}
		// Point at the largest copy that is not in the final image.
		var worst *fstree.Entry
		for _, l := range in.Tree.Layers() {
			for _, e := range l.All() {
				// The path last: only the few copies not in the final
				// image build theirs.
				if e.Type == fstree.Regular && !e.InFinal() && (worst == nil || e.Size > worst.Size) && fstree.Display(e.Path()) == p.Path {
					worst = e
				}
			}
		}
		if worst == nil {
			continue
		}
		f := rules.Finding("SS-P8-002", scorecard.Finding{
			Title:    fmt.Sprintf("%s of %s shipped but not in the final image", humanize.Bytes(worst.Size), p.Path),
			Evidence: map[string]any{"copies": p.Copies, "layers": p.Layers, "bytes": p.Bytes},
			Fix:      "Remove the file in the same RUN instruction that creates it (or never COPY it in): a later deletion does not shrink the image.",
		})
		in.Locate(&f, worst)
		f.Fingerprint = fmt.Sprintf("SS-P8-002:%s", p.Path)
		out.Findings = append(out.Findings, f)
	}
	return out, nil
}
