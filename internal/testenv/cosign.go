package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// CosignVersion is the cosign release .ci/run installs with go install.
const CosignVersion = "v3.1.3"

// Cosign returns the path of the cosign CLI: on PATH, else in GOBIN or
// GOPATH/bin, where .ci/run's go install puts it. A missing cosign is
// handled by [Require].
func Cosign(t testing.TB) string {
	t.Helper()
	p, err := cosignPath()
	Require(t, "cosign", err)
	return p
}

func cosignPath() (string, error) {
	if p, err := exec.LookPath("cosign"); err == nil {
		return p, nil
	}
	var dirs []string
	if b := os.Getenv("GOBIN"); b != "" {
		dirs = append(dirs, b)
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		for _, gp := range filepath.SplitList(strings.TrimSpace(string(out))) {
			dirs = append(dirs, filepath.Join(gp, "bin"))
		}
	}
	if h, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(h, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, "cosign")
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("cosign not on PATH nor in %s (go install github.com/sigstore/cosign/v3/cmd/cosign@%s; .ci/run does it)", strings.Join(dirs, ", "), CosignVersion)
}
