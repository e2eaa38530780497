package scan

import (
	"time"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// buildReport puts an image and its scan result into the report model.
func buildReport(img *image.Image, res *analyze.Result, version string, now time.Time) *scorecard.Report {
	info := scorecard.ImageInfo{
		Reference:    img.Reference,
		Transport:    string(img.Transport),
		OS:           img.Config.OS,
		Architecture: img.Config.Architecture,
		Variant:      img.Config.Variant,
		RepoTags:     img.RepoTags,
	}
	if img.Digest.Hex != "" {
		info.Digest = img.Digest.String()
	}
	if img.ConfigDigest.Hex != "" {
		info.ConfigDigest = img.ConfigDigest.String()
	}
	if !img.Config.Created.IsZero() {
		t := img.Config.Created.Time
		info.Created = &t
	}
	for i, l := range img.Layers {
		li := scorecard.LayerInfo{
			Index:     l.Index,
			DiffID:    l.DiffID.String(),
			Size:      l.Size,
			MediaType: l.MediaType,
			CreatedBy: l.CreatedBy,
		}
		if l.Digest.Hex != "" {
			li.Digest = l.Digest.String()
		}
		if i < len(res.Layers) {
			li.Files, li.Bytes, li.Cached = res.Layers[i].Files, res.Layers[i].Bytes, res.Layers[i].Cached
		}
		info.Layers = append(info.Layers, li)
	}
	for _, h := range img.History() {
		createdBy := h.CreatedBy
		if createdBy == "" {
			createdBy = h.Comment // "docker import" leaves only a comment
		}
		info.History = append(info.History, scorecard.HistoryInfo{Layer: h.Layer, CreatedBy: createdBy, EmptyLayer: h.Empty})
	}
	findings := res.Findings
	if findings == nil {
		findings = []scorecard.Finding{}
	}
	if version == "" {
		version = "dev"
	}
	practices := scorecard.Evaluate(res.Findings, res.Coverage)
	grade, _ := scorecard.GradeOf(practices)
	return &scorecard.Report{
		SchemaVersion: scorecard.SchemaVersion,
		Tool:          scorecard.Tool{Name: "shipshape", Version: version},
		CreatedAt:     now.UTC().Truncate(time.Second),
		Image:         info,
		Practices:     practices,
		Grade:         grade,
		Findings:      findings,
		Warnings:      res.Warnings,
		Sections:      res.Sections,
	}
}
