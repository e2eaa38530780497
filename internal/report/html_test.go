package report_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/report"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// maxPageBytes is the weight budget of one report page.
const maxPageBytes = 1 << 20

func renderHTML(t *testing.T, r *scorecard.Report) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := report.Write(&b, "html", r, report.Options{}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestHTMLSelfContained checks that the page loads nothing: no external
// resources of any kind, and a Content-Security-Policy whose hashes match
// the inline style and script exactly (so the browser runs them, and
// nothing else).
func TestHTMLSelfContained(t *testing.T) {
	page := renderHTML(t, largeReport(1000, 200))
	if len(page) >= maxPageBytes {
		t.Errorf("page weighs %d bytes, want < %d", len(page), maxPageBytes)
	}
	t.Logf("1,000 packages and 200 vulnerabilities: %d bytes", len(page))
	s := string(page)
	for _, bad := range []string{" src=", "<link", "url(", "@import", "<iframe", "<object", "<embed", "<img", "http://"} {
		if strings.Contains(s, bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	// The only absolute URLs are links to the advisories (navigations,
	// which a reader starts; not requests the page makes).
	for _, m := range regexp.MustCompile(`https://[^"'<> ]*`).FindAllString(s, -1) {
		if !strings.HasPrefix(m, "https://osv.dev/vulnerability/") {
			t.Errorf("absolute URL %q in the page", m)
		}
	}
	csp := regexp.MustCompile(`<meta http-equiv="Content-Security-Policy" content="([^"]+)">`).FindStringSubmatch(s)
	if csp == nil {
		t.Fatal("no Content-Security-Policy meta element")
	}
	policy := html.UnescapeString(csp[1])
	if !strings.Contains(policy, "default-src 'none'") {
		t.Errorf("policy %q does not default to none", policy)
	}
	for _, tag := range []string{"style", "script"} {
		m := regexp.MustCompile(`(?s)<`+tag+`>(.*?)</`+tag+`>`).FindAllStringSubmatch(s, -1)
		if len(m) != 1 {
			t.Fatalf("%d <%s> elements, want 1", len(m), tag)
		}
		sum := sha256.Sum256([]byte(m[0][1]))
		want := tag + "-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
		if !strings.Contains(policy, want) {
			t.Errorf("policy %q lacks %q", policy, want)
		}
	}
	if strings.Contains(s, ` style="`) {
		t.Error("inline style attribute: the policy blocks it")
	}
}

// hidden is a section type with a field the JSON report does not carry.
type hidden struct {
	Shown  string `json:"shown"`
	Hidden string `json:"-"`
	secret string
}

// TestHTMLShowsOnlyTheJSON: the page is made from the JSON form of the
// report, so a value the JSON leaves out never reaches it, and a redacted
// value stays redacted.
func TestHTMLShowsOnlyTheJSON(t *testing.T) {
	r := largeReport(10, 2)
	r.Sections["custom"] = hidden{Shown: "visible-value", Hidden: "TOPSECRET-json-dash", secret: "TOPSECRET-unexported"}
	page := string(renderHTML(t, r))
	if !strings.Contains(page, "visible-value") {
		t.Error("the custom section's published field is missing")
	}
	if strings.Contains(page, "TOPSECRET") {
		t.Error("a field the JSON report does not carry is in the page")
	}
	if !strings.Contains(page, "9Rk2…jK4l") {
		t.Error("the redacted secret is missing")
	}
}

// TestHTMLEscapes puts markup into every kind of text an image controls.
func TestHTMLEscapes(t *testing.T) {
	r := largeReport(10, 2)
	evil := `"><img src=x onerror=alert(1)><script>alert(2)</script>`
	r.Image.Reference = evil
	r.Image.RepoTags = []string{evil}
	r.Image.Layers[0].CreatedBy = evil
	r.Findings = append(r.Findings, scorecard.Finding{Practice: scorecard.P1, Rule: "SS-P1-x", Severity: scorecard.Info, Title: evil, Description: "`" + evil + "`", Path: evil, Fix: evil,
		Evidence: map[string]any{evil: evil}})
	r.Warnings = []string{evil}
	r.Sections["user"] = map[string]any{"name": evil}
	page := string(renderHTML(t, r))
	for _, bad := range []string{"<img", "<script>alert", "onerror=alert(1)>"} {
		if strings.Contains(page, bad) {
			t.Errorf("unescaped %q in the page", bad)
		}
	}
}

// TestGradeInReports: image reports carry the grade in JSON and the table;
// Dockerfile lint reports do not.
func TestGradeInReports(t *testing.T) {
	r := largeReport(10, 2)
	var b bytes.Buffer
	if err := report.Write(&b, "json", r, report.Options{}); err != nil {
		t.Fatal(err)
	}
	var got struct {
		SchemaVersion string `json:"schemaVersion"`
		Grade         string `json:"grade"`
	}
	if err := json.Unmarshal(b.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want, _ := scorecard.GradeOf(r.Practices)
	if got.Grade != string(want) || got.Grade != "F" {
		t.Errorf("grade %q, want %q (a critical secret)", got.Grade, want)
	}
	if got.SchemaVersion != scorecard.SchemaVersion {
		t.Errorf("schemaVersion %q, want %s", got.SchemaVersion, scorecard.SchemaVersion)
	}
	if r.Grade != "" {
		t.Error("Write changed the report it was given")
	}
	b.Reset()
	if err := report.Write(&b, "table", r, report.Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "grade F (P1 fails on a critical finding)") {
		t.Errorf("table lacks the grade:\n%.400s", b.String())
	}
	lint := &scorecard.Report{SchemaVersion: scorecard.SchemaVersion, Image: scorecard.ImageInfo{Transport: "dockerfile"}, Practices: r.Practices, Findings: []scorecard.Finding{}}
	b.Reset()
	if err := report.Write(&b, "json", lint, report.Options{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), `"grade"`) {
		t.Error("a lint report has a grade")
	}
}
