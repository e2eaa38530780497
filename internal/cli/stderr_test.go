package cli_test

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/cli"
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

// TestFailRedacted: an error found in the Docker CLI's arguments, before
// Main runs, is written through the same redaction: a token given as the
// name of a docker context is hidden in the error that names the context.
func TestFailRedacted(t *testing.T) {
	token := "ghp_" + strings.Repeat("aB3dE6gH9k", 3) + "mN0pQr"
	cfg := t.TempDir() // no contexts in it
	env := map[string]string{"DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND": "docker"}
	_, err := cli.DockerPlugin([]string{"--config", cfg, "--context", token, "shipshape", "scan", "app"},
		func(k string) string { return env[k] })
	if err == nil {
		t.Fatal("a docker context that does not exist was accepted")
	}
	if !strings.Contains(err.Error(), token) {
		t.Fatalf("the error does not quote the context, nothing to redact: %v", err)
	}
	var stderr strings.Builder
	if code := cli.Fail(&stderr, err); code != cli.ExitError {
		t.Errorf("exit code %d, want %d", code, cli.ExitError)
	}
	got := stderr.String()
	if strings.Contains(got, token) {
		t.Errorf("the token is on stderr: %s", got)
	}
	if !strings.HasPrefix(got, "shipshape: docker plugin: ") || !strings.Contains(got, redact.Value(token)) || !strings.HasSuffix(got, "\n") {
		t.Errorf("stderr = %q, want the error with the token redacted (%s) on one line", got, redact.Value(token))
	}
}
