package dockerfile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// FuzzLint: any input either fails to parse with an error or lints without
// panicking; every finding (reported or suppressed) and every history
// mapping points at lines inside the file, start before end, in the file
// that was parsed.
func FuzzLint(f *testing.F) {
	files, _ := filepath.Glob("testdata/rules/*.Dockerfile")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Add([]byte("FROM a\r\nRUN x \\\r\n  && y\r\n"))
	f.Add([]byte("# shipshape:ignore SS-DF-001 base sets a user\nFROM a\n\n\n"))
	f.Add([]byte("FROM a AS b\nFROM b\nUSER root\nRUN <<EOF\ncurl x | sh\nEOF\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		df, err := Parse("Dockerfile", b)
		if err != nil {
			return
		}
		nlines := bytes.Count(b, []byte("\n")) + 1
		checkSource := func(what string, src *scorecard.Source) {
			t.Helper()
			switch {
			case src == nil:
				t.Fatalf("%s without a source", what)
			case src.File != "Dockerfile":
				t.Fatalf("%s in file %q, want Dockerfile", what, src.File)
			case src.StartLine < 1 || src.StartLine > src.EndLine || src.EndLine > nlines:
				t.Fatalf("%s at lines %d-%d of a %d-line file", what, src.StartLine, src.EndLine, nlines)
			}
		}
		fs, sup := Lint(df, Options{})
		for _, x := range fs {
			checkSource(x.Rule, x.Source)
		}
		for _, s := range sup {
			// The ignore comment's own line: "Dockerfile:N".
			var n int
			if _, err := fmt.Sscanf(s.Source, "Dockerfile:%d", &n); err != nil || n < 1 || n > nlines {
				t.Fatalf("suppressed %s by an ignore at %q in a %d-line file", s.Rule, s.Source, nlines)
			}
		}
		m := df.MapHistory([]string{"/bin/sh -c #(nop)  USER app", "RUN /bin/sh -c x # buildkit", "COPY . / # buildkit"})
		for i, in := range m {
			if in.Start < 1 || in.Start > in.End || in.End > nlines {
				t.Fatalf("history entry %d maps to %s at lines %d-%d of a %d-line file", i, in.Keyword, in.Start, in.End, nlines)
			}
		}
	})
}
