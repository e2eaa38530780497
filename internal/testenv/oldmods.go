package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// oldModsGoMod and oldModsMain are a program built against old module
// versions; internal/upstream/testdata/goproxy records the proxy's answers
// about them for the offline tests.
const oldModsGoMod = `module example.com/fresh

go 1.22

require (
	github.com/pkg/errors v0.8.1
	golang.org/x/text v0.3.7
	gopkg.in/yaml.v2 v2.2.7
)
`

const oldModsMain = `package main

import (
	"fmt"

	"github.com/pkg/errors"
	"golang.org/x/text/language"
	"gopkg.in/yaml.v2"
)

func main() {
	out, _ := yaml.Marshal(map[string]string{"a": "b"})
	fmt.Println(language.English.String(), string(out), errors.New("x"))
}
`

// OldModulesProgram builds, with the test binary's own toolchain and the Go
// module proxy, a static program that links github.com/pkg/errors v0.8.1,
// golang.org/x/text v0.3.7 and gopkg.in/yaml.v2 v2.2.7, and returns its
// path. Without the proxy the test goes through [Require].
func OldModulesProgram(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"go.mod": oldModsGoMod, "main.go": oldModsMain} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	env := append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod")
	for _, args := range [][]string{{"mod", "tidy"}, {"build", "-o", "app", "."}} {
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), args...) //nolint:staticcheck // the test binary's own toolchain
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			Require(t, "the Go module proxy to build a test binary", fmt.Errorf("go %v: %v\n%s", args, err, out))
		}
	}
	return filepath.Join(dir, "app")
}
