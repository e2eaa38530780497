package scan

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// TestNoCLIDependencies keeps the library free of the command line: no
// flag parsing, no cobra, nothing from internal/cli.
func TestNoCLIDependencies(t *testing.T) {
	gobin := testenv.Binary(t, "go")
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "spf13/cobra") || strings.Contains(dep, "spf13/pflag") || strings.HasSuffix(dep, "/internal/cli") {
			t.Errorf("internal/scan depends on %s", dep)
		}
	}
}
