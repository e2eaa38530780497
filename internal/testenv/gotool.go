package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// GoTool returns the path of a program installed with `go install`
// (govulncheck, gosec): found on PATH, else in GOBIN, else in GOPATH/bin.
// install is the command that installs it (.ci/run runs it), named in the
// message when the program is missing, which is handled by [Require].
func GoTool(t testing.TB, name, install string) string {
	t.Helper()
	p, err := goTool(name)
	if err != nil {
		err = fmt.Errorf("%w (install it with `%s`)", err, install)
	}
	Require(t, name, err)
	return p
}

func goTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	var dirs []string
	if d := os.Getenv("GOBIN"); d != "" {
		dirs = append(dirs, d)
	}
	// The go command of the toolchain running the tests: PATH may lack it.
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go") //nolint:staticcheck // the test binary's own toolchain
	if out, err := exec.Command(goBin, "env", "GOBIN", "GOPATH").Output(); err == nil {
		// One line each; GOBIN's is empty when unset.
		lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		if len(lines) == 2 {
			if lines[0] != "" {
				dirs = append(dirs, lines[0])
			}
			for _, gp := range filepath.SplitList(lines[1]) {
				dirs = append(dirs, filepath.Join(gp, "bin"))
			}
		}
	}
	if h, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(h, "go", "bin"))
	}
	for _, d := range dirs {
		p := filepath.Join(d, name)
		if info, err := os.Stat(p); err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found on PATH or in %s", name, strings.Join(dirs, ", "))
}
