package upstream

import (
	"context"
	"debug/buildinfo"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/semver"

	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// buildOldMods builds the program and returns its modules.
func buildOldMods(t *testing.T) []*debug.Module {
	t.Helper()
	bi, err := buildinfo.ReadFile(testenv.OldModulesProgram(t))
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
