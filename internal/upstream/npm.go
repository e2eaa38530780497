package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// DefaultNpmRegistry is the public npm registry.
const DefaultNpmRegistry = "https://registry.npmjs.org"

// NpmRegistry reads npm registry package documents ("packuments",
// github.com/npm/registry/blob/main/docs/REGISTRY-API.md): GET
// $registry/$name (scoped names as @scope%2fname) gives every version with
// its "deprecated" message, "time" (publication dates) and "dist-tags".
// Scoped registries and tokens come from .npmrc (see LoadConfig).
type NpmRegistry struct {
	// Registry is the default registry; Scopes maps "@scope" to its own.
	Registry string
	Scopes   map[string]string
	// Tokens maps "//host/path/" (the .npmrc key form) to an _authToken.
	Tokens map[string]string
	HTTP   httpDoer
}

type packument struct {
	Name     string            `json:"name"`
	DistTags map[string]string `json:"dist-tags"`
	Versions map[string]struct {
		Version    string          `json:"version"`
		Deprecated json.RawMessage `json:"deprecated"`
	} `json:"versions"`
	Time map[string]string `json:"time"`
}

func (n *NpmRegistry) registryFor(name string) string {
	if strings.HasPrefix(name, "@") {
		if scope, _, ok := strings.Cut(name, "/"); ok {
			if r, ok := n.Scopes[scope]; ok && r != "" {
				return r
			}
		}
	}
	if n.Registry != "" {
		return n.Registry
	}
	return DefaultNpmRegistry
}

// tokenFor finds the .npmrc token whose "//host/path/" key is the longest
// prefix of the registry URL.
func (n *NpmRegistry) tokenFor(reg string) string {
	nerf := reg
	if i := strings.Index(nerf, "://"); i >= 0 {
		nerf = nerf[i+1:]
	}
	if !strings.HasSuffix(nerf, "/") {
		nerf += "/"
	}
	best, tok := "", ""
	for k, v := range n.Tokens {
		if strings.HasPrefix(nerf, k) && len(k) > len(best) {
			best, tok = k, v
		}
	}
	return tok
}

// Fetch implements Client.
func (n *NpmRegistry) Fetch(ctx context.Context, r Request) (*Info, error) {
	c := n.HTTP
	if c == nil {
		c = http.DefaultClient
	}
	reg := n.registryFor(r.Name)
	e, err := newEndpoint(reg)
	if err != nil {
		return nil, err
	}
	e.Token = n.tokenFor(reg)
	// Scoped names keep their "@" and escape the slash.
	path := strings.Replace(pathEscape(r.Name), "%40", "@", 1)
	body, _, err := get(ctx, c, e, e.Base+"/"+path, "application/json")
	if err != nil {
		return nil, err
	}
	var p packument
	if err := json.Unmarshal(body, &p); err != nil {
		return nil, fmt.Errorf("npm %s: packument: %w", r.Name, err)
	}
	info := &Info{Ecosystem: Npm, Name: r.Name, Source: e.Base, FetchedAt: time.Now().UTC(), Latest: p.DistTags["latest"]}
	for v, meta := range p.Versions {
		rel := Release{Version: v, Prerelease: strings.Contains(v, "-")}
		// "deprecated" is a message; false or "" means not deprecated.
		var msg string
		if json.Unmarshal(meta.Deprecated, &msg) == nil {
			rel.Deprecated = msg
		}
		if t, err := time.Parse(time.RFC3339, p.Time[v]); err == nil {
			rel.Time = t.UTC()
		}
		info.Releases = append(info.Releases, rel)
	}
	// The package counts as deprecated when its latest version is.
	if rel := info.Release(info.Latest); rel != nil && rel.Deprecated != "" {
		info.Deprecated = rel.Deprecated
	}
	return info, nil
}
