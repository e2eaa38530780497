package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// DefaultPackagist is the Composer v2 metadata repository.
const DefaultPackagist = "https://repo.packagist.org"

// PackagistRepo reads Composer v2 metadata (packagist.org/apidoc, "Using
// the Composer v2 metadata"): GET $base/p2/$vendor/$package.json, tagged
// releases in the "composer/2.0" minified form (each entry repeats only
// what changed from the previous one; "__unset" removes a key). "abandoned"
// (true or the replacement's name) makes the package deprecated.
type PackagistRepo struct {
	Base string
	HTTP httpDoer
}

// Fetch implements Client.
func (p *PackagistRepo) Fetch(ctx context.Context, r Request) (*Info, error) {
	c := p.HTTP
	if c == nil {
		c = http.DefaultClient
	}
	base := p.Base
	if base == "" {
		base = DefaultPackagist
	}
	e, err := newEndpoint(base)
	if err != nil {
		return nil, err
	}
	vendor, pkg, ok := strings.Cut(strings.ToLower(r.Name), "/")
	if !ok || vendor == "" || pkg == "" || strings.Contains(pkg, "/") {
		return nil, fmt.Errorf("packagist %q: want vendor/package", r.Name)
	}
	body, _, err := get(ctx, c, e, e.Base+"/p2/"+pathEscape(vendor)+"/"+pathEscape(pkg)+".json", "application/json")
	if err != nil {
		return nil, err
	}
	var doc struct {
		Packages map[string][]map[string]json.RawMessage `json:"packages"`
		Minified string                                  `json:"minified"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("packagist %s: %w", r.Name, err)
	}
	info := &Info{Ecosystem: Packagist, Name: r.Name, Source: e.Base, FetchedAt: time.Now().UTC()}
	cur := map[string]json.RawMessage{}
	for _, entry := range doc.Packages[vendor+"/"+pkg] {
		if doc.Minified == "composer/2.0" {
			for k, v := range entry {
				if string(v) == `"__unset"` {
					delete(cur, k)
				} else {
					cur[k] = v
				}
			}
		} else {
			cur = entry
		}
		var v, t string
		json.Unmarshal(cur["version"], &v)
		json.Unmarshal(cur["time"], &t)
		if v == "" {
			continue
		}
		v = strings.TrimPrefix(v, "v")
		rel := Release{Version: v, Prerelease: isPrerelease(Packagist, v)}
		if tm, err := time.Parse(time.RFC3339, t); err == nil {
			rel.Time = tm.UTC()
		}
		if info.Release(v) == nil {
			info.Releases = append(info.Releases, rel)
		}
		if len(info.Releases) == 1 {
			// The newest entry comes first; it says whether the package
			// is abandoned.
			if ab, ok := cur["abandoned"]; ok {
				var b bool
				var s string
				switch {
				case json.Unmarshal(ab, &b) == nil && b:
					info.Deprecated = "abandoned"
				case json.Unmarshal(ab, &s) == nil && s != "":
					info.Deprecated = "abandoned: use " + s
				}
			}
		}
	}
	return info, nil
}
