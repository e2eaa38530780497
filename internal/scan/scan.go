// Package scan is shipshape's scan pipeline as a library: a Scanner opens
// an image, runs the analyzers over it in one pass, maps findings to the
// Dockerfile, applies the policy and the ignore files, and returns the
// report. The command line, "fix", "slim"'s before/after comparison and a
// server are all callers of it; nothing above it re-implements the
// pipeline.
//
// A Scanner is safe for concurrent use: everything one scan needs beyond
// the Scanner's read-only options (the opened image, its temporary files,
// the analyzers and their state) lives in the call.
package scan

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/cache"
	"github.com/shipshape-dev/shipshape/internal/compress"
	"github.com/shipshape-dev/shipshape/internal/dockerfile"
	"github.com/shipshape-dev/shipshape/internal/ignore"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/redact"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/vuln"
	"github.com/shipshape-dev/shipshape/internal/vuln/db"
	"github.com/shipshape-dev/shipshape/internal/walk"
)

// Options configure a Scanner. The zero value scans with every analyzer,
// the default limits, the user cache directory and no policy.
type Options struct {
	// Platform selects from a multi-platform image ("linux/arm64").
	Platform string
	// Insecure allows plain-HTTP and unverified-TLS registries.
	Insecure bool
	// Keychain resolves registry credentials (nil: the Docker config).
	// A server sets it per scan with WithKeychain.
	Keychain authn.Keychain
	// Offline refuses references that need the network and runs no
	// analyzer that needs it.
	Offline bool
	// CacheDir holds the layer cache, temporary files and slim records;
	// empty means the user cache directory.
	CacheDir string
	// NoCache neither reads nor writes cached layer results (temporary
	// files still go under CacheDir).
	NoCache bool
	// Parallel is the number of layers walked at once (0: the CPUs).
	Parallel int
	// Limits bound each layer against hostile archives (zero: defaults).
	Limits walk.Limits
	// GzipHelper inflates big gzip layers and gzip archive files in a
	// process of its own:
	// compress.HelperAuto (igzip, when on PATH), a program's path, or
	// empty or compress.HelperNone to inflate in process.
	GzipHelper string
	// MaxArchiveBytes bounds decompressed archives and daemon exports.
	MaxArchiveBytes int64
	// Skip names paths no analyzer sees (--skip-path).
	Skip func(path string) bool

	// Analyzers names the analyzers to run (see All); nil runs all.
	Analyzers []string
	// ShowSecrets keeps secret values whole in the report.
	ShowSecrets bool
	// SecretMaxBinaryBytes is the largest binary file searched for
	// secrets (0: the default; -1: no limit).
	SecretMaxBinaryBytes int64
	// DBDir is the vulnerability database; empty means the default.
	DBDir string
	// IgnoreUnfixed drops vulnerabilities without a fixed version.
	IgnoreUnfixed bool
	// VEX statements suppress vulnerabilities.
	VEX *vuln.VEX
	// VulnFailAt is the lowest severity of a fixable vulnerability that
	// fails P5 (zero: high).
	VulnFailAt scorecard.Severity
	// SARIF are SAST reports (SARIF 2.1.0 files) imported into P7.
	SARIF []string
	// SourceDirs are build contexts whose Go modules gosec analyses in
	// process for P7.
	SourceDirs []string
	// VulnPriority, when set, makes P5 fail only on vulnerabilities of
	// this priority tier or a more urgent one (vuln.Priorities).
	VulnPriority string
	// Freshness says where P4's registry data is and whether the scan may
	// fetch it.
	Freshness FreshnessOptions
	// Policy is the .shipshape.yaml policy (nil: the default policy).
	Policy *policy.Policy
	// Dockerfile, when set, is the file the image was built from:
	// findings point at its lines and its FROM names the base image.
	Dockerfile *dockerfile.File
	// Ignores are accepted findings (.shipshapeignore).
	Ignores []*ignore.File

	// Now is the scan's clock (nil: time.Now): end-of-life dates, expiring
	// ignores and the report's date are judged by it.
	Now func() time.Time
	// Logger receives the scan's logs (nil: discarded).
	Logger *slog.Logger
	// ToolVersion is written into reports.
	ToolVersion string
}

// Scanner scans images. It is safe for concurrent use.
type Scanner struct {
	opts  Options
	cache cache.Store
	// archives keeps compressed archives' indexes (image.Options
	// ArchiveCache): the directory cache, never a fleet's shared store,
	// since an index holds the image's config as it is, secrets and all —
	// as private as the scan's temporary files, and no more shared.
	archives cache.Store
	// tmpBase is where each scan makes its private temporary directory.
	tmpBase string
	// dbs is the vulnerability database, opened once and shared read-only
	// by every scan (ReloadDB swaps it); nil when P5 is not run.
	dbs *dbHandle
}

// New checks the options and opens what every scan shares: the layer
// cache and the vulnerability database.
func New(opts Options) (*Scanner, error) {
	if err := image.ParsePlatform(opts.Platform); err != nil {
		return nil, err
	}
	if opts.Parallel < 0 {
		return nil, fmt.Errorf("parallel %d: must be at least 0", opts.Parallel)
	}
	if opts.Limits == (walk.Limits{}) {
		opts.Limits = walk.DefaultLimits
	}
	if opts.Limits.MaxLayerBytes <= 0 || opts.Limits.MaxEntries <= 0 {
		return nil, errors.New("the layer size and entry limits must be positive")
	}
	helper, err := compress.LookHelper(opts.GzipHelper)
	if err != nil {
		return nil, err
	}
	opts.GzipHelper = helper
	if opts.MaxArchiveBytes == 0 {
		opts.MaxArchiveBytes = image.DefaultMaxArchiveBytes
	}
	if opts.MaxArchiveBytes < 0 {
		return nil, errors.New("the archive size limit must be positive")
	}
	if opts.Analyzers == nil {
		opts.Analyzers = All
	}
	for _, n := range opts.Analyzers {
		if !slices.Contains(known, n) {
			return nil, fmt.Errorf("unknown analyzer %q (want one of %v)", n, known)
		}
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.GzipHelper != "" {
		opts.Logger.Debug("gzip layers of at least the helper size go to the gzip helper", "helper", opts.GzipHelper, "bytes", compress.HelperMinBytes)
	} else {
		opts.Logger.Debug("gzip layers are inflated in process")
	}
	if opts.Policy == nil {
		opts.Policy = policy.Default()
	}
	if opts.VulnFailAt == "" {
		opts.VulnFailAt = scorecard.High
	}
	s := &Scanner{opts: opts}
	dir := opts.CacheDir
	if dir == "" {
		d, err := cache.DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	s.opts.CacheDir = dir
	s.tmpBase = filepath.Join(dir, "tmp")
	if !opts.NoCache {
		c, err := cache.Open(dir)
		if err != nil {
			return nil, err
		}
		s.cache, s.archives = c, c
	}
	if s.runs(Vulnerabilities) {
		r, err := s.openDB()
		if err != nil {
			return nil, err
		}
		s.dbs = &dbHandle{cur: r}
	}
	return s, nil
}

// openDB opens the vulnerability database; its absence is not an error
// (P5 then says it did not run, and why).
func (s *Scanner) openDB() (*dbRef, error) {
	dir := s.opts.DBDir
	if dir == "" {
		d, err := DefaultDBDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	d, err := db.Open(dir)
	switch {
	case errors.Is(err, db.ErrNoDatabase):
		s.opts.Logger.Debug("no vulnerability database", "dir", dir)
		return &dbRef{noDB: "no vulnerability database: run `shipshape db update` (or `shipshape db import FILE` offline; see --db-dir)"}, nil
	case err != nil:
		return nil, err
	}
	return &dbRef{db: d}, nil
}

// DefaultDBDir is the vulnerability database's default directory.
func DefaultDBDir() (string, error) {
	d, err := cache.DefaultDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "vulndb"), nil
}

// Close releases the vulnerability database.
func (s *Scanner) Close() error {
	return s.dbs.close()
}

// WithKeychain returns a Scanner that shares s's cache and vulnerability
// database but resolves registry credentials with kc: a server's
// per-request credentials reach only that request's scan. Close only s,
// never the returned Scanner.
func (s *Scanner) WithKeychain(kc authn.Keychain) *Scanner {
	c := *s
	c.opts.Keychain = kc
	return &c
}

// WithLayerCache returns a Scanner that shares s's vulnerability database
// but keeps layer results in c (a fleet's shared cache). Close only s.
func (s *Scanner) WithLayerCache(c cache.Store) *Scanner {
	n := *s
	n.cache = c
	return &n
}

// LayerCache is the store of layer results (nil with NoCache).
func (s *Scanner) LayerCache() cache.Store { return s.cache }

// CacheDir is the cache directory the scanner uses.
func (s *Scanner) CacheDir() string { return s.opts.CacheDir }

// Opened is an image opened for scanning, with its private temporary
// directory. Close releases both.
type Opened struct {
	Image *image.Image
	// TempDir is the scan's private temporary directory, removed by Close.
	TempDir string
}

// Close removes the image's temporary files.
func (o *Opened) Close() error {
	err := o.Image.Close()
	if rerr := os.RemoveAll(o.TempDir); err == nil {
		err = rerr
	}
	return err
}

// Open opens the image ref names, with temporary files (daemon exports,
// decompressed archives) in a private directory under the cache directory.
func (s *Scanner) Open(ctx context.Context, ref string) (*Opened, error) {
	r, err := image.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	if s.opts.Offline {
		switch {
		case r.Transport == image.Registry:
			return nil, fmt.Errorf("offline (--offline): %s is in a registry; use a local transport (docker-archive:, oci:, oci-archive:, docker-daemon:, dir:)", ref)
		case r.Transport == "":
			// A bare name is looked up in the local Engine only.
			r.Transport = image.Daemon
		}
	}
	if err := os.MkdirAll(s.tmpBase, 0o700); err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	tmp, err := os.MkdirTemp(s.tmpBase, "shipshape-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	s.opts.Logger.Debug("opening image", "ref", ref)
	img, err := image.OpenReference(ctx, r, image.Options{
		Platform:        s.opts.Platform,
		Insecure:        s.opts.Insecure,
		Keychain:        s.opts.Keychain,
		TempDir:         tmp,
		MaxArchiveBytes: s.opts.MaxArchiveBytes,
		GzipHelper:      s.opts.GzipHelper,
		ArchiveCache:    s.archives,
		Logger:          s.opts.Logger,
	})
	if err != nil {
		os.RemoveAll(tmp)
		return nil, err
	}
	img.Reference = ref
	return &Opened{Image: img, TempDir: tmp}, nil
}

// Observer follows one scan. Its methods are called from several
// goroutines at once.
type Observer interface {
	// Started is called once the image is open, before layers are read.
	Started(img *image.Image)
	// LayerRead is told how many more blob bytes of a layer were read.
	LayerRead(l *image.Layer, n int64)
	// LayerDone is called as each layer finishes.
	LayerDone(l *image.Layer, cached bool)
	// Finished is called when the layers are done or the scan failed.
	Finished()
}

// Scan opens the image ref names, scans it and returns the report.
func (s *Scanner) Scan(ctx context.Context, ref string, obs Observer) (*scorecard.Report, error) {
	o, err := s.Open(ctx, ref)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	return s.ScanImage(ctx, o, obs)
}

// ScanImage scans an opened image and returns the report: analyzers,
// Dockerfile mapping, policy, ignore files, scorecard.
func (s *Scanner) ScanImage(ctx context.Context, o *Opened, obs Observer) (*scorecard.Report, error) {
	dbr := s.dbs.acquire()
	defer s.dbs.release(dbr)
	analyzers, skipped, err := s.analyzers(o, dbr)
	if err != nil {
		return nil, err
	}
	aopts := analyze.Options{
		Parallel:   s.opts.Parallel,
		Cache:      s.cache,
		Logger:     s.opts.Logger,
		Skip:       s.opts.Skip,
		Limits:     s.opts.Limits,
		GzipHelper: s.opts.GzipHelper,
		TempDir:    o.TempDir,
	}
	if obs != nil {
		obs.Started(o.Image)
		aopts.Progress = obs.LayerRead
		aopts.LayerDone = obs.LayerDone
	}
	start := time.Now()
	res, err := analyze.Run(ctx, o.Image, analyzers, aopts)
	if obs != nil {
		obs.Finished()
	}
	if err != nil {
		return nil, err
	}
	s.opts.Logger.Debug("scan finished", "seconds", time.Since(start).Seconds(), "analyzers", analyze.Names(analyzers))
	res.Coverage = append(res.Coverage, skipped...)
	ownCodeReach(res)
	now := s.opts.Now()
	if s.opts.Dockerfile != nil {
		locate(s.opts.Dockerfile, o.Image, res.Findings)
	}
	var suppressed []scorecard.Suppressed
	var warns []string
	res.Findings, res.Coverage, suppressed, warns = s.opts.Policy.Apply(res.Findings, res.Coverage, now)
	res.Warnings = append(res.Warnings, warns...)
	for _, ig := range s.opts.Ignores {
		var sup []scorecard.Suppressed
		res.Findings, sup, warns = ig.Apply(res.Findings, now)
		suppressed = append(suppressed, sup...)
		res.Warnings = append(res.Warnings, warns...)
	}
	rep := buildReport(o.Image, res, s.opts.ToolVersion, now)
	rep.Suppressed = suppressed
	// The one place secret values are hidden: every string of the report
	// the analyzers' findings could carry, after all of them ran.
	if !s.opts.ShowSecrets {
		redact.New(res.Redact...).Report(rep)
	}
	return rep, nil
}
