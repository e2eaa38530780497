package dockerfile

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLint: any input either fails to parse with an error or lints without
// panicking, and every finding has a line inside the file.
func FuzzLint(f *testing.F) {
	files, _ := filepath.Glob("testdata/rules/*.Dockerfile")
	for _, p := range files {
		b, _ := os.ReadFile(p)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		df, err := Parse("Dockerfile", b)
		if err != nil {
			return
		}
		fs, _ := Lint(df, Options{})
		for _, x := range fs {
			if x.Source == nil || x.Source.StartLine < 0 {
				t.Fatalf("finding without a line: %+v", x)
			}
		}
		df.MapHistory([]string{"/bin/sh -c #(nop)  USER app", "RUN /bin/sh -c x # buildkit"})
	})
}
