package cli

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// oldModulesImage builds a Go program against old module versions and
// writes a docker archive with it.
func oldModulesImage(t *testing.T) string {
	t.Helper()
	bin, err := os.ReadFile(testenv.OldModulesProgram(t))
	if err != nil {
		t.Fatal(err)
	}
	img := imagetest.Image{
		RepoTag: "example.com/fresh:1.0",
		Layers: []imagetest.Layer{{
			CreatedBy: "COPY app /usr/local/bin/app # buildkit",
			Files:     []imagetest.File{imagetest.Dir("usr/"), imagetest.Dir("usr/local/"), imagetest.Dir("usr/local/bin/"), {Name: "usr/local/bin/app", Content: bin, Mode: 0o755}},
		}},
		Config: imagetest.ConfigOptions{User: "65532"},
	}
	p := filepath.Join(t.TempDir(), "fresh.tar")
	img.WriteDockerArchive(t, p, false)
	return "docker-archive:" + p
}

// fakeGoProxy serves the recorded proxy responses and remembers the paths
// asked.
type fakeGoProxy struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

func newFakeGoProxy(t *testing.T) *fakeGoProxy {
	p := &fakeGoProxy{}
	fs := http.FileServer(http.Dir("../upstream/testdata/goproxy"))
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.paths = append(p.paths, r.URL.Path)
		p.mu.Unlock()
		fs.ServeHTTP(w, r)
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *fakeGoProxy) asked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.paths...)
}

type p4Report struct {
	Practices []struct {
		ID, Status, Reason, Summary string
		Metrics                     map[string]any
	} `json:"practices"`
	Findings []struct {
		Rule, Severity, Title, Fix string
		Evidence                   map[string]any
	} `json:"findings"`
	Sections struct {
		DependencyFreshness *struct {
			Libyears     float64 `json:"libyears"`
			Ecosystems   []struct{ Ecosystem, Fix string }
			Dependencies []struct {
				Name, Installed, Latest, Status string
				Libyears                        *float64
			}
		} `json:"dependencyFreshness"`
	} `json:"sections"`
}

func decodeP4(t *testing.T, out string) (p4Report, int) {
	t.Helper()
	var r p4Report
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("report: %v\n%s", err, out)
	}
	for i, p := range r.Practices {
		if p.ID == "P4" {
			return r, i
		}
	}
	t.Fatal("no P4")
	return r, 0
}

// TestFreshnessEndToEnd: an image with a Go binary built against old
// modules; P4 does not run without data; `db update --for` fetches from a
// local GOPROXY replaying recorded responses; an offline scan then reports
// P4 with libyears and the exact fix.
func TestFreshnessEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program")
	}
	ref := oldModulesImage(t)
	proxy := newFakeGoProxy(t)
	t.Setenv("GOPROXY", proxy.URL)
	t.Setenv("GOPRIVATE", "")
	t.Setenv("GONOPROXY", "")
	t.Setenv("HOME", t.TempDir()) // no .npmrc, pip.conf or settings.xml of the user
	dbDir := filepath.Join(t.TempDir(), "db")
	none := filepath.Join(t.TempDir(), "none")
	os.WriteFile(none, []byte("ignore: []\n"), 0o644)
	common := []string{"--db-dir", dbDir, "--no-cache", "--ignorefile", none}

	// No data: not-run with the exact command.
	code, out, errOut := runCLI(t, append([]string{"scan", "--offline", "-f", "json", ref}, common...)...)
	if code != 0 {
		t.Fatalf("scan: %d %s", code, errOut)
	}
	r, i := decodeP4(t, out)
	if p := r.Practices[i]; p.Status != "not-run" || !strings.Contains(p.Reason, "`shipshape db update --for "+ref+"`") {
		t.Errorf("P4 without data = %+v", p)
	}
	if len(proxy.asked()) != 0 {
		t.Fatalf("an offline scan asked the proxy: %v", proxy.asked())
	}

	start := time.Now()
	code, out, errOut = runCLI(t, "db", "update", "--for", ref, "--registries-only", "--db-dir", dbDir, "--no-cache")
	update := time.Since(start)
	if code != 0 || !strings.Contains(out, "Go") || !strings.Contains(out, "3 packages: 3 fetched") {
		t.Fatalf("db update --for: %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dbDir, "freshness", "Go.json")); err != nil {
		t.Fatal(err)
	}
	if code, out, _ := runCLI(t, "db", "status", "--db-dir", dbDir); code != 0 || !strings.Contains(out, "registry Go             3 packages") {
		t.Errorf("db status: %d\n%s", code, out)
	}
	// A plain update refreshes only what is older than the TTL.
	if code, out, _ := runCLI(t, "db", "update", "--registries-only", "--db-dir", dbDir); code != 0 || !strings.Contains(out, "0 fetched, 3 fresh") {
		t.Errorf("db update (refresh): %d\n%s", code, out)
	}
	asked := len(proxy.asked())
	if code, out, _ := runCLI(t, "db", "update", "--registries-only", "--registry-ttl", "0s", "--db-dir", dbDir); code != 0 || !strings.Contains(out, "3 fetched, 0 fresh") || len(proxy.asked()) == asked {
		t.Errorf("db update --registry-ttl 0s: %d\n%s", code, out)
	}
	asked = len(proxy.asked())

	start = time.Now()
	code, out, errOut = runCLI(t, append([]string{"scan", "--offline", "-f", "json", ref}, common...)...)
	scanTook := time.Since(start)
	if code != 0 {
		t.Fatalf("scan: %d %s", code, errOut)
	}
	if n := len(proxy.asked()); n != asked {
		t.Errorf("the offline scan asked the proxy %d times", n-asked)
	}
	r, i = decodeP4(t, out)
	p4 := r.Practices[i]
	if p4.Status != "warn" || !strings.Contains(p4.Summary, "Go: 3 modules, 3 behind, 7.3 libyears") {
		t.Errorf("P4 = %+v", p4)
	}
	const fix = "go get github.com/pkg/errors@v0.9.1 golang.org/x/text@v0.44.0 gopkg.in/yaml.v2@v2.4.0 && go mod tidy"
	var rules []string
	for _, f := range r.Findings {
		if strings.HasPrefix(f.Rule, "SS-P4-") {
			rules = append(rules, f.Rule)
		}
		if f.Rule == "SS-P4-004" && (f.Fix != fix || f.Title != "Go: 3 of 3 modules behind, 7.3 libyears") {
			t.Errorf("SS-P4-004: %+v", f)
		}
	}
	if strings.Join(rules, ",") != "SS-P4-005,SS-P4-004" {
		t.Errorf("P4 findings %v, want SS-P4-005 (libyears) and SS-P4-004 (Go behind)", rules)
	}
	sec := r.Sections.DependencyFreshness
	if sec == nil || sec.Libyears != 7.28 || len(sec.Dependencies) != 3 || len(sec.Ecosystems) != 1 || sec.Ecosystems[0].Fix != fix {
		t.Fatalf("section: %+v", sec)
	}
	for _, d := range sec.Dependencies {
		if d.Name == "golang.org/x/text" && (d.Installed != "v0.3.7" || d.Latest != "v0.44.0" || d.Libyears == nil || *d.Libyears != 5.25) {
			t.Errorf("x/text: %+v", d)
		}
	}
	t.Logf("db update --for: %v; scan with freshness: %v; P4: %s", update, scanTook, p4.Summary)

	// The same in SARIF: the rules and the fix.
	code, out, _ = runCLI(t, append([]string{"scan", "--offline", "-f", "sarif", ref}, common...)...)
	if code != 0 || !strings.Contains(out, `"SS-P4-004"`) || !strings.Contains(out, "libyears") {
		t.Errorf("sarif: %d", code)
	}
	// The table: one line per ecosystem.
	code, out, _ = runCLI(t, append([]string{"scan", "--offline", ref}, common...)...)
	if code != 0 || !strings.Contains(out, "Go: 3 modules, 3 behind, 7.3 libyears") || !strings.Contains(out, fix) {
		t.Errorf("table: %d\n%s", code, out)
	}
}

// TestOnlineFreshness fetches during the scan, and never for a private
// module.
func TestOnlineFreshness(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go program")
	}
	ref := oldModulesImage(t)
	proxy := newFakeGoProxy(t)
	t.Setenv("GOPROXY", proxy.URL)
	t.Setenv("GOPRIVATE", "golang.org/x")
	t.Setenv("GONOPROXY", "")
	t.Setenv("HOME", t.TempDir())
	dbDir := filepath.Join(t.TempDir(), "db")
	if code, _, errOut := runCLI(t, "scan", "--offline", "--online-freshness", "--db-dir", dbDir, ref); code != ExitError || !strings.Contains(errOut, "--offline") {
		t.Errorf("--online-freshness --offline: %d %s", code, errOut)
	}
	code, out, errOut := runCLI(t, "scan", "--online-freshness", "-f", "json", "--db-dir", dbDir, "--no-cache", ref)
	if code != 0 {
		t.Fatalf("scan --online-freshness: %d %s", code, errOut)
	}
	r, i := decodeP4(t, out)
	p4 := r.Practices[i]
	if !strings.Contains(p4.Summary, "Go: 2 modules, 2 behind") || !strings.Contains(p4.Summary, "not asked (private module") {
		t.Errorf("P4 = %+v", p4)
	}
	for _, p := range proxy.asked() {
		if strings.Contains(p, "golang.org/x") {
			t.Errorf("a GOPRIVATE module reached the proxy: %s", p)
		}
	}
}

// TestFreshnessFailsOnYankedAndDeprecated: a yanked PyPI release and a
// deprecated npm package fail P4, each with its exact fix, from registries
// configured the usual way (PIP_INDEX_URL, NPM_CONFIG_REGISTRY) and
// replayed from internal/upstream/testdata/registries.
func TestFreshnessFailsOnYankedAndDeprecated(t *testing.T) {
	data := "../upstream/testdata/registries"
	var mu sync.Mutex
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.Path)
		mu.Unlock()
		switch r.URL.Path {
		case "/pypi/requests/json":
			http.ServeFile(w, r, filepath.Join(data, "pypi", "requests.json"))
		case "/npm/left-pad":
			http.ServeFile(w, r, filepath.Join(data, "npm", "left-pad.json"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	t.Setenv("HOME", t.TempDir())
	t.Setenv("NPM_CONFIG_USERCONFIG", "")
	t.Setenv("PIP_INDEX_URL", srv.URL+"/simple")
	t.Setenv("NPM_CONFIG_REGISTRY", srv.URL+"/npm")
	img := imagetest.Image{
		RepoTag: "example.com/py:1.0",
		Layers: []imagetest.Layer{{
			CreatedBy: "RUN pip install requests==2.32.0 && npm install left-pad@1.1.3",
			Files: []imagetest.File{
				imagetest.Reg("usr/lib/python3/site-packages/requests-2.32.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: requests\nVersion: 2.32.0\n"),
				imagetest.Reg("app/node_modules/left-pad/package.json", `{"name": "left-pad", "version": "1.1.3"}`),
			},
		}},
		Config: imagetest.ConfigOptions{User: "65532"},
	}
	p := filepath.Join(t.TempDir(), "py.tar")
	img.WriteDockerArchive(t, p, false)
	ref := "docker-archive:" + p
	dbDir := filepath.Join(t.TempDir(), "db")
	code, out, errOut := runCLI(t, "db", "update", "--for", ref, "--registries-only", "--db-dir", dbDir, "--no-cache")
	if code != 0 || !strings.Contains(out, "PyPI") || !strings.Contains(out, "npm") {
		t.Fatalf("db update --for: %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "scan", "--offline", "-f", "json", "--db-dir", dbDir, "--no-cache", ref)
	if code != 0 {
		t.Fatalf("scan: %d %s", code, errOut)
	}
	r, i := decodeP4(t, out)
	if r.Practices[i].Status != "fail" {
		t.Errorf("P4 = %+v", r.Practices[i])
	}
	got := map[string]string{}
	for _, f := range r.Findings {
		if f.Rule == "SS-P4-001" || f.Rule == "SS-P4-002" {
			got[f.Rule] = f.Severity + " " + f.Fix
		}
	}
	if got["SS-P4-001"] != "high pip install 'requests==2.32.3'" || got["SS-P4-002"] != "high npm install left-pad@1.3.0" {
		t.Errorf("findings: %v", got)
	}
	// With the policy's failOnYanked/failOnDeprecated off they warn.
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	os.WriteFile(pol, []byte("dependencies:\n  failOnYanked: false\n  failOnDeprecated: false\n"), 0o644)
	code, out, _ = runCLI(t, "scan", "--offline", "-f", "json", "--config", pol, "--db-dir", dbDir, "--no-cache", ref)
	if r, i := decodeP4(t, out); code != 0 || r.Practices[i].Status != "warn" {
		t.Errorf("with the policy: %d %+v", code, r.Practices[i])
	}
}
