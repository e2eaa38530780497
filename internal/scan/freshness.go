package scan

import (
	"log/slog"
	"time"

	"github.com/shipshape-dev/shipshape/internal/freshness"
	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/upstream"
)

// FreshnessOptions locate P4's registry data (internal/upstream) and say
// whether a scan may fetch what is missing.
type FreshnessOptions struct {
	// Dir is the vulnerability database directory the data is kept in
	// (empty: Options.DBDir, else the default).
	Dir string
	// Online fetches missing or stale registry data during the scan
	// (scan --online-freshness) with Registries; never when Offline.
	Online     bool
	Registries *upstream.Config
	// TTL is how old stored data may be before an online scan asks again.
	TTL time.Duration
}

// freshnessStore is the store P4 reads.
func (s *Scanner) freshnessStore() *upstream.Store {
	dir := s.opts.Freshness.Dir
	if dir == "" {
		dir = s.opts.DBDir
	}
	if dir == "" {
		d, err := DefaultDBDir()
		if err != nil {
			return nil
		}
		dir = d
	}
	return upstream.NewStore(dir)
}

// freshness is the P4 judge of one scan (nil: no store, P4 not-run).
func (s *Scanner) freshness() inventory.FreshnessJudge {
	st := s.freshnessStore()
	if st == nil {
		return nil
	}
	j := &freshness.Judge{Store: st, Policy: s.opts.Policy.Deps(), Now: s.opts.Now}
	if f := s.opts.Freshness; f.Online && !s.opts.Offline && f.Registries != nil {
		j.Updater = &upstream.Updater{Store: st, Config: f.Registries, TTL: f.TTL, Logger: s.opts.Logger.With(slog.String("part", "registries"))}
	}
	return j
}
