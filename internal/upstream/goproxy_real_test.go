package upstream

import (
	"context"
	"debug/buildinfo"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/semver"

	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// oldModsGoMod and oldModsMain make a program built against old module
// versions (also used, as recorded responses, by the offline tests).
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

// buildOldMods builds the program and returns its modules.
func buildOldMods(t *testing.T) []*debug.Module {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte(oldModsGoMod), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(oldModsMain), 0o644)
	env := append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod")
	for _, args := range [][]string{{"mod", "tidy"}, {"build", "-o", "app", "."}} {
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), args...)
		cmd.Dir, cmd.Env = dir, env
		if out, err := cmd.CombinedOutput(); err != nil {
			testenv.Require(t, "the Go module proxy to build a test binary", fmt.Errorf("go %v: %v\n%s", args, err, out))
		}
	}
	bi, err := buildinfo.ReadFile(filepath.Join(dir, "app"))
	if err != nil {
		t.Fatal(err)
	}
	return bi.Deps
}

// TestRealGoProxy asks proxy.golang.org about the modules of a test
// binary: each installed version must be listed with its date, and the
// latest must be newer.
func TestRealGoProxy(t *testing.T) {
	if testing.Short() {
		t.Skip("network")
	}
	deps := buildOldMods(t)
	if len(deps) != 3 {
		t.Fatalf("modules of the test binary: %v", deps)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	hc := &http.Client{Timeout: 30 * time.Second}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://proxy.golang.org/golang.org/x/text/@v/list", nil)
	resp, err := hc.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	testenv.Require(t, "the Go module proxy (proxy.golang.org)", err)
	g := &GoProxy{GOPROXY: "https://proxy.golang.org", HTTP: hc}
	for _, d := range deps {
		info, err := g.Fetch(ctx, Request{Name: d.Path, Versions: []string{d.Version}})
		if err != nil {
			t.Errorf("%s: %v", d.Path, err)
			continue
		}
		rel := info.Release(d.Version)
		if rel == nil || rel.Time.IsZero() || rel.Time.After(time.Now()) {
			t.Errorf("%s@%s: release %+v", d.Path, d.Version, rel)
			continue
		}
		latest := LatestOverall(info)
		if latest == "" || semver.Compare(latest, d.Version) <= 0 {
			t.Errorf("%s: latest %q not newer than installed %s", d.Path, latest, d.Version)
		}
		lr := info.Release(latest)
		if lr == nil || !lr.Time.After(rel.Time) {
			t.Errorf("%s: latest %s without a later date: %+v", d.Path, latest, lr)
			continue
		}
		// The recorded responses (testdata/goproxy) agree with the proxy
		// on the installed version's date.
		if rec, err := os.ReadFile(filepath.Join("testdata", "goproxy", d.Path, "@v", d.Version+".info")); err == nil && !strings.Contains(string(rec), rel.Time.Format(time.RFC3339)) {
			t.Errorf("%s@%s: recorded %s, proxy says %s", d.Path, d.Version, rec, rel.Time.Format(time.RFC3339))
		}
		t.Logf("%s %s (%s) → latest %s (%s), %d releases behind", d.Path, d.Version, rel.Time.Format(time.DateOnly), latest, lr.Time.Format(time.DateOnly), Behind(info, d.Version, latest))
	}
}
