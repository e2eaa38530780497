package scan

import (
	"context"
	"fmt"
	"slices"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imagecfg"
	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/owncode"
	"github.com/shipshape-dev/shipshape/internal/pending"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/secret"
	"github.com/shipshape-dev/shipshape/internal/slim/record"
	"github.com/shipshape-dev/shipshape/internal/slim/usage"
	"github.com/shipshape-dev/shipshape/internal/trust"
	"github.com/shipshape-dev/shipshape/internal/vuln"
	"github.com/shipshape-dev/shipshape/internal/vuln/osv"
	"github.com/shipshape-dev/shipshape/internal/waste"
)

// Analyzer names for Options.Analyzers.
const (
	// Secrets finds build secrets (P1).
	Secrets = "secrets"
	// ConfigSecrets finds secrets in the config, history and annotations
	// only, reading no file: enough to hide them from any output.
	ConfigSecrets = "config-secrets"
	// Waste measures wasted space (P8).
	Waste = "waste"
	// SlimUsage reads the records of earlier slim runs (P8).
	SlimUsage = "slim-usage"
	// Inventory lists packages (P4) without matching vulnerabilities;
	// Vulnerabilities includes it.
	Inventory = "inventory"
	// Vulnerabilities lists packages (P4) and matches them against the
	// vulnerability database (P5).
	Vulnerabilities = "vulnerabilities"
	// ImageConfig checks users, base image and system packages (P2, P3, P9).
	ImageConfig = "image-config"
	// OwnCode finds the application's own code and imports SAST results
	// (P7).
	OwnCode = "own-code"
	// Trust finds and verifies signatures and attestations (P6); it
	// needs the registry.
	Trust = "trust"
	// SystemFreshness finds pending system package updates against the
	// archive indexes of the database (offline) and, online, whether the
	// base image was rebuilt (P3).
	SystemFreshness = "system-freshness"
)

// All is every analyzer a full scan runs.
var All = []string{Secrets, Waste, SlimUsage, Vulnerabilities, ImageConfig, OwnCode, Trust, SystemFreshness}

// known is every analyzer name Options.Analyzers accepts.
var known = []string{Secrets, ConfigSecrets, Waste, SlimUsage, Inventory, Vulnerabilities, ImageConfig, OwnCode, Trust, SystemFreshness}

func (s *Scanner) runs(name string) bool { return slices.Contains(s.opts.Analyzers, name) }

// analyzers builds the analyzers of one scan: they hold per-scan state, so
// each scan gets its own. Those whose needs the scan cannot meet are left
// out and reported as coverage that did not run.
func (s *Scanner) analyzers(o *Opened, dbr *dbRef) ([]analyze.Analyzer, []scorecard.Coverage, error) {
	var as []analyze.Analyzer
	for _, n := range s.opts.Analyzers {
		switch n {
		case Secrets:
			as = append(as, &secret.Analyzer{ShowSecrets: s.opts.ShowSecrets, MaxBinaryBytes: s.secretMaxBinary()})
		case ConfigSecrets:
			as = append(as, &secret.Analyzer{ShowSecrets: s.opts.ShowSecrets, ConfigOnly: true})
		case Waste:
			as = append(as, &waste.Analyzer{})
		case SlimUsage:
			// Slim runs leave their records in the same cache directory.
			as = append(as, &usage.Analyzer{CacheDir: s.opts.CacheDir})
		case Inventory:
			inv, err := inventory.New(o.TempDir)
			if err != nil {
				return nil, nil, err
			}
			inv.Freshness = s.freshness()
			as = append(as, inv)
		case Vulnerabilities:
			inv, err := inventory.New(o.TempDir)
			if err != nil {
				return nil, nil, err
			}
			inv.Freshness = s.freshness()
			va := &vuln.Analyzer{Inventory: inv, IgnoreUnfixed: s.opts.IgnoreUnfixed, VEX: s.opts.VEX, FailAt: s.opts.VulnFailAt, Priority: s.opts.VulnPriority}
			if dbr != nil && dbr.db != nil {
				va.DB = dbr.db
			} else if dbr != nil {
				va.NoDBReason = dbr.noDB
			}
			if u, err := s.inUse(o.Image); err != nil {
				return nil, nil, err
			} else if u != nil {
				va.InUse = u
			}
			as = append(as, va)
		case ImageConfig:
			as = append(as, s.imageConfig())
		case Trust:
			// Signatures of registry images are in the registry; an
			// image from elsewhere needs no network to be judged.
			ta := &trust.Analyzer{Policy: s.opts.Policy, Local: o.Image.Registry == nil}
			if !s.opts.Offline {
				ta.Lookup = image.RemoteOptions(context.Background(), image.Options{Insecure: s.opts.Insecure})
				ta.LookupName = image.NameOptions(s.opts.Insecure)
			}
			as = append(as, ta)
		case SystemFreshness:
			fa, err := s.systemFreshness()
			if err != nil {
				return nil, nil, err
			}
			as = append(as, fa)
		case OwnCode:
			oc := &owncode.Analyzer{SourceDirs: s.opts.SourceDirs}
			if dbr != nil && dbr.db != nil {
				vdb := dbr.db
				oc.Source.GoVulns = vdb
				oc.Source.Rate = func(recs []*osv.Record) (scorecard.Severity, string) {
					r := vuln.RateRecords(vdb, recs)
					return r.Severity, r.Source
				}
			}
			for _, p := range s.opts.SARIF {
				r, err := owncode.LoadSARIF(p)
				if err != nil {
					return nil, nil, err
				}
				oc.SARIF = append(oc.SARIF, r)
			}
			as = append(as, oc)
		default:
			return nil, nil, fmt.Errorf("unknown analyzer %q", n)
		}
	}
	kept, skipped := filterNeeds(as, s.opts.Offline)
	return kept, skipped, nil
}

func (s *Scanner) secretMaxBinary() int64 {
	if s.opts.SecretMaxBinaryBytes == 0 {
		return secret.DefaultMaxBinaryBytes
	}
	return s.opts.SecretMaxBinaryBytes
}

// imageConfig is the P2/P3/P9 analyzer with the policy, the clock and the
// Dockerfile's base image.
func (s *Scanner) imageConfig() *imagecfg.Analyzer {
	a := &imagecfg.Analyzer{Policy: s.opts.Policy, Now: s.opts.Now}
	if df := s.opts.Dockerfile; df != nil {
		if base, line := df.Base(); base != "" {
			a.DockerfileBase = base
			a.DockerfileBaseSource = &scorecard.Source{File: df.Path, StartLine: line, EndLine: line}
		}
	}
	return a
}

// systemFreshness is the P3 freshness analyzer: the archive indexes beside the
// vulnerability database, and the registry for the base image unless the
// scan is offline.
func (s *Scanner) systemFreshness() (*pending.Analyzer, error) {
	dir := s.opts.DBDir
	if dir == "" {
		d, err := DefaultDBDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	a := &pending.Analyzer{DBDir: dir, DBDirFlag: s.opts.DBDir, Policy: s.opts.Policy, Now: s.opts.Now, NameOptions: image.NameOptions(s.opts.Insecure)}
	if !s.opts.Offline {
		a.Remote = image.RemoteOptions(context.Background(), image.Options{Insecure: s.opts.Insecure, Keychain: s.opts.Keychain})
	}
	if df := s.opts.Dockerfile; df != nil {
		a.DockerfileBase, _ = df.Base()
	}
	return a, nil
}

// filterNeeds leaves out the analyzers that need the network when the
// scan is offline, and says so for each of their practices.
func filterNeeds(as []analyze.Analyzer, offline bool) ([]analyze.Analyzer, []scorecard.Coverage) {
	var kept []analyze.Analyzer
	var skipped []scorecard.Coverage
	for _, a := range as {
		c, ok := a.(analyze.Capable)
		if !ok || !offline || !c.Needs().Network {
			kept = append(kept, a)
			continue
		}
		for _, p := range c.Practices() {
			skipped = append(skipped, scorecard.Coverage{
				Practice: p,
				Reason:   fmt.Sprintf("not run offline: the %s analyzer needs the network (run without --offline)", a.Name()),
			})
		}
	}
	return kept, skipped
}

// inUse is what a slim run of the image (same config digest) recorded it
// opening, from the cache directory; nil when there is none.
func (s *Scanner) inUse(img *image.Image) (*vuln.InUse, error) {
	if s.opts.CacheDir == "" || img == nil || img.ConfigDigest.Hex == "" {
		return nil, nil
	}
	rec, ok, err := record.Load(s.opts.CacheDir, img.ConfigDigest)
	if err != nil || !ok || len(rec.Used) == 0 {
		return nil, err
	}
	state := "not verified"
	if rec.Verified {
		state = "verified"
	}
	return &vuln.InUse{Files: rec.Used, Source: fmt.Sprintf("shipshape slim run of %s (%s): %d files opened", rec.Created.Format("2006-01-02"), state, len(rec.Used))}, nil
}
