package upstream

import (
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// DefaultMaven is Maven Central.
const DefaultMaven = "https://repo.maven.apache.org/maven2"

// MavenRepo reads a Maven 2 repository layout
// (maven.apache.org/repositories/metadata.html): GET
// $base/$group/$artifact/maven-metadata.xml lists the versions and names
// latest and release. The publication date of the versions that matter is
// the Last-Modified of their POM (HEAD $base/…/$version/$artifact-$version.pom),
// which Maven Central and repository managers set to the upload time.
// Mirrors and their credentials come from settings.xml (see LoadConfig).
// Package names are "group:artifact".
type MavenRepo struct {
	Base string
	// User and Password authenticate against Base (settings.xml servers).
	User, Password string
	HTTP           httpDoer
}

type mavenMetadata struct {
	Versioning struct {
		Latest      string   `xml:"latest"`
		Release     string   `xml:"release"`
		Versions    []string `xml:"versions>version"`
		LastUpdated string   `xml:"lastUpdated"`
	} `xml:"versioning"`
}

// Fetch implements Client.
func (m *MavenRepo) Fetch(ctx context.Context, r Request) (*Info, error) {
	c := m.HTTP
	if c == nil {
		c = http.DefaultClient
	}
	base := m.Base
	if base == "" {
		base = DefaultMaven
	}
	e, err := newEndpoint(base)
	if err != nil {
		return nil, err
	}
	if m.User != "" || m.Password != "" {
		e.User, e.Password = m.User, m.Password
	}
	group, artifact, ok := strings.Cut(r.Name, ":")
	if !ok || group == "" || artifact == "" || strings.Contains(artifact, "/") || strings.Contains(group, "/") || strings.Contains(group, "..") {
		return nil, fmt.Errorf("maven %q: want group:artifact", r.Name)
	}
	dir := e.Base + "/" + strings.ReplaceAll(group, ".", "/") + "/" + pathEscape(artifact)
	body, _, err := get(ctx, c, e, dir+"/maven-metadata.xml", "application/xml")
	if err != nil {
		return nil, err
	}
	var md mavenMetadata
	if err := xml.Unmarshal(body, &md); err != nil {
		return nil, fmt.Errorf("maven %s: maven-metadata.xml: %w", r.Name, err)
	}
	info := &Info{Ecosystem: Maven, Name: r.Name, Source: e.Base, FetchedAt: time.Now().UTC(), Latest: md.Versioning.Release}
	for _, v := range md.Versioning.Versions {
		v = strings.TrimSpace(v)
		if v == "" || info.Release(v) != nil {
			continue
		}
		info.Releases = append(info.Releases, Release{Version: v, Prerelease: isPrerelease(Maven, v)})
	}
	want := map[string]bool{}
	for _, v := range r.Versions {
		want[v] = true
		if l := LatestInMajor(info, v); l != "" {
			want[l] = true
		}
	}
	if l := LatestOverall(info); l != "" {
		want[l] = true
	}
	for v := range want {
		rel := info.Release(v)
		if rel == nil {
			continue
		}
		t, err := head(ctx, c, e, dir+"/"+pathEscape(v)+"/"+pathEscape(artifact)+"-"+pathEscape(v)+".pom")
		if err == nil {
			rel.Time = t
		}
	}
	return info, nil
}
