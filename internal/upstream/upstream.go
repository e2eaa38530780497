// Package upstream asks language package registries what they know about
// a package: its versions with their release dates, the latest one, and
// whether a version is yanked or the package deprecated. One file per
// registry protocol: the Go module proxy, npm, PyPI's JSON API, Maven
// repositories (maven-metadata.xml), RubyGems, crates.io's sparse index,
// NuGet (flat container and registration) and Packagist. Private
// registries and their credentials come from the usual configuration files
// (see LoadConfig); credentials never appear in errors or logs.
//
// What is fetched is kept in a Store beside the vulnerability database, so
// that scans judge freshness (P4) offline.
package upstream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shipshape-dev/shipshape/internal/redact"
)

// Ecosystems, named as OSV names them (and as the inventory does).
const (
	Go        = "Go"
	Npm       = "npm"
	PyPI      = "PyPI"
	Maven     = "Maven"
	RubyGems  = "RubyGems"
	Crates    = "crates.io"
	NuGet     = "NuGet"
	Packagist = "Packagist"
)

// Ecosystems lists every ecosystem this package has a client for.
var Ecosystems = []string{Go, Npm, PyPI, Maven, RubyGems, Crates, NuGet, Packagist}

// Release is one published version.
type Release struct {
	Version string `json:"version"`
	// Time is when the version was published; zero when the registry did
	// not say (or it was not asked: the Go proxy is asked for the dates of
	// the versions that matter only).
	Time time.Time `json:"time,omitzero"`
	// Yanked: the registry withdrew the version (PyPI, crates.io, NuGet
	// unlisted, RubyGems versions no longer listed).
	Yanked       bool   `json:"yanked,omitempty"`
	YankedReason string `json:"yankedReason,omitempty"`
	// YankedInferred: the registry does not say so, the version is just
	// missing from its list (RubyGems; also a gem built from a git source).
	YankedInferred bool `json:"yankedInferred,omitempty"`
	// Deprecated is the registry's deprecation message for this version
	// (npm, NuGet); empty when not deprecated.
	Deprecated string `json:"deprecated,omitempty"`
	// Prerelease versions are never "latest".
	Prerelease bool `json:"prerelease,omitempty"`
}

// Info is what a registry says about one package.
type Info struct {
	Ecosystem string `json:"ecosystem"`
	Name      string `json:"name"`
	// Releases in the registry's order (not necessarily sorted).
	Releases []Release `json:"releases"`
	// Latest is the version the registry calls latest (npm's dist-tags,
	// PyPI's info.version, Maven's release, the Go proxy's @latest);
	// empty when it does not say.
	Latest string `json:"latest,omitempty"`
	// Deprecated is a deprecation of the whole package (Packagist
	// abandoned, NuGet deprecation of every version, PyPI project status).
	Deprecated string `json:"deprecated,omitempty"`
	// Source is the registry base URL asked (without credentials).
	Source    string    `json:"source"`
	FetchedAt time.Time `json:"fetchedAt"`
	// Skipped, when set, says why the registry was not asked (a private
	// Go module under GOPRIVATE, GOPROXY=off); the package then has no data.
	Skipped string `json:"skipped,omitempty"`
	// NotFound: the registry does not have the package.
	NotFound bool `json:"notFound,omitempty"`
	// Requested are the installed versions asked about so far (by every
	// image db update --for saw): a refresh asks about them again.
	Requested []string `json:"requested,omitempty"`
}

// Release returns the release of version v, or nil.
func (in *Info) Release(v string) *Release {
	for i := range in.Releases {
		if in.Releases[i].Version == v {
			return &in.Releases[i]
		}
	}
	return nil
}

// Request asks for one package; Versions are the installed versions whose
// release dates matter (registries that need one request per version, such
// as the Go proxy, fetch only those and the latest ones).
type Request struct {
	Name     string
	Versions []string
}

// Client fetches package information from one registry.
type Client interface {
	// Fetch returns what the registry knows about the package.
	Fetch(ctx context.Context, r Request) (*Info, error)
}

// ErrNotFound is returned (wrapped) when the registry has no such package.
var ErrNotFound = errors.New("not found")

// MaxBody bounds every registry response (npm packuments of very old and
// busy packages reach tens of megabytes).
const MaxBody = 128 << 20

// httpDoer is what clients send requests with.
type httpDoer interface {
	Do(*http.Request) (*http.Response, error)
}

// endpoint is a registry base URL with its credentials.
type endpoint struct {
	// Base is the URL without a trailing slash and without user info.
	Base string
	// Token is sent as "Authorization: Bearer"; User/Password as basic
	// authentication.
	Token          string
	User, Password string
}

// newEndpoint splits credentials out of a URL's user info.
func newEndpoint(raw string) (endpoint, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return endpoint{}, fmt.Errorf("registry URL %q: %w", redact.URL(raw), err)
	}
	if u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "file" {
		return endpoint{}, fmt.Errorf("registry URL %q: want http or https", redact.URL(raw))
	}
	e := endpoint{}
	if u.User != nil {
		e.User = u.User.Username()
		e.Password, _ = u.User.Password()
		u.User = nil
	}
	e.Base = strings.TrimRight(u.String(), "/")
	return e, nil
}

// get fetches url (relative to nothing: a full URL) with the endpoint's
// credentials and returns the body; a 404 or 410 is ErrNotFound.
func get(ctx context.Context, c httpDoer, e endpoint, rawURL, accept string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", redact.URL(rawURL), err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	req.Header.Set("User-Agent", "shipshape (container image auditor)")
	switch {
	case e.Token != "":
		req.Header.Set("Authorization", "Bearer "+e.Token)
	case e.User != "" || e.Password != "":
		req.SetBasicAuth(e.User, e.Password)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", redact.URL(rawURL), scrubError(err, e))
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
		return nil, nil, fmt.Errorf("GET %s: %s: %w", redact.URL(rawURL), resp.Status, ErrNotFound)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("GET %s: %s", redact.URL(rawURL), resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody+1))
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", redact.URL(rawURL), err)
	}
	if len(b) > MaxBody {
		return nil, nil, fmt.Errorf("GET %s: response larger than %d MiB", redact.URL(rawURL), MaxBody>>20)
	}
	return b, resp.Header, nil
}

// head returns the Last-Modified time of url (zero when absent).
func head(ctx context.Context, c httpDoer, e endpoint, rawURL string) (time.Time, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, rawURL, nil)
	if err != nil {
		return time.Time{}, err
	}
	if e.Token != "" {
		req.Header.Set("Authorization", "Bearer "+e.Token)
	} else if e.User != "" || e.Password != "" {
		req.SetBasicAuth(e.User, e.Password)
	}
	resp, err := c.Do(req)
	if err != nil {
		return time.Time{}, fmt.Errorf("HEAD %s: %w", redact.URL(rawURL), scrubError(err, e))
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return time.Time{}, fmt.Errorf("HEAD %s: %s", redact.URL(rawURL), resp.Status)
	}
	t, err := http.ParseTime(resp.Header.Get("Last-Modified"))
	if err != nil {
		return time.Time{}, nil
	}
	return t.UTC(), nil
}

// scrubError removes the endpoint's secrets from an error's text.
func scrubError(err error, e endpoint) error {
	s := err.Error()
	out := s
	for _, secret := range []string{e.Token, e.Password} {
		if len(secret) >= 4 {
			out = strings.ReplaceAll(out, secret, "<redacted>")
		}
	}
	if out == s {
		return err
	}
	return errors.New(out)
}

// pathEscape escapes one path segment.
func pathEscape(s string) string { return url.PathEscape(s) }
