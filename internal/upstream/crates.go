package upstream

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Default crates.io endpoints.
const (
	DefaultCratesIndex = "https://index.crates.io"
	DefaultCratesAPI   = "https://crates.io"
)

// CratesIndex reads the sparse index (doc.rust-lang.org/cargo/reference/registry-index.html):
// one JSON object per line and version with "vers" and "yanked", at
// $index/1/$n, 2/$n, 3/$c/$n or $ab/$cd/$name. The index has no dates:
// they come from the web API, GET $api/api/v1/crates/$name/versions
// (created_at), when it answers.
type CratesIndex struct {
	Index, API string
	HTTP       httpDoer
}

// cratesIndexPath is the sparse index path of a crate name.
func cratesIndexPath(name string) string {
	n := strings.ToLower(name)
	switch len(n) {
	case 1:
		return "1/" + n
	case 2:
		return "2/" + n
	case 3:
		return "3/" + n[:1] + "/" + n
	}
	return n[:2] + "/" + n[2:4] + "/" + n
}

// Fetch implements Client.
func (cr *CratesIndex) Fetch(ctx context.Context, r Request) (*Info, error) {
	c := cr.HTTP
	if c == nil {
		c = http.DefaultClient
	}
	idx, api := cr.Index, cr.API
	if idx == "" {
		idx = DefaultCratesIndex
	}
	if api == "" {
		api = DefaultCratesAPI
	}
	e, err := newEndpoint(idx)
	if err != nil {
		return nil, err
	}
	if r.Name == "" || strings.ContainsAny(r.Name, "/.\\ ") {
		return nil, fmt.Errorf("crate %q: not a crate name", r.Name)
	}
	body, _, err := get(ctx, c, e, e.Base+"/"+cratesIndexPath(r.Name), "")
	if err != nil {
		return nil, err
	}
	info := &Info{Ecosystem: Crates, Name: r.Name, Source: e.Base, FetchedAt: time.Now().UTC()}
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for sc.Scan() {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var v struct {
			Vers   string `json:"vers"`
			Yanked bool   `json:"yanked"`
		}
		if err := json.Unmarshal(line, &v); err != nil {
			return nil, fmt.Errorf("crate %s: index line: %w", r.Name, err)
		}
		info.Releases = append(info.Releases, Release{Version: v.Vers, Yanked: v.Yanked, Prerelease: strings.Contains(v.Vers, "-")})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("crate %s: index: %w", r.Name, err)
	}
	// Dates, when the web API answers.
	if ae, err := newEndpoint(api); err == nil {
		if b, _, err := get(ctx, c, ae, ae.Base+"/api/v1/crates/"+pathEscape(r.Name)+"/versions", "application/json"); err == nil {
			var d struct {
				Versions []struct {
					Num       string    `json:"num"`
					CreatedAt time.Time `json:"created_at"`
				} `json:"versions"`
			}
			if json.Unmarshal(b, &d) == nil {
				for _, v := range d.Versions {
					if rel := info.Release(v.Num); rel != nil {
						rel.Time = v.CreatedAt.UTC()
					}
				}
			}
		}
	}
	return info, nil
}
