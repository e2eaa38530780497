package analyze_test

import (
	"context"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imagecfg"
	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/layertest"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/secret"
	"github.com/shipshape-dev/shipshape/internal/vuln"
	"github.com/shipshape-dev/shipshape/internal/waste"
)

// An image with nothing in it has nothing to judge: the practices judged
// from files say so instead of passing.
func TestNothingToJudge(t *testing.T) {
	emptyDir, err := image.Open(context.Background(), "dir:"+t.TempDir(), image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer emptyDir.Close()
	for name, img := range map[string]*image.Image{
		"dir:EMPTY":         emptyDir,
		"image of no files": layertest.Image(t, layertest.Layer{Files: map[string]layertest.File{}, CreatedBy: "ADD empty /"}),
	} {
		t.Run(name, func(t *testing.T) {
			inv, err := inventory.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			as := []analyze.Analyzer{&secret.Analyzer{}, &imagecfg.Analyzer{}, &vuln.Analyzer{Inventory: inv}, &waste.Analyzer{}}
			res, err := analyze.Run(context.Background(), img, as, analyze.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := map[scorecard.Practice]scorecard.PracticeResult{}
			for _, r := range scorecard.Evaluate(res.Findings, res.Coverage) {
				got[r.ID] = r
			}
			for _, p := range []scorecard.Practice{scorecard.P1, scorecard.P3, scorecard.P4, scorecard.P5, scorecard.P8} {
				if r := got[p]; r.Status != scorecard.NotRun || r.Reason != scorecard.NothingToJudge {
					t.Errorf("%s = %s (%s), want not-run: %s", p, r.Status, r.Reason, scorecard.NothingToJudge)
				}
			}
		})
	}
}
