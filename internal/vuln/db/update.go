package db

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/shipshape-dev/shipshape/internal/redact"
	"github.com/shipshape-dev/shipshape/internal/vuln/osv"
)

// DefaultRepository is where OSV publishes its per-ecosystem exports.
const DefaultRepository = "https://osv-vulnerabilities.storage.googleapis.com"

// DefaultEcosystems are the exports `db update` fetches by default.
var DefaultEcosystems = []string{
	"Alpine", "Debian", "Ubuntu", "Go", "npm", "PyPI", "Maven", "RubyGems", "crates.io", "Packagist", "NuGet",
}

// MaxDownloadBytes caps one export's download (the largest OSV exports
// are a few hundred MiB).
const MaxDownloadBytes = 4 << 30

// Updater downloads ecosystem exports into a database directory.
type Updater struct {
	Dir string
	// Repository is the base URL (http, https, file) or a local directory
	// holding ECOSYSTEM/all.zip. Empty: DefaultRepository.
	Repository string
	Client     *http.Client
	// Progress, when set, is told how many bytes of an export arrived
	// (total -1 when unknown).
	Progress func(eco string, read, total int64)
	// KEVURL and EPSSURL are where the CISA KEV catalog and the EPSS
	// scores are fetched from (http, https, file:// or a local path).
	// Empty: DefaultKEVURL and DefaultEPSSURL when Repository is the
	// default OSV repository, else not fetched. "-" never fetches.
	KEVURL, EPSSURL string

	aliases map[string]*osv.Record // kept by the ecosystems' imports
}

// riskSources returns the KEV and EPSS sources an update fetches.
func (u *Updater) riskSources() (kev, epss string) {
	kev, epss = u.KEVURL, u.EPSSURL
	if u.Repository == "" || u.Repository == DefaultRepository {
		if kev == "" {
			kev = DefaultKEVURL
		}
		if epss == "" {
			epss = DefaultEPSSURL
		}
	}
	if kev == "-" {
		kev = ""
	}
	if epss == "-" {
		epss = ""
	}
	return kev, epss
}

// updateRisk fetches the KEV catalog and EPSS scores and replaces the
// database's copies; a failure keeps the old copy.
func (u *Updater) updateRisk(ctx context.Context) ([]Result, error) {
	kev, epss := u.riskSources()
	var out []Result
	var errs []error
	for _, src := range []struct{ name, url string }{{"CISA KEV", kev}, {"EPSS", epss}} {
		if src.url == "" {
			continue
		}
		r, err := u.fetchRisk(ctx, src.name, src.url)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", src.name, err))
			continue
		}
		out = append(out, r)
	}
	return out, errors.Join(errs...)
}

func (u *Updater) fetchRisk(ctx context.Context, name, src string) (Result, error) {
	res := Result{Ecosystem: name, Source: redact.URL(src)}
	path := src
	if strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://") {
		tmp, _, _, err := u.download(ctx, name, src, nil)
		if err != nil {
			return res, err
		}
		defer os.Remove(tmp)
		path = tmp
	} else {
		path = strings.TrimPrefix(path, "file://")
	}
	f, err := os.Open(path)
	if err != nil {
		return res, err
	}
	defer f.Close()
	im := NewImporter(u.Dir)
	if name == "EPSS" {
		err = im.AddEPSS(f, res.Source)
	} else {
		err = im.AddKEV(f, res.Source)
	}
	if err != nil {
		return res, err
	}
	metas, err := im.Commit(nil)
	if err != nil {
		return res, err
	}
	for _, m := range metas {
		res.Records += m.Records
	}
	res.Status = "updated"
	return res, nil
}

// Result is the outcome of one ecosystem's update.
type Result struct {
	Ecosystem string `json:"ecosystem"`
	// Status is "updated" or "unchanged" (the server said 304, or the
	// mirror's file has the content imported last time).
	Status  string `json:"status"`
	Records int    `json:"records"`
	Source  string `json:"source"`
	// Skipped counts the records of the export that were not imported,
	// by reason (withdrawn, …).
	Skipped map[string]int `json:"skipped,omitempty"`
}

// Update fetches each ecosystem. A failure leaves that ecosystem's old
// file in place and does not stop the others; the errors are joined.
func (u *Updater) Update(ctx context.Context, ecosystems []string) ([]Result, error) {
	removeStale(u.Dir, 24*time.Hour)
	var out []Result
	var errs []error
	for _, eco := range ecosystems {
		r, err := u.updateOne(ctx, eco)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", eco, err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		out = append(out, r)
	}
	if len(u.aliases) > 0 {
		w := riskWrite{aliases: u.aliases}
		if _, err := w.commit(u.Dir); err != nil {
			errs = append(errs, fmt.Errorf("alias records: %w", err))
		}
		u.aliases = nil
	}
	if ctx.Err() == nil {
		rs, err := u.updateRisk(ctx)
		out = append(out, rs...)
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

func (u *Updater) source(eco string) (string, bool) {
	repo := u.Repository
	if repo == "" {
		repo = DefaultRepository
	}
	if strings.HasPrefix(repo, "file://") {
		return filepath.Join(strings.TrimPrefix(repo, "file://"), eco, "all.zip"), true
	}
	if !strings.Contains(repo, "://") {
		return filepath.Join(repo, eco, "all.zip"), true
	}
	return strings.TrimSuffix(repo, "/") + "/" + url.PathEscape(eco) + "/all.zip", false
}

func (u *Updater) updateOne(ctx context.Context, eco string) (Result, error) {
	src, local := u.source(eco)
	// What is printed and kept of the source hides its credentials (a
	// mirror's URL may carry them).
	res := Result{Ecosystem: eco, Source: redact.URL(src)}
	old, err := ReadMeta(u.Dir, eco)
	if err != nil || (old != nil && old.Schema != SchemaVersion) {
		old = nil // unreadable or of another layout: replace it, unconditionally
	}
	zipPath := src
	meta := Meta{Source: res.Source, UpdatedAt: time.Now().UTC()}
	if local {
		// A mirror directory has no HTTP validators: the content's digest
		// is the validator.
		sum, err := fileDigest(ctx, src)
		if err != nil {
			return res, err
		}
		if old != nil && old.Source == res.Source && old.ETag == sum && old.Schema == SchemaVersion {
			res.Status = "unchanged"
			res.Records = old.Records
			return res, nil
		}
		meta.ETag = sum
	} else {
		tmp, m, unchanged, err := u.download(ctx, eco, src, old)
		if err != nil {
			return res, err
		}
		if unchanged {
			res.Status = "unchanged"
			res.Records = old.Records
			return res, nil
		}
		defer os.Remove(tmp)
		zipPath, meta.ETag, meta.LastModified = tmp, m.ETag, m.LastModified
	}
	im := NewImporter(u.Dir)
	im.Only = map[string]bool{eco: true}
	if err := im.AddZip(ctx, zipPath); err != nil {
		im.Abort()
		return res, err
	}
	if len(im.builders) == 0 {
		// An export without records: keep an empty file so that status
		// and matching know the ecosystem was fetched.
		b, err := newBuilder(u.Dir, eco)
		if err != nil {
			return res, err
		}
		im.builders[eco] = b
	}
	// The alias records go into the risk file once, after every
	// ecosystem (each commit would copy the file).
	for id, r := range im.risk.aliases {
		if u.aliases == nil {
			u.aliases = map[string]*osv.Record{}
		}
		u.aliases[id] = r
	}
	im.risk.aliases = nil
	metas, err := im.Commit(func(string) Meta { return meta })
	if err != nil {
		return res, err
	}
	res.Status = "updated"
	res.Skipped = im.SkipCounts
	for _, m := range metas {
		if m.Ecosystem == eco {
			res.Records += m.Records
		}
	}
	return res, nil
}

// fileDigest is the sha256 of the file at p, read with cancellation.
func fileDigest(ctx context.Context, p string) (string, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	buf := make([]byte, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return "", err
		}
		n, err := f.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("%s: %w", p, err)
		}
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// download fetches src into a temporary file in the database dir,
// conditionally on old's validators.
func (u *Updater) download(ctx context.Context, eco, src string, old *Meta) (string, Meta, bool, error) {
	client := u.Client
	if client == nil {
		client = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return "", Meta{}, false, err
	}
	if old != nil && old.Source == redact.URL(src) {
		if old.ETag != "" {
			req.Header.Set("If-None-Match", old.ETag)
		}
		if old.LastModified != "" {
			req.Header.Set("If-Modified-Since", old.LastModified)
		}
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", Meta{}, false, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && old != nil:
		return "", Meta{}, true, nil
	case resp.StatusCode != http.StatusOK:
		return "", Meta{}, false, fmt.Errorf("GET %s: %s", redact.URL(src), resp.Status)
	}
	if err := os.MkdirAll(u.Dir, 0o755); err != nil {
		return "", Meta{}, false, err
	}
	f, err := os.CreateTemp(u.Dir, "download-*.zip.tmp")
	if err != nil {
		return "", Meta{}, false, err
	}
	var body io.Reader = io.LimitReader(resp.Body, MaxDownloadBytes+1)
	if u.Progress != nil {
		body = &progressReader{r: body, fn: func(n int64) { u.Progress(eco, n, resp.ContentLength) }}
	}
	n, err := io.Copy(f, body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > MaxDownloadBytes {
		err = fmt.Errorf("larger than %d bytes", int64(MaxDownloadBytes))
	}
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("download truncated: %d of %d bytes", n, resp.ContentLength)
	}
	if err != nil {
		os.Remove(f.Name())
		return "", Meta{}, false, fmt.Errorf("GET %s: %w", redact.URL(src), err)
	}
	return f.Name(), Meta{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}, false, nil
}

type progressReader struct {
	r  io.Reader
	n  int64
	fn func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	p.fn(p.n)
	return n, err
}

// removeStale deletes temporary files an interrupted update left behind
// (another update may be writing newer ones: only old files go).
func removeStale(dir string, age time.Duration) {
	tmps, _ := filepath.Glob(filepath.Join(dir, "*.tmp"))
	for _, p := range tmps {
		if info, err := os.Stat(p); err == nil && time.Since(info.ModTime()) > age {
			os.Remove(p)
		}
	}
}
