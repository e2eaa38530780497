package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/dockerfile"
	"github.com/shipshape-dev/shipshape/internal/humanize"
	"github.com/shipshape-dev/shipshape/internal/rules"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/secret"
)

// securitySeverity maps severities to the numeric scores GitHub code
// scanning reads from a rule's "security-severity" property.
var securitySeverity = map[scorecard.Severity]string{
	scorecard.Critical: "9.5",
	scorecard.High:     "8.0",
	scorecard.Medium:   "5.5",
	scorecard.Low:      "2.0",
	scorecard.Info:     "0.0",
}

func sarifLevel(s scorecard.Severity) string {
	switch s {
	case scorecard.Critical, scorecard.High:
		return "error"
	case scorecard.Medium:
		return "warning"
	}
	return "note"
}

// The subset of SARIF 2.1.0 shipshape writes. Every optional field is
// omitted when unset: no empty arrays, no -1 placeholders.
type (
	sarifLog struct {
		Schema  string     `json:"$schema"`
		Version string     `json:"version"`
		Runs    []sarifRun `json:"runs"`
	}
	sarifRun struct {
		Tool    sarifTool     `json:"tool"`
		Results []sarifResult `json:"results"`
	}
	sarifTool struct {
		Driver sarifDriver `json:"driver"`
	}
	sarifDriver struct {
		Name           string      `json:"name"`
		Version        string      `json:"version,omitempty"`
		InformationURI string      `json:"informationUri"`
		Rules          []sarifRule `json:"rules"`
	}
	sarifRule struct {
		ID               string         `json:"id"`
		Name             string         `json:"name"`
		ShortDescription sarifText      `json:"shortDescription"`
		FullDescription  sarifText      `json:"fullDescription"`
		Help             sarifText      `json:"help"`
		Properties       map[string]any `json:"properties"`
	}
	sarifText struct {
		Text string `json:"text"`
	}
	sarifResult struct {
		RuleID              string            `json:"ruleId"`
		RuleIndex           int               `json:"ruleIndex"`
		Level               string            `json:"level"`
		Message             sarifText         `json:"message"`
		Locations           []sarifLocation   `json:"locations"`
		PartialFingerprints map[string]string `json:"partialFingerprints,omitempty"`
		Properties          map[string]any    `json:"properties"`
	}
	sarifLocation struct {
		PhysicalLocation *sarifPhysical `json:"physicalLocation,omitempty"`
		LogicalLocations []sarifLogical `json:"logicalLocations,omitempty"`
	}
	sarifPhysical struct {
		ArtifactLocation sarifArtifact `json:"artifactLocation"`
		Region           *sarifRegion  `json:"region,omitempty"`
	}
	sarifArtifact struct {
		URI string `json:"uri"`
	}
	sarifRegion struct {
		StartLine int `json:"startLine"`
		EndLine   int `json:"endLine,omitempty"`
	}
	sarifLogical struct {
		Name               string `json:"name"`
		FullyQualifiedName string `json:"fullyQualifiedName,omitempty"`
		Kind               string `json:"kind,omitempty"`
	}
)

// ruleMeta is what SARIF says about a rule, from the rule's table.
type ruleMeta struct {
	title, full, help string
	practice          scorecard.Practice
	severity          scorecard.Severity
}

// lookupRule finds a rule's metadata in the image rule table, the
// Dockerfile rules or the secret rules; ok is false for a rule none has.
func lookupRule(id string, secrets map[string]*secret.Rule) (ruleMeta, bool) {
	if r, ok := rules.Lookup(id); ok {
		return ruleMeta{title: r.Title, full: r.Practice.Title() + ": " + r.Title, help: r.Help, practice: r.Practice, severity: r.Severity}, true
	}
	if r, ok := dockerfile.RuleByID(id); ok {
		return ruleMeta{title: r.Title, full: r.Practice.Title() + ": " + r.Title, help: strings.TrimSpace(r.Explanation + " " + r.Fix), practice: r.Practice, severity: r.Severity}, true
	}
	if r, ok := secrets[id]; ok {
		title := "A " + r.Kind + " is stored in the image"
		return ruleMeta{title: title, full: scorecard.P1.Title() + ": " + title,
			help:     "Anyone who pulls the image can read it, from any layer. " + r.Fix + " Then rotate the credential: it was published with the image.",
			practice: scorecard.P1, severity: r.Severity}, true
	}
	return ruleMeta{}, false
}

// SARIF writes the findings as a SARIF 2.1.0 log, as GitHub code scanning
// accepts it. Rule metadata comes from the rule tables (never from one
// finding); each result's message carries the finding's own text. A
// finding located in a source file (a Dockerfile) points at its lines; one
// on a file in the image at the file's path; one on the config or history
// gets a logical location naming the image and the field.
func SARIF(w io.Writer, r *scorecard.Report) error {
	secrets := map[string]*secret.Rule{}
	for _, sr := range secret.Rules() {
		secrets[sr.ID] = sr
	}
	run := sarifRun{
		Tool:    sarifTool{Driver: sarifDriver{Name: "shipshape", Version: r.Tool.Version, InformationURI: "https://github.com/shipshape-dev/shipshape", Rules: []sarifRule{}}},
		Results: []sarifResult{},
	}
	index := map[string]int{}
	for _, f := range r.Findings {
		if _, ok := index[f.Rule]; !ok {
			index[f.Rule] = len(run.Tool.Driver.Rules)
			run.Tool.Driver.Rules = append(run.Tool.Driver.Rules, sarifRuleFor(f, r.Findings, secrets))
		}
		run.Results = append(run.Results, sarifResultFor(r, f, index[f.Rule]))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(sarifLog{
		Schema:  "https://raw.githubusercontent.com/oasis-tcs/sarif-spec/main/sarif-2.1/schema/sarif-schema-2.1.0.json",
		Version: "2.1.0",
		Runs:    []sarifRun{run},
	})
}

func sarifRuleFor(f scorecard.Finding, all []scorecard.Finding, secrets map[string]*secret.Rule) sarifRule {
	m, ok := lookupRule(f.Rule, secrets)
	if !ok {
		// A rule no table knows (a config secret rule, a future
		// analyzer): described by its id and practice only, with the
		// highest severity any of its findings has.
		sev := f.Severity
		for _, o := range all {
			if o.Rule == f.Rule && o.Severity.Rank() > sev.Rank() {
				sev = o.Severity
			}
		}
		name := strings.ReplaceAll(strings.TrimPrefix(strings.TrimPrefix(f.Rule, "SS-"), string(f.Practice)+"-"), "-", " ")
		m = ruleMeta{title: f.Practice.Title() + ": " + name, full: f.Practice.Title() + ": rule " + f.Rule,
			help: "See each result's message for what was found and how to fix it.", practice: f.Practice, severity: sev}
	}
	return sarifRule{
		ID:               f.Rule,
		Name:             strings.ReplaceAll(f.Rule, "-", ""),
		ShortDescription: sarifText{m.title},
		FullDescription:  sarifText{m.full},
		Help:             sarifText{m.help},
		Properties: map[string]any{
			"security-severity": securitySeverity[m.severity],
			"precision":         "high",
			"tags":              []string{"security", "container", string(m.practice)},
		},
	}
}

func sarifResultFor(r *scorecard.Report, f scorecard.Finding, ruleIndex int) sarifResult {
	msg := f.Title
	if f.Description != "" {
		msg += ". " + f.Description
	}
	if f.Layer > 0 {
		msg += fmt.Sprintf(" (layer %d %s", f.Layer, f.LayerDiffID)
		if f.CreatedBy != "" {
			msg += ", created by: " + humanize.Line(f.CreatedBy, 200)
		}
		msg += ")"
	}
	if f.Fix != "" {
		msg += " Fix: " + f.Fix
	}
	props := map[string]any{"practice": string(f.Practice), "severity": string(f.Severity)}
	if f.Layer > 0 {
		props["layer"] = f.Layer
		props["layerDiffID"] = f.LayerDiffID
	}
	if f.InFinalImage != nil {
		props["inFinalImage"] = *f.InFinalImage
	}
	// P5's ranking.
	for _, k := range []string{"priority", "priorityScore", "knownExploited", "epss", "reachable", "reachableSymbols", "inUse", "inUseFiles", "severitySource"} {
		if v, ok := f.Evidence[k]; ok {
			props[k] = v
		}
	}
	res := sarifResult{
		RuleID:     f.Rule,
		RuleIndex:  ruleIndex,
		Level:      sarifLevel(f.Severity),
		Message:    sarifText{msg},
		Locations:  []sarifLocation{sarifLocationFor(r, f)},
		Properties: props,
	}
	if f.Fingerprint != "" {
		res.PartialFingerprints = map[string]string{"shipshape/v1": f.Fingerprint}
	}
	return res
}

func sarifLocationFor(r *scorecard.Report, f scorecard.Finding) sarifLocation {
	switch {
	case f.Source != nil && f.Source.File != "":
		region := &sarifRegion{StartLine: max(f.Source.StartLine, 1)}
		if f.Source.EndLine > region.StartLine {
			region.EndLine = f.Source.EndLine
		}
		return sarifLocation{PhysicalLocation: &sarifPhysical{ArtifactLocation: sarifArtifact{URI: f.Source.File}, Region: region}}
	case f.Path != "":
		// A file inside the image: no line is known, so no region.
		return sarifLocation{PhysicalLocation: &sarifPhysical{ArtifactLocation: sarifArtifact{URI: strings.TrimPrefix(f.Path, "/")}}}
	}
	ref := r.Image.Reference
	if ref == "" {
		ref = "image"
	}
	name, kind := f.Field, "property"
	if name == "" {
		name, kind = "config", "object"
	}
	return sarifLocation{LogicalLocations: []sarifLogical{{Name: name, FullyQualifiedName: ref + "#" + name, Kind: kind}}}
}
