package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/cli"
)

// plantedSecrets are the credentials the demo image carries (in a deleted
// file, a build argument in history, the config's Env) and the Dockerfile
// below declares.
var plantedSecrets = []string{
	"Zq7vN2xR8pLw4Kd9",                         // password in a DATABASE_URL
	"9Rk2vXq8LmZ4tB7nW1sY5uE3oP6aD0cF2gH8jK4l", // AWS secret access key
	"npm_Xk29PqLmZ7vB4nR8tW1sY5uE3oD6aF0cG2hJ", // build argument
	"ghp_R8kX2vQ9mL4zT7bN1wS5yU3eO6aD0fC2gH8j", // Env
	"sk_live_4eC39HqLyjWDarjtT1zdp7dc",         // Dockerfile ARG default
}

// TestNoCommandLeaksSecrets runs every command that reads the demo image or
// a Dockerfile, in every format, with --debug, and greps stdout and stderr
// for the planted values: none may leave the process unless
// --show-secrets asks for it.
func TestNoCommandLeaksSecrets(t *testing.T) {
	ref := "docker-archive:" + demoPath
	dir := t.TempDir()
	df := filepath.Join(dir, "Dockerfile")
	os.WriteFile(df, []byte("FROM alpine:3.20\nARG STRIPE_KEY=sk_live_4eC39HqLyjWDarjtT1zdp7dc\nRUN echo $STRIPE_KEY > /key\n"), 0o644)
	cache := filepath.Join(dir, "cache")
	var runs [][]string
	for _, f := range []string{"table", "json", "sarif", "cyclonedx", "spdx"} {
		runs = append(runs, []string{"scan", "--debug", "--cache-dir", cache, "-f", f, ref})
	}
	for _, f := range []string{"table", "json"} {
		runs = append(runs,
			[]string{"inspect", "--debug", "--cache-dir", cache, "-f", f, ref},
			[]string{"fix", "secrets", "--debug", "--cache-dir", cache, "-f", f, "-o", "docker-archive:" + filepath.Join(dir, f+".tar"), ref},
		)
	}
	for _, f := range []string{"table", "json", "sarif"} {
		runs = append(runs, []string{"lint", "--debug", "-f", f, df})
	}
	runs = append(runs, []string{"sbom", "--debug", "--cache-dir", cache, ref})
	for _, args := range runs {
		r := run(t, args...)
		if r.code == cli.ExitError {
			t.Errorf("%v: exit %d: %s", args, r.code, r.stderr)
			continue
		}
		for _, v := range plantedSecrets {
			if strings.Contains(r.stdout, v) || strings.Contains(r.stderr, v) {
				t.Errorf("%v prints the secret %s…", args, v[:6])
			}
		}
	}
	// --show-secrets is the one way to see them; the check above would
	// catch them if they were there.
	r := run(t, "inspect", "--show-secrets", "--cache-dir", cache, ref)
	if !strings.Contains(r.stdout, "npm_Xk29PqLmZ7vB4nR8tW1sY5uE3oD6aF0cG2hJ") {
		t.Errorf("inspect --show-secrets hides the build argument:\n%s", r.stdout)
	}
}
