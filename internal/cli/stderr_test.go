package cli_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/redact"
)

// TestStderrRedacted: what a command writes to stderr passes through the
// secret rules, not only its report: a GitHub token in a registry
// reference is hidden in the error and in the debug log that quote the
// reference.
func TestStderrRedacted(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	tok := []byte("ghp_")
	for range 36 {
		tok = append(tok, alnum[r.IntN(len(alnum))])
	}
	token := string(tok)
	ref := "docker://ci:" + token + "@127.0.0.1:1/app:1"
	for _, tt := range []struct {
		name string
		args []string
		want string // a line of stderr that quotes the reference
	}{
		{"error", []string{"scan", "--cache-dir", t.TempDir(), ref}, "shipshape: "},
		{"debug log", []string{"scan", "--debug", "--cache-dir", t.TempDir(), ref}, `msg="opening image"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res := run(t, tt.args...)
			if res.code == 0 {
				t.Fatalf("scan of an unparseable reference succeeded: %s", res.stdout)
			}
			if strings.Contains(res.stderr, token) {
				t.Errorf("the token is on stderr:\n%s", res.stderr)
			}
			quoted := false
			for _, l := range strings.Split(res.stderr, "\n") {
				if strings.Contains(l, tt.want) && strings.Contains(l, redact.Value(token)) {
					quoted = true
				}
			}
			if !quoted {
				t.Errorf("no line with %q quoting the token redacted (%s):\n%s", tt.want, redact.Value(token), res.stderr)
			}
		})
	}
}
