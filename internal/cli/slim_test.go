package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/imageout"
)

func TestSlimFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"slim", "img", "--runtime=sandbox"}, "--runtime=sandbox: say where the slimmed image goes"},
		{[]string{"slim", "img", "--runtime=podman"}, `--runtime "podman"`},
		{[]string{"slim", "img", "--format=xml"}, `--format "xml"`},
		{[]string{"slim"}, "accepts 1 arg"},
	} {
		var stdout, stderr bytes.Buffer
		code := Main(context.Background(), tc.args, strings.NewReader(""), &stdout, &stderr)
		if code != ExitError || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, stderr.String(), ExitError, tc.want)
		}
	}
}

func TestDefaultSlimTag(t *testing.T) {
	for in, want := range map[string]string{
		"app":                       "app.slim:latest",
		"app:1.0":                   "app.slim:1.0",
		"localhost:5000/team/app:2": "localhost:5000/team/app.slim:2",
		"localhost:5000/team/app":   "localhost:5000/team/app.slim:latest",
		"docker-daemon:app:3":       "app.slim:3",
		"docker-archive:/tmp/x.tar": "shipshape.local/x.slim:latest",
		"app@sha256:0123":           "app.slim:latest",
	} {
		if got := imageout.DerivedName(in, nil, "slim"); got != want {
			t.Errorf("DerivedName(%q) = %q, want %q", in, got, want)
		}
	}
}
