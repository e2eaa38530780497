package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"
	"golang.org/x/mod/semver"
)

// DefaultGOPROXY is the go command's default.
const DefaultGOPROXY = "https://proxy.golang.org,direct"

// GoProxy speaks the Go module proxy protocol (go.dev/ref/mod#goproxy-protocol):
// $base/$module/@v/list, @v/$version.info, @v/$version.mod and @latest.
// GOPROXY lists are honoured as the go command does: after a proxy in a
// comma-separated list, only "not found" falls through to the next; after
// a pipe, any error does. "direct" (version control) is not spoken:
// reaching it ends the list; "off" disables fetching.
type GoProxy struct {
	// GOPROXY, GOPRIVATE and GONOPROXY as the go command reads them.
	GOPROXY, GOPRIVATE, GONOPROXY string
	HTTP                          httpDoer
}

type proxyEntry struct {
	url string
	// fallAny: the separator after this entry was '|'.
	fallAny bool
}

// parseGOPROXY splits a GOPROXY value into its entries.
func parseGOPROXY(s string) ([]proxyEntry, error) {
	if strings.TrimSpace(s) == "" {
		s = DefaultGOPROXY
	}
	var out []proxyEntry
	for s != "" {
		i := strings.IndexAny(s, ",|")
		var item string
		fallAny := false
		if i < 0 {
			item, s = s, ""
		} else {
			item, fallAny, s = s[:i], s[i] == '|', s[i+1:]
		}
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if item != "direct" && item != "off" && !strings.Contains(item, "://") {
			// The go command accepts a bare host as https.
			item = "https://" + item
		}
		out = append(out, proxyEntry{url: item, fallAny: fallAny})
	}
	if len(out) == 0 {
		return nil, errors.New("GOPROXY lists no proxy")
	}
	return out, nil
}

// Private reports whether module path matches GONOPROXY (or GOPRIVATE when
// GONOPROXY is unset): such modules are never sent to a proxy.
func (g *GoProxy) Private(path string) bool {
	pat := g.GONOPROXY
	if pat == "" {
		pat = g.GOPRIVATE
	}
	return pat != "" && module.MatchPrefixPatterns(pat, path)
}

// Fetch implements Client.
func (g *GoProxy) Fetch(ctx context.Context, r Request) (*Info, error) {
	info := &Info{Ecosystem: Go, Name: r.Name, FetchedAt: time.Now().UTC()}
	if g.Private(r.Name) {
		// Do not leak the name of a private module to a public proxy.
		info.Skipped = "private module (GOPRIVATE/GONOPROXY): not asked of any proxy"
		return info, nil
	}
	if err := module.CheckPath(r.Name); err != nil {
		info.Skipped = "not a module path the proxy protocol can ask for: " + err.Error()
		return info, nil
	}
	entries, err := parseGOPROXY(g.GOPROXY)
	if err != nil {
		return nil, err
	}
	var lastErr error
	for _, p := range entries {
		switch p.url {
		case "off":
			info.Skipped = "GOPROXY=off: module proxies are disabled"
			return info, nil
		case "direct":
			info.Skipped = "GOPROXY reaches direct: shipshape reads module proxies only, not version control"
			return info, nil
		}
		e, err := newEndpoint(p.url)
		if err != nil {
			return nil, err
		}
		got, err := g.fetchFrom(ctx, e, r, info)
		if err == nil {
			return got, nil
		}
		lastErr = err
		if !p.fallAny && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	if errors.Is(lastErr, ErrNotFound) {
		info.NotFound = true
		return info, nil
	}
	return nil, lastErr
}

// goInfo is the JSON of @latest and @v/$version.info.
type goInfo struct {
	Version string
	Time    time.Time
}

func (g *GoProxy) fetchFrom(ctx context.Context, e endpoint, r Request, base *Info) (*Info, error) {
	c := g.HTTP
	if c == nil {
		c = http.DefaultClient
	}
	esc, err := module.EscapePath(r.Name)
	if err != nil {
		return nil, fmt.Errorf("go module %s: %w", r.Name, err)
	}
	root := e.Base + "/" + esc
	info := *base
	info.Source = e.Base
	body, _, err := get(ctx, c, e, root+"/@v/list", "")
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		v := strings.Fields(line)
		if len(v) == 0 || !semver.IsValid(v[0]) || seen[v[0]] {
			continue
		}
		seen[v[0]] = true
		info.Releases = append(info.Releases, Release{Version: v[0], Prerelease: semver.Prerelease(v[0]) != ""})
	}
	// @latest: the latest release, or a pseudo-version when the module has
	// no tags. A 404 is fine (only @v/list then counts).
	if b, _, err := get(ctx, c, e, root+"/@latest", "application/json"); err == nil {
		var li goInfo
		if json.Unmarshal(b, &li) == nil && semver.IsValid(li.Version) {
			info.Latest = li.Version
			info.setTime(li.Version, li.Time)
		}
	} else if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	if len(info.Releases) == 0 && info.Latest == "" {
		return nil, fmt.Errorf("go module %s: no versions: %w", r.Name, ErrNotFound)
	}
	// Retractions and deprecation are in the latest version's go.mod.
	if info.Latest != "" {
		if b, _, err := get(ctx, c, e, root+"/@v/"+mustEscapeVersion(info.Latest)+".mod", ""); err == nil {
			info.applyGoMod(b)
		}
	}
	// The dates that matter: the installed versions, the latest overall
	// and the latest in each installed version's major.
	want := map[string]bool{}
	for _, v := range r.Versions {
		v = GoVersion(v)
		want[v] = true
		if l := LatestInMajor(&info, v); l != "" {
			want[l] = true
		}
	}
	if l := LatestOverall(&info); l != "" {
		want[l] = true
	}
	for v := range want {
		if !semver.IsValid(v) {
			continue
		}
		if rel := info.Release(v); rel != nil && !rel.Time.IsZero() {
			continue
		}
		b, _, err := get(ctx, c, e, root+"/@v/"+mustEscapeVersion(v)+".info", "application/json")
		if errors.Is(err, ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		var vi goInfo
		if err := json.Unmarshal(b, &vi); err != nil {
			return nil, fmt.Errorf("go module %s@%s: .info: %w", r.Name, v, err)
		}
		info.setTime(v, vi.Time)
	}
	return &info, nil
}

// setTime records a version's date, adding the version when @v/list did
// not have it (pseudo-versions).
func (in *Info) setTime(v string, t time.Time) {
	if rel := in.Release(v); rel != nil {
		rel.Time = t.UTC()
		return
	}
	in.Releases = append(in.Releases, Release{Version: v, Time: t.UTC(), Prerelease: semver.Prerelease(v) != ""})
}

// applyGoMod marks retracted versions and a deprecated module from the
// go.mod of the latest version.
func (in *Info) applyGoMod(b []byte) {
	f, err := modfile.ParseLax("go.mod", b, nil)
	if err != nil {
		return
	}
	if f.Module != nil && f.Module.Deprecated != "" {
		in.Deprecated = f.Module.Deprecated
	}
	for _, r := range f.Retract {
		for i := range in.Releases {
			v := in.Releases[i].Version
			if semver.Compare(v, r.Low) >= 0 && semver.Compare(v, r.High) <= 0 {
				in.Releases[i].Yanked = true
				in.Releases[i].YankedReason = "retracted"
				if r.Rationale != "" {
					in.Releases[i].YankedReason += ": " + r.Rationale
				}
			}
		}
	}
}

func mustEscapeVersion(v string) string {
	e, err := module.EscapeVersion(v)
	if err != nil {
		return v
	}
	return e
}

// GoVersion writes a Go module version as Go does ("0.3.7" → "v0.3.7").
func GoVersion(v string) string {
	if v != "" && !strings.HasPrefix(v, "v") {
		return "v" + v
	}
	return v
}
