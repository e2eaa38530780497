package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// DefaultRubyGems is rubygems.org.
const DefaultRubyGems = "https://rubygems.org"

// RubyGemsAPI reads GET $base/api/v1/versions/$name.json
// (guides.rubygems.org/rubygems-org-api/#gem-version-methods): every
// version with created_at and prerelease. Yanked versions disappear from
// that list, so an installed version it lacks is reported as yanked.
type RubyGemsAPI struct {
	Base string
	HTTP httpDoer
}

// Fetch implements Client.
func (g *RubyGemsAPI) Fetch(ctx context.Context, r Request) (*Info, error) {
	c := g.HTTP
	if c == nil {
		c = http.DefaultClient
	}
	base := g.Base
	if base == "" {
		base = DefaultRubyGems
	}
	e, err := newEndpoint(base)
	if err != nil {
		return nil, err
	}
	body, _, err := get(ctx, c, e, e.Base+"/api/v1/versions/"+pathEscape(r.Name)+".json", "application/json")
	if err != nil {
		return nil, err
	}
	var vs []struct {
		Number     string    `json:"number"`
		CreatedAt  time.Time `json:"created_at"`
		Prerelease bool      `json:"prerelease"`
		Platform   string    `json:"platform"`
	}
	if err := json.Unmarshal(body, &vs); err != nil {
		return nil, fmt.Errorf("rubygems %s: %w", r.Name, err)
	}
	info := &Info{Ecosystem: RubyGems, Name: r.Name, Source: e.Base, FetchedAt: time.Now().UTC()}
	for _, v := range vs {
		if rel := info.Release(v.Number); rel != nil {
			// One entry per platform: keep the earliest date.
			if v.CreatedAt.Before(rel.Time) {
				rel.Time = v.CreatedAt.UTC()
			}
			continue
		}
		info.Releases = append(info.Releases, Release{Version: v.Number, Time: v.CreatedAt.UTC(), Prerelease: v.Prerelease})
	}
	if len(info.Releases) > 0 {
		for _, v := range r.Versions {
			if info.Release(v) == nil {
				info.Releases = append(info.Releases, Release{Version: v, Yanked: true, YankedInferred: true,
					YankedReason: "not in rubygems.org's version list (yanked versions are removed from it)"})
			}
		}
	}
	return info, nil
}
