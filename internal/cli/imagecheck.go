package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/dockerfile"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imagecfg"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// imageCheck holds what the image checks of a scan need beyond the image:
// the policy file and the Dockerfile the image was built from.
type imageCheck struct {
	policy     *policy.Policy
	dockerfile *dockerfile.File
}

// load reads the policy (--config, or .shipshape.yaml when present) and
// the Dockerfile (--dockerfile).
func (c *imageCheck) load(config, dockerfilePath string) error {
	p, err := policy.Load(config)
	if err != nil {
		return err
	}
	c.policy = p
	c.dockerfile = nil
	if dockerfilePath != "" {
		df, err := dockerfile.Load(dockerfilePath)
		if err != nil {
			return fmt.Errorf("--dockerfile: %w", err)
		}
		c.dockerfile = df
	}
	return nil
}

func (c *imageCheck) analyzer() analyze.Analyzer {
	a := &imagecfg.Analyzer{Policy: c.policy}
	if c.dockerfile != nil {
		if base, line := c.dockerfile.Base(); base != "" {
			a.DockerfileBase = base
			a.DockerfileBaseSource = &scorecard.Source{File: c.dockerfile.Path, StartLine: line, EndLine: line}
		}
	}
	return a
}

// apply points findings at the Dockerfile lines that produced their
// layers, then applies the policy's rule overrides, thresholds and ignore
// entries, before the scorecard is evaluated.
func (c *imageCheck) apply(img *image.Image, res *analyze.Result) []scorecard.Suppressed {
	if c.dockerfile != nil && img.Config != nil {
		baseLayers := 0
		if b, ok := res.Sections["base"].(imagecfg.Base); ok {
			baseLayers = b.Layers
		}
		c.locate(img, res.Findings, baseLayers)
	}
	var sup []scorecard.Suppressed
	var warns []string
	res.Findings, res.Coverage, sup, warns = c.policy.Apply(res.Findings, res.Coverage, time.Now())
	res.Warnings = append(res.Warnings, warns...)
	return sup
}

// locate sets the Dockerfile source of findings whose layer, history entry
// or config field an instruction of the final stages produced.
// Findings in the base image's layers point at the FROM line.
func (c *imageCheck) locate(img *image.Image, fs []scorecard.Finding, baseLayers int) {
	df := c.dockerfile
	var createdBy []string
	layerHist := map[int]int{} // layer index → history index
	layer := 0
	for i, h := range img.Config.History {
		createdBy = append(createdBy, h.CreatedBy)
		if !h.EmptyLayer {
			layer++
			layerHist[layer] = i
		}
	}
	m := df.MapHistory(createdBy)
	src := func(in dockerfile.Instruction) *scorecard.Source {
		return &scorecard.Source{File: df.Path, StartLine: in.Start, EndLine: in.End}
	}
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
		if ok {
			if in, found := m[hi]; found {
				f.Source = src(in)
			} else if f.Layer > 0 && f.Layer <= baseLayers {
				if _, line := df.Base(); line > 0 {
					f.Source = &scorecard.Source{File: df.Path, StartLine: line, EndLine: line}
				}
			}
			continue
		}
		if strings.HasPrefix(f.Field, "Config.User") {
			if in, found := df.LastUser(); found {
				f.Source = src(in)
			} else if _, line := df.Base(); line > 0 {
				f.Source = &scorecard.Source{File: df.Path, StartLine: line, EndLine: line}
			}
		}
	}
}
