package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// registry replays the bodies in testdata/registries (see testdata/README.md)
// at the paths each registry's documented API uses, and the recorded Go
// proxy responses of testdata/goproxy.
type registry struct {
	*httptest.Server
	requests atomic.Int64
	mu       sync.Mutex // guards paths: the handler runs per connection
	paths    []string
}

// seen returns the paths asked so far and forgets them.
func (r *registry) seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.paths
	r.paths = nil
	return p
}

const npmToken = "npm_s3cr3tT0ken"

// pomDates are the Last-Modified times of guava's POMs.
var pomDates = map[string]string{
	"31.1-jre":   "Mon, 28 Feb 2022 20:35:24 GMT",
	"33.3.1-jre": "Wed, 18 Sep 2024 23:23:37 GMT",
}

func newRegistry(t *testing.T) *registry {
	t.Helper()
	r := &registry{}
	data := filepath.Join("testdata", "registries")
	gop := http.StripPrefix("/goproxy", http.FileServer(http.Dir(filepath.Join("testdata", "goproxy"))))
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		p := req.URL.EscapedPath()
		r.mu.Lock()
		r.paths = append(r.paths, p)
		r.mu.Unlock()
		serve := func(name string) {
			b, err := os.ReadFile(filepath.Join(data, name))
			if err != nil {
				http.NotFound(w, req)
				return
			}
			b = []byte(strings.ReplaceAll(string(b), "REG/", r.URL+"/nuget-reg/"))
			w.Write(b)
		}
		switch {
		case strings.HasPrefix(p, "/goproxy/"):
			gop.ServeHTTP(w, req)
		case strings.EqualFold(p, "/npm/@acme%2fwidget"):
			if req.Header.Get("Authorization") != "Bearer "+npmToken {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			serve("npm/@acme%2fwidget.json")
		case strings.HasPrefix(p, "/npm/"):
			serve("npm/" + strings.TrimPrefix(p, "/npm/") + ".json")
		case strings.HasPrefix(p, "/pypi/pypi/") && strings.HasSuffix(p, "/json"):
			serve("pypi/" + strings.TrimSuffix(strings.TrimPrefix(p, "/pypi/pypi/"), "/json") + ".json")
		case strings.HasPrefix(p, "/maven/"):
			if u, pw, ok := req.BasicAuth(); !ok || u != "deploy" || pw != "m4venPass" {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			rest := strings.TrimPrefix(p, "/maven/")
			if strings.HasSuffix(rest, ".pom") {
				v := filepath.Base(filepath.Dir(rest))
				if d, ok := pomDates[v]; ok {
					w.Header().Set("Last-Modified", d)
					return
				}
				http.NotFound(w, req)
				return
			}
			serve("maven/" + rest)
		case strings.HasPrefix(p, "/rubygems/api/v1/versions/"):
			serve("rubygems/" + strings.TrimPrefix(p, "/rubygems/api/v1/versions/"))
		case strings.HasPrefix(p, "/crates-index/"):
			serve("crates/" + strings.TrimPrefix(p, "/crates-index/"))
		case strings.HasPrefix(p, "/crates-api/api/v1/crates/"):
			serve("crates/api/" + strings.TrimSuffix(strings.TrimPrefix(p, "/crates-api/api/v1/crates/"), "/versions") + ".json")
		case strings.HasPrefix(p, "/nuget-flat/"):
			serve("nuget/flat/" + strings.TrimPrefix(p, "/nuget-flat/"))
		case strings.HasPrefix(p, "/nuget-reg/windowsazure.storage/page/"):
			serve("nuget/reg/windowsazure.storage/page.json")
		case strings.HasPrefix(p, "/nuget-reg/"):
			serve("nuget/reg/" + strings.TrimPrefix(p, "/nuget-reg/"))
		case strings.HasPrefix(p, "/packagist/"):
			serve("packagist/" + strings.TrimPrefix(p, "/packagist/"))
		default:
			http.NotFound(w, req)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

// config points every client at the replaying server.
func (r *registry) config() *Config {
	return &Config{
		Go:        GoProxy{GOPROXY: r.URL + "/goproxy"},
		Npm:       NpmRegistry{Registry: r.URL + "/npm", Tokens: map[string]string{strings.TrimPrefix(r.URL, "http:") + "/npm/": npmToken}},
		PyPI:      PyPIIndex{Base: r.URL + "/pypi/simple"},
		Maven:     MavenRepo{Base: r.URL + "/maven", User: "deploy", Password: "m4venPass"},
		RubyGems:  RubyGemsAPI{Base: r.URL + "/rubygems"},
		Crates:    CratesIndex{Index: r.URL + "/crates-index", API: r.URL + "/crates-api"},
		NuGet:     NuGetFeed{Flat: r.URL + "/nuget-flat", Registration: r.URL + "/nuget-reg"},
		Packagist: PackagistRepo{Base: r.URL + "/packagist"},
	}
}

func day(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// TestRegistries fetches one package of every registry from the replayed
// bodies and checks what each client makes of them.
func TestRegistries(t *testing.T) {
	reg := newRegistry(t)
	cfg := reg.config()
	type check struct {
		version    string
		time       time.Time
		yanked     bool
		deprecated string
	}
	for _, c := range []struct {
		eco, name     string
		installed     []string
		latest        string // LatestOverall
		latestInMajor string // of installed[0]
		behind        int
		pkgDeprecated string
		checks        []check
	}{
		{Go, "golang.org/x/text", []string{"v0.3.7"}, "v0.44.0", "v0.44.0", 42, "", []check{
			{version: "v0.3.7", time: day("2021-08-10T18:28:16Z")}, {version: "v0.44.0", time: day("2026-11-09T16:29:39Z")}}},
		{Go, "gopkg.in/yaml.v2", []string{"v2.2.7"}, "v2.4.0", "v2.4.0", 3, "", []check{{version: "v2.2.7", time: day("2019-11-19T21:30:34Z")}}},
		{Go, "example.com/old", []string{"v1.1.0"}, "v1.2.0", "v1.2.0", 1, "use example.com/new instead.", []check{{version: "v1.1.0", yanked: true, time: day("2023-06-01T12:00:00Z")}}},
		{Npm, "left-pad", []string{"1.1.3"}, "1.3.0", "1.3.0", 2, "use String.prototype.padStart()", []check{
			{version: "1.1.3", time: day("2016-10-05T14:52:40.370Z"), deprecated: "use String.prototype.padStart()"}, {version: "1.0.0", time: day("2016-03-24T23:51:20.118Z")}}},
		{Npm, "@acme/widget", []string{"1.4.2"}, "3.1.0", "1.4.2", 2, "", []check{{version: "1.4.2", time: day("2021-02-01T10:00:00Z")}}},
		{PyPI, "Requests", []string{"2.32.0"}, "2.32.3", "2.32.3", 1, "", []check{
			{version: "2.32.0", yanked: true, time: day("2024-05-20T15:53:35.107913Z")}, {version: "2.31.0", time: day("2023-05-22T15:12:42.313790Z")}}},
		{Maven, "com.google.guava:guava", []string{"31.1-jre"}, "33.3.1-jre", "31.1-jre", 4, "", []check{
			{version: "31.1-jre", time: day("2022-02-28T20:35:24Z")}, {version: "33.3.1-jre", time: day("2024-09-18T23:23:37Z")}}},
		{RubyGems, "rack", []string{"2.2.7"}, "3.1.8", "2.2.8.1", 3, "", []check{{version: "2.2.7", yanked: true}, {version: "3.1.8", time: day("2024-12-11T23:14:08.402Z")}}},
		{Crates, "serde", []string{"1.0.101"}, "1.0.210", "1.0.210", 1, "", []check{
			{version: "1.0.101", yanked: true, time: day("2019-09-16T16:31:33.491219Z")}, {version: "1.0.210", time: day("2024-09-06T20:31:05.145434Z")}}},
		{NuGet, "Newtonsoft.Json", []string{"12.0.1"}, "13.0.3", "12.0.3", 2, "", []check{
			{version: "12.0.1", time: day("2018-11-27T23:08:32.287Z")}, {version: "13.0.1", yanked: true}}},
		{NuGet, "WindowsAzure.Storage", []string{"9.3.3"}, "9.3.4", "9.3.4", 1, "Legacy: Please use Azure.Storage.Blobs instead.", []check{
			{version: "9.3.3", deprecated: "Legacy: Please use Azure.Storage.Blobs instead.", time: day("2018-11-16T19:10:07.49Z")}}},
		{Packagist, "swiftmailer/swiftmailer", []string{"5.4.12"}, "6.3.0", "5.4.12", 2, "abandoned: use symfony/mailer", []check{{version: "5.4.12", time: day("2018-07-31T09:26:32Z")}}},
		{Packagist, "monolog/monolog", []string{"2.9.3"}, "3.7.0", "2.9.3", 1, "", []check{{version: "3.7.0", time: day("2024-06-28T09:40:51Z")}}},
	} {
		t.Run(c.eco+"/"+c.name, func(t *testing.T) {
			info, err := cfg.Client(c.eco, nil).Fetch(context.Background(), Request{Name: c.name, Versions: c.installed})
			if err != nil {
				t.Fatal(err)
			}
			if got := LatestOverall(info); got != c.latest {
				t.Errorf("latest %q, want %q", got, c.latest)
			}
			if got := LatestInMajor(info, c.installed[0]); got != c.latestInMajor {
				t.Errorf("latest in major %q, want %q", got, c.latestInMajor)
			}
			if got := Behind(info, c.installed[0], c.latest); got != c.behind {
				t.Errorf("behind %d, want %d", got, c.behind)
			}
			if info.Deprecated != c.pkgDeprecated {
				t.Errorf("package deprecated %q, want %q", info.Deprecated, c.pkgDeprecated)
			}
			for _, ch := range c.checks {
				rel := info.Release(ch.version)
				if rel == nil {
					t.Errorf("%s: missing", ch.version)
					continue
				}
				if !rel.Time.Equal(ch.time) {
					t.Errorf("%s: time %v, want %v", ch.version, rel.Time, ch.time)
				}
				if rel.Yanked != ch.yanked || rel.Deprecated != ch.deprecated {
					t.Errorf("%s: yanked %v (%s) deprecated %q, want %v %q", ch.version, rel.Yanked, rel.YankedReason, rel.Deprecated, ch.yanked, ch.deprecated)
				}
			}
		})
	}
}

func TestNotFoundAndAuth(t *testing.T) {
	reg := newRegistry(t)
	cfg := reg.config()
	_, err := cfg.Client(Npm, nil).Fetch(context.Background(), Request{Name: "no-such-package"})
	if !errors.Is(err, ErrNotFound) {
		t.Errorf("npm 404: %v", err)
	}
	// Without the token the scoped registry refuses; the error names the
	// URL but never the token.
	cfg.Npm.Tokens = nil
	_, err = cfg.Client(Npm, nil).Fetch(context.Background(), Request{Name: "@acme/widget"})
	if err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("without token: %v", err)
	}
	// Credentials in a URL are sent as basic auth and never printed.
	cfg.Maven = MavenRepo{Base: strings.Replace(reg.URL, "http://", "http://deploy:wrongPassw0rd@", 1) + "/maven"}
	_, err = cfg.Client(Maven, nil).Fetch(context.Background(), Request{Name: "com.google.guava:guava"})
	if err == nil || strings.Contains(err.Error(), "wrongPassw0rd") || !strings.Contains(err.Error(), "401") {
		t.Errorf("maven with bad credentials: %v", err)
	}
}

func TestGoProxyList(t *testing.T) {
	reg := newRegistry(t)
	for _, c := range []struct {
		goproxy string
		want    string // "ok", "skipped", "notfound", "error"
	}{
		{reg.URL + "/goproxy", "ok"},
		{reg.URL + "/nothing," + reg.URL + "/goproxy", "ok"},    // 404 falls through a comma
		{reg.URL + "/nothing|" + reg.URL + "/goproxy", "ok"},    // anything falls through a pipe
		{"http://127.0.0.1:1," + reg.URL + "/goproxy", "error"}, // a connection error does not fall through a comma
		{"http://127.0.0.1:1|" + reg.URL + "/goproxy", "ok"},    // but through a pipe
		{reg.URL + "/nothing", "notfound"},                      // not found anywhere
		{"off", "skipped"},
		{"direct", "skipped"},
		{reg.URL + "/nothing,direct", "skipped"},
	} {
		g := &GoProxy{GOPROXY: c.goproxy}
		info, err := g.Fetch(context.Background(), Request{Name: "golang.org/x/text", Versions: []string{"v0.3.7"}})
		got := "ok"
		switch {
		case err != nil:
			got = "error"
		case info.Skipped != "":
			got = "skipped"
		case info.NotFound:
			got = "notfound"
		}
		if got != c.want {
			t.Errorf("GOPROXY=%s: %s (%v), want %s", c.goproxy, got, err, c.want)
		}
	}
}

// TestGoPrivateNeverAsked: a private module's name never reaches a proxy.
func TestGoPrivateNeverAsked(t *testing.T) {
	reg := newRegistry(t)
	for _, g := range []*GoProxy{
		{GOPROXY: reg.URL + "/goproxy", GOPRIVATE: "example.com/*,corp.internal"},
		{GOPROXY: reg.URL + "/goproxy", GONOPROXY: "example.com"},
	} {
		info, err := g.Fetch(context.Background(), Request{Name: "example.com/old", Versions: []string{"v1.0.0"}})
		if err != nil || info.Skipped == "" || !strings.Contains(info.Skipped, "GOPRIVATE") {
			t.Errorf("%+v: %+v %v", g, info, err)
		}
	}
	if n := reg.requests.Load(); n != 0 {
		t.Errorf("%d requests reached the proxy: %v", n, reg.seen())
	}
}

func TestLoadConfig(t *testing.T) {
	home := t.TempDir()
	os.WriteFile(filepath.Join(home, ".npmrc"), []byte("registry=https://npm.corp.example/\n@acme:registry=https://npm.acme.example/repo/\n//npm.acme.example/repo/:_authToken=${NPM_TOKEN}\n"), 0o600)
	os.MkdirAll(filepath.Join(home, ".config", "pip"), 0o755)
	os.WriteFile(filepath.Join(home, ".config", "pip", "pip.conf"), []byte("[global]\nindex-url = https://user:pypiPass@pypi.corp.example/simple\n"), 0o600)
	os.MkdirAll(filepath.Join(home, ".m2"), 0o755)
	os.WriteFile(filepath.Join(home, ".m2", "settings.xml"), []byte(`<settings><servers><server><id>corp</id><username>deploy</username><password>${env.MVN_PASS}</password></server></servers>
<mirrors><mirror><id>other</id><url>https://no.example</url><mirrorOf>snapshots</mirrorOf></mirror><mirror><id>corp</id><url>https://maven.corp.example/central</url><mirrorOf>*</mirrorOf></mirror></mirrors></settings>`), 0o600)
	env := map[string]string{"NPM_TOKEN": "tok123456", "MVN_PASS": "mvnPass", "GOPROXY": "https://goproxy.corp|https://proxy.golang.org", "GOPRIVATE": "corp.example/*"}
	cfg, err := LoadConfig(func(k string) string { return env[k] }, home)
	if err != nil {
		t.Fatal(err)
	}
	n := cfg.Npm
	if n.registryFor("left-pad") != "https://npm.corp.example/" || n.registryFor("@acme/x") != "https://npm.acme.example/repo/" {
		t.Errorf("npm registries: %+v", n)
	}
	if n.tokenFor("https://npm.acme.example/repo/") != "tok123456" || n.tokenFor("https://npm.corp.example/") != "" {
		t.Errorf("npm tokens: %+v", n.Tokens)
	}
	if cfg.PyPI.Base != "https://user:pypiPass@pypi.corp.example/simple" {
		t.Errorf("pip: %q", cfg.PyPI.Base)
	}
	if cfg.Maven.Base != "https://maven.corp.example/central" || cfg.Maven.User != "deploy" || cfg.Maven.Password != "mvnPass" {
		t.Errorf("maven: %+v", cfg.Maven)
	}
	if !cfg.Go.Private("corp.example/lib") || cfg.Go.Private("golang.org/x/text") {
		t.Errorf("GOPRIVATE")
	}
	// go env -w settings count when the environment has none.
	os.MkdirAll(filepath.Join(home, ".config", "go"), 0o755)
	os.WriteFile(filepath.Join(home, ".config", "go", "env"), []byte("GOPROXY=https://goproxy.corp.example\nGONOPROXY=secret.example\n"), 0o644)
	cfg, err = LoadConfig(func(string) string { return "" }, home)
	if err != nil || cfg.Go.GOPROXY != "https://goproxy.corp.example" || !cfg.Go.Private("secret.example/x") {
		t.Errorf("go env file: %+v %v", cfg.Go, err)
	}
	if _, err := LoadConfig(func(k string) string { return map[string]string{"GOPROXY": ",,"}[k] }, ""); err == nil {
		t.Error("an empty GOPROXY list is an error")
	}
}

func TestUpdaterStoreAndTTL(t *testing.T) {
	reg := newRegistry(t)
	store := NewStore(t.TempDir())
	now := day("2026-11-30T00:00:00Z")
	u := &Updater{Store: store, Config: reg.config(), Now: func() time.Time { return now }}
	wants := []Want{
		{Ecosystem: Go, Name: "golang.org/x/text", Versions: []string{"v0.3.7"}},
		{Ecosystem: Go, Name: "golang.org/x/text", Versions: []string{"v0.3.7"}},
		{Ecosystem: Npm, Name: "left-pad", Versions: []string{"1.1.3"}},
		{Ecosystem: Npm, Name: "gone", Versions: []string{"1.0.0"}},
	}
	res, err := u.Update(context.Background(), wants)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Ecosystem != Go || res[0].Fetched != 1 || res[1].Fetched != 1 || res[1].NotFound != 1 {
		t.Fatalf("first update: %+v", res)
	}
	first := reg.requests.Load()
	res, _ = u.Update(context.Background(), wants)
	if reg.requests.Load() != first || res[0].Fresh != 1 {
		t.Errorf("second update within the TTL asked again: %+v", res)
	}
	// Another installed version is fetched even within the TTL.
	res, _ = u.Update(context.Background(), []Want{{Ecosystem: Go, Name: "golang.org/x/text", Versions: []string{"v0.3.6"}}})
	if res[0].Fresh != 0 || res[0].Fetched != 1 {
		t.Errorf("new version: %+v", res)
	}
	now = now.Add(DefaultTTL + time.Minute)
	res, _ = u.Update(context.Background(), wants[:1])
	if res[0].Fetched != 1 {
		t.Errorf("after the TTL: %+v", res)
	}
	// A refresh asks again, after the TTL, about every stored package.
	now = now.Add(DefaultTTL + time.Minute)
	res, err = u.Refresh(context.Background())
	if err != nil || len(res) != 2 || res[0].Fetched != 1 || res[1].Fetched+res[1].NotFound != 2 {
		t.Errorf("refresh: %+v %v", res, err)
	}
	got, err := store.Load(Go)
	if err != nil || got["golang.org/x/text"] == nil || got["golang.org/x/text"].Release("v0.3.7") == nil {
		t.Fatalf("store: %v %v", got, err)
	}
	// A damaged file is an error for readers that names the fix.
	os.WriteFile(store.file(Npm), []byte("{"), 0o644)
	if _, err := store.Load(Npm); err == nil || !strings.Contains(err.Error(), "db update --for") {
		t.Errorf("damaged store: %v", err)
	}
}

func TestCratesIndexPath(t *testing.T) {
	for name, want := range map[string]string{"a": "1/a", "ab": "2/ab", "abc": "3/a/abc", "Serde": "se/rd/serde", "tokio-util": "to/ki/tokio-util"} {
		if got := cratesIndexPath(name); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
}

// TestHostileNames: names come from the image; none may make a client ask
// outside the registry's package paths.
func TestHostileNames(t *testing.T) {
	reg := newRegistry(t)
	cfg := reg.config()
	for _, c := range []struct{ eco, name string }{
		{Go, "../../etc/passwd"},
		{Maven, "com/../..:evil"},
		{Maven, "noartifact"},
		{Crates, "../x"},
		{Packagist, "a/b/c"},
	} {
		info, err := cfg.Client(c.eco, nil).Fetch(context.Background(), Request{Name: c.name, Versions: []string{"1.0.0"}})
		if err == nil && (info == nil || info.Skipped == "") {
			t.Errorf("%s %q: fetched %+v", c.eco, c.name, info)
		}
	}
	for _, name := range []string{"../../x", "a/../../b"} {
		reg.seen()
		cfg.Client(Npm, nil).Fetch(context.Background(), Request{Name: name})
		for _, p := range reg.seen() {
			if !strings.HasPrefix(p, "/npm/") || strings.Count(p, "/") != 2 {
				t.Errorf("npm %q asked %s", name, p)
			}
		}
	}
}

// TestCredentialsStayOut: credentials from configuration reach the
// registry but neither the store nor the results.
func TestCredentialsStayOut(t *testing.T) {
	reg := newRegistry(t)
	cfg := reg.config()
	cfg.PyPI.Base = strings.Replace(reg.URL, "http://", "http://user:pyp1Secret@", 1) + "/pypi/simple"
	st := NewStore(t.TempDir())
	u := &Updater{Store: st, Config: cfg}
	res, err := u.Update(context.Background(), []Want{
		{Ecosystem: PyPI, Name: "requests", Versions: []string{"2.31.0"}},
		{Ecosystem: Npm, Name: "@acme/widget", Versions: []string{"1.4.2"}},
		{Ecosystem: Maven, Name: "com.google.guava:guava", Versions: []string{"31.1-jre"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Fetched != 1 {
			t.Errorf("%s: %+v", r.Ecosystem, r)
		}
	}
	for _, secret := range []string{"pyp1Secret", npmToken, "m4venPass"} {
		filepath.WalkDir(st.Dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				if b, _ := os.ReadFile(p); strings.Contains(string(b), secret) {
					t.Errorf("%s holds a credential", p)
				}
			}
			return nil
		})
		if strings.Contains(fmt.Sprint(res), secret) {
			t.Errorf("results hold a credential: %v", res)
		}
	}
}

// TestUnreachableRegistryStops: after a few failures with no answer, the
// rest of an ecosystem's packages are not asked.
func TestUnreachableRegistryStops(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	var wants []Want
	for i := range 40 {
		wants = append(wants, Want{Ecosystem: Npm, Name: fmt.Sprintf("pkg%d", i), Versions: []string{"1.0.0"}})
	}
	u := &Updater{Store: NewStore(t.TempDir()), Config: &Config{Npm: NpmRegistry{Registry: srv.URL}}, Parallel: 1}
	res, err := u.Update(context.Background(), wants)
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Failed != 40 || n.Load() > int64(maxFailures) {
		t.Errorf("%+v after %d requests", res[0], n.Load())
	}
}
