package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// DefaultPyPI is the public Python package index's JSON API base.
const DefaultPyPI = "https://pypi.org"

// PyPIIndex reads the JSON API (docs.pypi.org/api/json/): GET
// $base/pypi/$name/json gives info.version (the latest) and, per release,
// its files with upload_time_iso_8601, yanked and yanked_reason. A release
// is yanked when all its files are. Indexes set in pip.conf (index-url)
// that end in /simple are asked at the same host without it (devpi,
// Artifactory, Nexus serve the same JSON API at $base/pypi/$name/json).
type PyPIIndex struct {
	// Base is the index root (credentials in the URL's user info).
	Base string
	HTTP httpDoer
}

type pypiDoc struct {
	Info struct {
		Name    string `json:"name"`
		Version string `json:"version"`
		// ProjectStatus is PEP 792's project status (archived, deprecated,
		// quarantined), when the index says.
		ProjectStatus *struct {
			Status string `json:"status"`
			Reason string `json:"reason"`
		} `json:"project_status"`
	} `json:"info"`
	Releases map[string][]struct {
		UploadTime   string          `json:"upload_time_iso_8601"`
		Yanked       bool            `json:"yanked"`
		YankedReason json.RawMessage `json:"yanked_reason"`
	} `json:"releases"`
}

var pep503 = regexp.MustCompile(`[-_.]+`)

// Fetch implements Client.
func (p *PyPIIndex) Fetch(ctx context.Context, r Request) (*Info, error) {
	c := p.HTTP
	if c == nil {
		c = http.DefaultClient
	}
	base := p.Base
	if base == "" {
		base = DefaultPyPI
	}
	e, err := newEndpoint(base)
	if err != nil {
		return nil, err
	}
	// index-url names the simple API; the JSON API is beside it.
	e.Base = strings.TrimSuffix(e.Base, "/simple")
	name := strings.ToLower(pep503.ReplaceAllString(r.Name, "-"))
	body, _, err := get(ctx, c, e, e.Base+"/pypi/"+pathEscape(name)+"/json", "application/json")
	if err != nil {
		return nil, err
	}
	var d pypiDoc
	if err := json.Unmarshal(body, &d); err != nil {
		return nil, fmt.Errorf("pypi %s: %w", r.Name, err)
	}
	info := &Info{Ecosystem: PyPI, Name: r.Name, Source: e.Base, FetchedAt: time.Now().UTC(), Latest: d.Info.Version}
	if s := d.Info.ProjectStatus; s != nil && (s.Status == "deprecated" || s.Status == "archived") {
		info.Deprecated = s.Status
		if s.Reason != "" {
			info.Deprecated += ": " + s.Reason
		}
	}
	for v, files := range d.Releases {
		rel := Release{Version: v, Prerelease: isPrerelease(PyPI, v)}
		yanked := len(files) > 0
		for _, f := range files {
			if t, err := time.Parse(time.RFC3339, f.UploadTime); err == nil && (rel.Time.IsZero() || t.Before(rel.Time)) {
				rel.Time = t.UTC()
			}
			if !f.Yanked {
				yanked = false
			} else if rel.YankedReason == "" {
				var reason string
				if json.Unmarshal(f.YankedReason, &reason) == nil {
					rel.YankedReason = reason
				}
			}
		}
		rel.Yanked = yanked
		if !yanked {
			rel.YankedReason = ""
		}
		info.Releases = append(info.Releases, rel)
	}
	return info, nil
}
