package scan

import (
	"fmt"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/dockerfile"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// locate points findings at the Dockerfile lines that made their layer,
// history entry or config field. Findings in the base image's layers point
// at the FROM line.
func locate(df *dockerfile.File, img *image.Image, fs []scorecard.Finding) {
	if img.Config == nil {
		return
	}
	hist := img.History()
	createdBy := make([]string, len(hist))
	for i, h := range hist {
		createdBy[i] = h.CreatedBy
	}
	layerHist := img.LayerHistory()
	baseLayers := img.BaseLayers()
	m := df.MapHistory(createdBy)
	src := func(start, end int) *scorecard.Source {
		return &scorecard.Source{File: df.Path, StartLine: start, EndLine: end}
	}
	_, fromLine := df.Base()
	for i := range fs {
		f := &fs[i]
		if f.Source != nil {
			continue
		}
		var hi int
		var ok bool
		if n, err := fmt.Sscanf(f.Field, "History[%d]", &hi); err == nil && n == 1 {
			ok = true
		} else if f.Layer > 0 {
			hi, ok = layerHist[f.Layer]
		}
		switch {
		case ok:
			if in, found := m[hi]; found {
				f.Source = src(in.Start, in.End)
			} else if f.Layer > 0 && f.Layer <= baseLayers && fromLine > 0 {
				f.Source = src(fromLine, fromLine)
			}
		case strings.HasPrefix(f.Field, "Config.User"):
			if in, found := df.LastUser(); found {
				f.Source = src(in.Start, in.End)
			} else if fromLine > 0 {
				f.Source = src(fromLine, fromLine)
			}
		}
	}
}
