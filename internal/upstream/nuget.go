package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Default nuget.org endpoints (from its service index,
// https://api.nuget.org/v3/index.json).
const (
	DefaultNuGetFlat         = "https://api.nuget.org/v3-flatcontainer"
	DefaultNuGetRegistration = "https://api.nuget.org/v3/registration5-gz-semver2"
)

// NuGetFeed reads the flat container (learn.microsoft.com/nuget/api/package-base-address-resource):
// GET $flat/$id/index.json lists the versions; and the registration
// (learn.microsoft.com/nuget/api/registration-base-url-resource): GET
// $reg/$id/index.json, pages inline or at their @id, whose catalogEntry
// carries published, listed and deprecation. Unlisted versions count as
// yanked.
type NuGetFeed struct {
	Flat, Registration string
	HTTP               httpDoer
}

type nugetPage struct {
	ID    string `json:"@id"`
	Items []struct {
		CatalogEntry struct {
			Version     string    `json:"version"`
			Published   time.Time `json:"published"`
			Listed      *bool     `json:"listed"`
			Deprecation *struct {
				Reasons []string `json:"reasons"`
				Message string   `json:"message"`
			} `json:"deprecation"`
		} `json:"catalogEntry"`
	} `json:"items"`
}

// Fetch implements Client.
func (n *NuGetFeed) Fetch(ctx context.Context, r Request) (*Info, error) {
	c := n.HTTP
	if c == nil {
		c = http.DefaultClient
	}
	flat, reg := n.Flat, n.Registration
	if flat == "" {
		flat = DefaultNuGetFlat
	}
	if reg == "" {
		reg = DefaultNuGetRegistration
	}
	fe, err := newEndpoint(flat)
	if err != nil {
		return nil, err
	}
	id := strings.ToLower(r.Name)
	body, _, err := get(ctx, c, fe, fe.Base+"/"+pathEscape(id)+"/index.json", "application/json")
	if err != nil {
		return nil, err
	}
	var idx struct {
		Versions []string `json:"versions"`
	}
	if err := json.Unmarshal(body, &idx); err != nil {
		return nil, fmt.Errorf("nuget %s: index.json: %w", r.Name, err)
	}
	info := &Info{Ecosystem: NuGet, Name: r.Name, Source: fe.Base, FetchedAt: time.Now().UTC()}
	for _, v := range idx.Versions {
		info.Releases = append(info.Releases, Release{Version: v, Prerelease: strings.Contains(v, "-")})
	}
	re, err := newEndpoint(reg)
	if err != nil {
		return info, nil
	}
	b, _, err := get(ctx, c, re, re.Base+"/"+pathEscape(id)+"/index.json", "application/json")
	if err != nil {
		// Dates and deprecation are extras: the versions stand.
		return info, nil
	}
	var root struct {
		Items []nugetPage `json:"items"`
	}
	if err := json.Unmarshal(b, &root); err != nil {
		return nil, fmt.Errorf("nuget %s: registration: %w", r.Name, err)
	}
	deprecatedAll := len(info.Releases) > 0
	for _, page := range root.Items {
		if len(page.Items) == 0 && page.ID != "" && strings.HasPrefix(page.ID, re.Base) {
			pb, _, err := get(ctx, c, re, page.ID, "application/json")
			if err != nil {
				return nil, err
			}
			if err := json.Unmarshal(pb, &page); err != nil {
				return nil, fmt.Errorf("nuget %s: registration page: %w", r.Name, err)
			}
		}
		for _, it := range page.Items {
			ce := it.CatalogEntry
			rel := info.Release(ce.Version)
			if rel == nil {
				// The flat container lowercases and normalises versions.
				for i := range info.Releases {
					if strings.EqualFold(info.Releases[i].Version, ce.Version) {
						rel = &info.Releases[i]
					}
				}
			}
			if rel == nil {
				continue
			}
			// Unlisted packages are published "1900-01-01".
			if ce.Published.Year() > 1900 {
				rel.Time = ce.Published.UTC()
			}
			if ce.Listed != nil && !*ce.Listed {
				rel.Yanked, rel.YankedReason = true, "unlisted"
			}
			if d := ce.Deprecation; d != nil {
				rel.Deprecated = strings.Join(d.Reasons, ", ")
				if d.Message != "" {
					rel.Deprecated += ": " + d.Message
				}
			}
		}
	}
	for _, rel := range info.Releases {
		if rel.Deprecated == "" {
			deprecatedAll = false
		}
	}
	if deprecatedAll {
		info.Deprecated = info.Releases[len(info.Releases)-1].Deprecated
	}
	return info, nil
}
