package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/shipshape-dev/shipshape/internal/atomicfile"
)

// StoreDir is the directory, inside the vulnerability database directory,
// that holds the registry data.
const StoreDir = "freshness"

// DefaultTTL is how long fetched data counts as fresh for db update.
const DefaultTTL = 24 * time.Hour

// storeVersion is the format of the per-ecosystem files.
const storeVersion = 1

// Store keeps what registries said, one JSON file per ecosystem
// (DIR/freshness/ECOSYSTEM.json), written atomically: a scan reading it
// while db update writes sees the old file or the new one.
type Store struct {
	Dir string
}

// NewStore returns the store inside a vulnerability database directory.
func NewStore(dbDir string) *Store { return &Store{Dir: filepath.Join(dbDir, StoreDir)} }

type storeFile struct {
	Version   int              `json:"version"`
	Ecosystem string           `json:"ecosystem"`
	Packages  map[string]*Info `json:"packages"`
}

func (s *Store) file(eco string) string {
	return filepath.Join(s.Dir, strings.NewReplacer("/", "_", "\\", "_", ":", "_").Replace(eco)+".json")
}

// Load returns the stored packages of an ecosystem by name (empty when
// there is no file).
func (s *Store) Load(eco string) (map[string]*Info, error) {
	name := s.file(eco)
	b, err := os.ReadFile(name)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]*Info{}, nil
	} else if err != nil {
		return nil, fmt.Errorf("freshness data %s: %w", name, err)
	}
	var f storeFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("freshness data %s: %w (run `shipshape db update --for IMAGE` to rewrite it)", name, err)
	}
	if f.Version != storeVersion {
		return nil, fmt.Errorf("freshness data %s: format %d, want %d (run `shipshape db update --for IMAGE`)", name, f.Version, storeVersion)
	}
	if f.Packages == nil {
		f.Packages = map[string]*Info{}
	}
	return f.Packages, nil
}

// Save replaces an ecosystem's file.
func (s *Store) Save(eco string, pkgs map[string]*Info) error {
	if err := os.MkdirAll(s.Dir, 0o755); err != nil {
		return fmt.Errorf("freshness data: %w", err)
	}
	b, err := json.Marshal(storeFile{Version: storeVersion, Ecosystem: eco, Packages: pkgs})
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(s.file(eco), b, 0o644)
}

// Want is a package whose registry data is wanted, with the versions the
// image has.
type Want struct {
	Ecosystem, Name string
	Versions        []string
}

// Result says what an update did for one ecosystem.
type Result struct {
	Ecosystem string `json:"ecosystem"`
	// Packages asked for; Fetched from the registry; Fresh already in the
	// store within the TTL; Skipped not asked (private); NotFound
	// unknown to the registry; Failed errors.
	Packages int      `json:"packages"`
	Fetched  int      `json:"fetched"`
	Fresh    int      `json:"fresh"`
	Skipped  int      `json:"skipped"`
	NotFound int      `json:"notFound"`
	Failed   int      `json:"failed"`
	Errors   []string `json:"errors,omitempty"`
	Source   string   `json:"source,omitempty"`
}

// maxFailures is how many errors in a row, with no answer at all, make an
// update stop asking an ecosystem's registry (unreachable, refusing).
const maxFailures = 3

// Updater fetches registry data for the packages wanted and keeps it in
// the store.
type Updater struct {
	Store  *Store
	Config *Config
	HTTP   *http.Client
	// TTL: stored data younger than this is not fetched again (0:
	// DefaultTTL; negative: always fetch).
	TTL      time.Duration
	Parallel int
	Logger   *slog.Logger
	Now      func() time.Time
}

// Update fetches what is missing or stale for every wanted package and
// saves each ecosystem's file. Errors for single packages are counted in
// the results; the error is for the store.
func (u *Updater) Update(ctx context.Context, wants []Want) ([]Result, error) {
	hc := u.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 60 * time.Second}
	}
	log := u.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := time.Now
	if u.Now != nil {
		now = u.Now
	}
	ttl := u.TTL
	if ttl == 0 {
		ttl = DefaultTTL
	}
	par := u.Parallel
	if par <= 0 {
		par = 8
	}
	byEco := map[string][]Want{}
	for _, w := range wants {
		byEco[w.Ecosystem] = append(byEco[w.Ecosystem], w)
	}
	var results []Result
	for _, eco := range slices.Sorted(mapsKeys(byEco)) {
		client := u.Config.Client(eco, hc)
		if client == nil {
			continue
		}
		stored, err := u.Store.Load(eco)
		if err != nil {
			// A damaged file is replaced by what is fetched now.
			log.Warn("freshness data unreadable, fetching again", "ecosystem", eco, "err", err)
			stored = map[string]*Info{}
		}
		res := Result{Ecosystem: eco}
		var mu sync.Mutex
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(par)
		var todo []Want
		for _, w := range mergeWants(byEco[eco]) {
			res.Packages++
			if old := stored[w.Name]; old != nil {
				// Keep asking about the versions earlier images had.
				for _, v := range old.Requested {
					if !slices.Contains(w.Versions, v) {
						w.Versions = append(w.Versions, v)
					}
				}
			}
			if old := stored[w.Name]; old != nil && fresh(old, w, now(), ttl) {
				res.Fresh++
				continue
			}
			todo = append(todo, w)
		}
		for _, w := range todo {
			g.Go(func() error {
				mu.Lock()
				unreachable := res.Failed >= maxFailures && res.Fetched == 0 && res.NotFound == 0
				if unreachable {
					res.Failed++
				}
				mu.Unlock()
				if unreachable {
					// The registry does not answer: stop asking it.
					return nil
				}
				info, err := client.Fetch(gctx, Request{Name: w.Name, Versions: w.Versions})
				if info != nil {
					info.FetchedAt = now().UTC()
					info.Requested = slices.Clone(w.Versions)
				}
				mu.Lock()
				defer mu.Unlock()
				if err := ctx.Err(); err != nil {
					return err
				}
				switch {
				case errors.Is(err, ErrNotFound):
					res.NotFound++
					stored[w.Name] = &Info{Ecosystem: eco, Name: w.Name, NotFound: true, FetchedAt: now().UTC(), Requested: slices.Clone(w.Versions)}
				case err != nil:
					res.Failed++
					if len(res.Errors) < 5 {
						res.Errors = append(res.Errors, err.Error())
					}
					log.Debug("registry", "ecosystem", eco, "package", w.Name, "err", err)
				case info.Skipped != "":
					res.Skipped++
					stored[w.Name] = info
				default:
					compact(info, w)
					res.Fetched++
					if res.Source == "" {
						res.Source = info.Source
					}
					stored[w.Name] = info
				}
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return results, err
		}
		if err := u.Store.Save(eco, stored); err != nil {
			return results, err
		}
		results = append(results, res)
	}
	return results, nil
}

// fresh reports whether stored data answers a want within the TTL.
func fresh(in *Info, w Want, now time.Time, ttl time.Duration) bool {
	if ttl < 0 || now.Sub(in.FetchedAt) > ttl {
		return false
	}
	if in.NotFound || in.Skipped != "" {
		return true
	}
	for _, v := range w.Versions {
		if in.Ecosystem == Go {
			v = GoVersion(v)
		}
		rel := in.Release(v)
		if rel == nil || (rel.Time.IsZero() && (in.Ecosystem == Go || in.Ecosystem == Maven)) {
			return false
		}
	}
	return true
}

// mergeWants joins wants of the same package.
func mergeWants(ws []Want) []Want {
	idx := map[string]int{}
	var out []Want
	for _, w := range ws {
		i, ok := idx[w.Name]
		if !ok {
			idx[w.Name] = len(out)
			out = append(out, Want{Ecosystem: w.Ecosystem, Name: w.Name})
			i = len(out) - 1
		}
		for _, v := range w.Versions {
			if !slices.Contains(out[i].Versions, v) {
				out[i].Versions = append(out[i].Versions, v)
			}
		}
	}
	slices.SortFunc(out, func(a, b Want) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Status describes one ecosystem's stored registry data.
type Status struct {
	Ecosystem string
	Packages  int
	// Oldest and Newest are the fetch times of the stored answers.
	Oldest, Newest time.Time
}

// Status lists what the store holds, by ecosystem.
func (s *Store) Status() ([]Status, error) {
	var out []Status
	for _, eco := range Ecosystems {
		if _, err := os.Stat(s.file(eco)); errors.Is(err, os.ErrNotExist) {
			continue
		}
		pkgs, err := s.Load(eco)
		if err != nil {
			return nil, err
		}
		st := Status{Ecosystem: eco, Packages: len(pkgs)}
		for _, in := range pkgs {
			if st.Oldest.IsZero() || in.FetchedAt.Before(st.Oldest) {
				st.Oldest = in.FetchedAt
			}
			if in.FetchedAt.After(st.Newest) {
				st.Newest = in.FetchedAt
			}
		}
		out = append(out, st)
	}
	return out, nil
}

// compact drops the prereleases nobody installed: they are never latest
// nor counted as behind, and busy packages publish thousands (nightlies).
func compact(in *Info, w Want) {
	keep := in.Releases[:0]
	for _, r := range in.Releases {
		if r.Prerelease && !slices.Contains(w.Versions, r.Version) && r.Version != in.Latest {
			continue
		}
		keep = append(keep, r)
	}
	in.Releases = keep
}

// Refresh asks again about every stored package whose data is older than
// the TTL (with the versions images had), so that a plain `db update`
// keeps the data of every image it was run --for fresh.
func (u *Updater) Refresh(ctx context.Context) ([]Result, error) {
	var wants []Want
	for _, eco := range Ecosystems {
		pkgs, err := u.Store.Load(eco)
		if err != nil {
			return nil, err
		}
		for _, name := range slices.Sorted(mapsKeys(pkgs)) {
			in := pkgs[name]
			if in.Skipped != "" {
				continue
			}
			wants = append(wants, Want{Ecosystem: eco, Name: name, Versions: in.Requested})
		}
	}
	if len(wants) == 0 {
		return nil, nil
	}
	return u.Update(ctx, wants)
}
