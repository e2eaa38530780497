package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/schematest"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

func TestSARIF(t *testing.T) {
	rep := &scorecard.Report{
		Tool:  scorecard.Tool{Name: "shipshape", Version: "test"},
		Image: scorecard.ImageInfo{Reference: "docker-archive:app.tar"},
		Findings: []scorecard.Finding{
			{Practice: scorecard.P5, Rule: "SS-P5-001", Severity: scorecard.Critical, Title: "openssl 3.3.2-r1: CVE-2024-9143", Path: "/lib/apk/db/installed", Fix: "Upgrade openssl to 3.3.2-r2."},
			{Practice: scorecard.P5, Rule: "SS-P5-001", Severity: scorecard.Low, Title: "zlib 1.3: CVE-2023-1"},
			{Practice: scorecard.P9, Rule: "SS-P9-009", Severity: scorecard.Info, Title: "No HEALTHCHECK", Field: "Config.Healthcheck"},
			{Practice: scorecard.P9, Rule: "SS-P9-007", Severity: scorecard.Low, Title: "The image does not say which base image it was built on"},
			{Practice: scorecard.P2, Rule: "SS-DF-001", Severity: scorecard.High, Title: "USER root", Source: &scorecard.Source{File: "Dockerfile", StartLine: 4, EndLine: 4}},
			{Practice: scorecard.P1, Rule: "SS-P1-aws-access-key-id", Severity: scorecard.High, Title: "AWS access key ID in /app/.env", Path: "/app/.env"},
		},
	}
	var buf bytes.Buffer
	if err := SARIF(&buf, rep); err != nil {
		t.Fatal(err)
	}
	schematest.Validate(t, "testdata/sarif-schema-2.1.0.json", buf.Bytes())
	out := buf.String()
	if strings.Contains(out, ": -1") {
		t.Errorf("placeholder -1 in SARIF:\n%s", out)
	}
	var log sarifLog
	if err := json.Unmarshal(buf.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	rule := map[string]sarifRule{}
	for _, r := range run.Tool.Driver.Rules {
		rule[r.ID] = r
	}
	// Rule metadata from the table, not from the first finding.
	if r := rule["SS-P5-001"]; strings.Contains(r.ShortDescription.Text, "CVE-2024-9143") || r.ShortDescription.Text != "A package has a known vulnerability with a fix" || r.Properties["security-severity"] != "5.5" {
		t.Errorf("SS-P5-001 rule: %+v", r)
	}
	if r := rule["SS-DF-001"]; r.ShortDescription.Text != "The final stage runs as root" {
		t.Errorf("SS-DF-001 rule: %+v", r)
	}
	if r := rule["SS-P1-aws-access-key-id"]; !strings.Contains(r.ShortDescription.Text, "AWS access key ID") || !strings.Contains(r.Help.Text, "rotate") {
		t.Errorf("secret rule: %+v", r)
	}
	if len(run.Tool.Driver.Rules) != 5 {
		t.Errorf("%d rules, want 5", len(run.Tool.Driver.Rules))
	}
	// Per-finding text in the message.
	if m := run.Results[0].Message.Text; !strings.Contains(m, "CVE-2024-9143") || !strings.Contains(m, "Upgrade openssl") {
		t.Errorf("message %q", m)
	}
	if run.Results[1].RuleIndex != run.Results[0].RuleIndex || !strings.Contains(run.Results[1].Message.Text, "zlib") {
		t.Errorf("second SS-P5-001 result: %+v", run.Results[1])
	}
	// Config findings: a logical location, not the image at line 1.
	for _, i := range []int{2, 3} {
		loc := run.Results[i].Locations[0]
		if loc.PhysicalLocation != nil || len(loc.LogicalLocations) != 1 || !strings.HasPrefix(loc.LogicalLocations[0].FullyQualifiedName, "docker-archive:app.tar#") {
			t.Errorf("result %d location: %+v", i, loc)
		}
	}
	if loc := run.Results[2].Locations[0]; loc.LogicalLocations[0].Name != "Config.Healthcheck" {
		t.Errorf("config field: %+v", loc)
	}
	if loc := run.Results[4].Locations[0]; loc.PhysicalLocation == nil || loc.PhysicalLocation.ArtifactLocation.URI != "Dockerfile" || loc.PhysicalLocation.Region.StartLine != 4 {
		t.Errorf("Dockerfile location: %+v", loc)
	}
	if loc := run.Results[5].Locations[0]; loc.PhysicalLocation.ArtifactLocation.URI != "app/.env" || loc.PhysicalLocation.Region != nil {
		t.Errorf("image file location: %+v", loc.PhysicalLocation)
	}
}
