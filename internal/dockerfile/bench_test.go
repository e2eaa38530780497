package dockerfile

import (
	"os"
	"strings"
	"testing"
)

// BenchmarkLint parses and lints a 40-stage Dockerfile of ~400 lines.
func BenchmarkLint(b *testing.B) {
	one, err := os.ReadFile("testdata/rules/heredoc-multistage.Dockerfile")
	if err != nil {
		b.Fatal(err)
	}
	body := strings.Repeat(string(one)+"RUN apt-get update && apt-get install -y curl git && rm -rf /var/lib/apt/lists/*\n", 40)
	b.SetBytes(int64(len(body)))
	for i := 0; i < b.N; i++ {
		f, err := Parse("Dockerfile", []byte(body))
		if err != nil {
			b.Fatal(err)
		}
		Lint(f, Options{})
	}
}
