// Package usage is the P8 analyzer that reports, when "shipshape slim" has
// run for the scanned image (same config digest), the share of the image's
// bytes the application actually used.
package usage

import (
	"context"
	"fmt"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/rules"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/slim/record"
)

// Analyzer reads slim records from CacheDir (none when empty).
type Analyzer struct {
	analyze.NoFiles
	CacheDir string
	// MaxUnused is the unused share above which a verified slim run is a
	// finding (default 0.5).
	MaxUnused float64
}

// Name implements analyze.Analyzer.
func (a *Analyzer) Name() string { return "slim-usage" }

// Version implements analyze.Analyzer.
func (a *Analyzer) Version() string { return "1" }

// Finish implements analyze.Analyzer.
func (a *Analyzer) Finish(_ context.Context, in *analyze.Input) (*analyze.Output, error) {
	if a.CacheDir == "" || in.Image == nil || in.Image.ConfigDigest.Hex == "" {
		return &analyze.Output{}, nil
	}
	rec, ok, err := record.Load(a.CacheDir, in.Image.ConfigDigest)
	if err != nil || !ok {
		return &analyze.Output{}, err
	}
	maxUnused := a.MaxUnused
	if maxUnused == 0 {
		maxUnused = 0.5
	}
	state := "unverified"
	if rec.Verified {
		state = "verified"
	}
	out := &analyze.Output{
		Sections: map[string]any{"slim": rec},
		Coverage: []scorecard.Coverage{{
			Practice: scorecard.P8,
			Ran:      true,
			Summary:  fmt.Sprintf("a %s slim run used %.1f%% of the image's bytes", state, 100*rec.UsedShare),
			Metrics: map[string]any{
				"slimUsedShare":   rec.UsedShare,
				"slimBytesBefore": rec.Before.Bytes,
				"slimBytesAfter":  rec.After.Bytes,
				"slimVerified":    rec.Verified,
			},
		}},
	}
	if rec.Verified && 1-rec.UsedShare > maxUnused {
		out.Findings = append(out.Findings, rules.Finding("SS-P8-013", scorecard.Finding{
			Title: fmt.Sprintf("The application used only %.1f%% of the image's bytes", 100*rec.UsedShare),
			Description: fmt.Sprintf("shipshape slim ran this image, kept %d of %d files (%d of %d bytes) and verified that the result behaves the same under its probes.",
				rec.After.Files, rec.Before.Files, rec.After.Bytes, rec.Before.Bytes),
			Evidence: map[string]any{"usedShare": rec.UsedShare, "bytesBefore": rec.Before.Bytes, "bytesAfter": rec.After.Bytes, "slimmedImage": rec.ImageDigest},
			Fix:      "Ship the slimmed image (shipshape slim IMAGE --tag NAME), or build from a smaller base with only what the application loads.",
		}))
	}
	return out, nil
}
