package inventory

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// formatted counts how often it is turned into text.
type formatted struct{ n *int }

func (f formatted) String() string { *f.n++; return "x" }

// TestScalibrLogRepeats: each kind of osv-scalibr message is logged a few
// times, then once more to say the rest are not shown; other kinds are
// still logged (but for the note on each nested archive, which is read
// here), and nothing is formatted when debug is off.
func TestScalibrLogRepeats(t *testing.T) {
	var buf bytes.Buffer
	a := newSlogAdapter(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	for i := range 2000 {
		a.Debugf("error parsing the contents of Go binary (%s) for extraction: %v", "/usr/bin/f"+string(rune('a'+i%26)), "not a Go executable")
	}
	a.Errorf("%s failed to extract %q: %v", "java/archive", "app.jar/lib/x.jar", "java/archive reached max zip depth 2") // read by javaArchive: not a failure
	a.Warnf("failed to validate the Go version from buildinfo (%v): %v", "info", "bad")
	a.Error("plain", " message")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{"/usr/bin/fa", "/usr/bin/fb", "/usr/bin/fc", "further messages like this are not shown", "failed to validate the Go version", "plain message"}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d = %q, want it to contain %q", i, lines[i], w)
		}
	}

	n := 0
	quiet := newSlogAdapter(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
	buf.Reset()
	for range 10 {
		quiet.Errorf("%v", formatted{&n})
		quiet.Warn(formatted{&n})
	}
	if n != 0 || buf.Len() != 0 {
		t.Errorf("debug off: formatted %d times, wrote %q", n, buf.String())
	}
}
