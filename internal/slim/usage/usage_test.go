package usage

import (
	"context"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/slim/record"
)

func TestFinish(t *testing.T) {
	dir := t.TempDir()
	h := v1.Hash{Algorithm: "sha256", Hex: "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	other := v1.Hash{Algorithm: "sha256", Hex: "f123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	in := &analyze.Input{Image: &image.Image{ConfigDigest: h}}

	// No record: the analyzer claims nothing.
	out, err := (&Analyzer{CacheDir: dir}).Finish(context.Background(), in)
	if err != nil || len(out.Coverage) != 0 || len(out.Findings) != 0 {
		t.Fatalf("without a record: %+v, %v", out, err)
	}
	if err := record.Save(dir, h, record.Record{SourceDigest: h.String(), Before: record.Stats{Files: 100, Bytes: 1000}, After: record.Stats{Files: 5, Bytes: 100}, UsedShare: 0.1, Verified: true}); err != nil {
		t.Fatal(err)
	}
	out, err = (&Analyzer{CacheDir: dir}).Finish(context.Background(), in)
	if err != nil || len(out.Coverage) != 1 || out.Coverage[0].Practice != scorecard.P8 || out.Coverage[0].Metrics["slimUsedShare"] != 0.1 {
		t.Fatalf("with a record: %+v, %v", out, err)
	}
	if len(out.Findings) != 1 || out.Findings[0].Rule != "SS-P8-013" {
		t.Errorf("findings: %+v", out.Findings)
	}
	// Another image's scan does not see this record.
	out, _ = (&Analyzer{CacheDir: dir}).Finish(context.Background(), &analyze.Input{Image: &image.Image{ConfigDigest: other}})
	if len(out.Coverage) != 0 {
		t.Errorf("record leaked to another digest: %+v", out)
	}
	// An unverified run is reported but is not a finding.
	record.Save(dir, other, record.Record{UsedShare: 0.1})
	out, _ = (&Analyzer{CacheDir: dir}).Finish(context.Background(), &analyze.Input{Image: &image.Image{ConfigDigest: other}})
	if len(out.Coverage) != 1 || len(out.Findings) != 0 {
		t.Errorf("unverified: %+v", out)
	}
}
