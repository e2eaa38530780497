package report

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

const rotate = "Rotate this credential: it has been published to everyone who can pull the image, and removing it from a new image does not unpublish the old one."

func tableReport() *scorecard.Report {
	long := "/app/" + strings.Repeat("very-long-directory-name/", 12) + "config.json"
	return &scorecard.Report{
		Image: scorecard.ImageInfo{Reference: "app.tar", OS: "linux", Architecture: "amd64", Layers: []scorecard.LayerInfo{{Index: 1, Files: 1, Bytes: 10}}},
		Practices: []scorecard.PracticeResult{
			{ID: scorecard.P1, Title: scorecard.P1.Title(), Status: scorecard.Fail, Summary: "2 secrets", Counts: map[scorecard.Severity]int{scorecard.High: 1, scorecard.Low: 1}},
			{ID: scorecard.P2, Title: scorecard.P2.Title(), Status: scorecard.Pass, Summary: "runs as app"},
		},
		Findings: []scorecard.Finding{
			{Practice: scorecard.P1, Rule: "SS-P1-aws-access-key-id", Severity: scorecard.High, Title: "AWS access key ID", Path: long,
				Fix: "Pass it at build time with RUN --mount=type=secret and never COPY it into a layer. " + rotate},
			{Practice: scorecard.P1, Rule: "SS-P1-private-key", Severity: scorecard.Low, Title: "private key", Path: "/k",
				Fix: "Use RUN --mount=type=ssh. " + rotate},
		},
		Suppressed: []scorecard.Suppressed{{Rule: "SS-P2-001", Reason: "accepted", Source: ".shipshapeignore:3"}},
	}
}

func TestTable(t *testing.T) {
	var plain, color bytes.Buffer
	if err := Table(&plain, tableReport(), Options{Width: 80}); err != nil {
		t.Fatal(err)
	}
	if err := Table(&color, tableReport(), Options{Color: true, Width: 80}); err != nil {
		t.Fatal(err)
	}
	out := plain.String()
	// The credential advice is said once per practice, not per finding.
	if n := strings.Count(out, "Rotate this credential"); n != 1 {
		t.Errorf("rotate advice %d times:\n%s", n, out)
	}
	if !strings.Contains(out, "Use RUN --mount=type=ssh.\n") {
		t.Errorf("the fix lost its own text:\n%s", out)
	}
	// Singular and plural.
	for _, want := range []string{"1 layer ", "— 2 findings", "1 finding ignored", "runs as app; 1 ignored"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "1 layers") || strings.Contains(out, "finding(s)") {
		t.Errorf("plural trouble:\n%s", out)
	}
	// Wrapped to the width, the long path continues under its column.
	ansi := regexp.MustCompile("\x1b\\[[0-9;]*m")
	for i, buf := range []string{out, color.String()} {
		for _, l := range strings.Split(buf, "\n") {
			if w := utf8.RuneCountInString(ansi.ReplaceAllString(l, "")); w > 80 {
				t.Errorf("output %d: line of %d columns: %q", i, w, l)
			}
		}
	}
	// Colour does not change the layout: the same text once codes are gone.
	if got := ansi.ReplaceAllString(color.String(), ""); got != out {
		t.Errorf("colour changes the layout:\n%s\n---\n%s", got, out)
	}
	// Without a width nothing is wrapped.
	var nowrap bytes.Buffer
	Table(&nowrap, tableReport(), Options{})
	if !strings.Contains(nowrap.String(), "config.json") || !strings.Contains(nowrap.String(), strings.Repeat("very-long-directory-name/", 12)) {
		t.Errorf("wrapped without a width")
	}
}

func TestColorAllowed(t *testing.T) {
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i+1 < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	tests := []struct {
		tty  bool
		env  func(string) string
		want bool
	}{
		{true, env("TERM", "xterm-256color"), true},
		{true, env("TERM", "dumb"), false},
		{true, env(), false},
		{true, env("TERM", "xterm", "NO_COLOR", "1"), false},
		{false, env("TERM", "xterm"), false},
	}
	for i, tt := range tests {
		if got := ColorAllowed(tt.tty, tt.env); got != tt.want {
			t.Errorf("%d: ColorAllowed = %v", i, got)
		}
	}
}
