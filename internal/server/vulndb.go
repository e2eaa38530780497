package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/vuln/db"
)

// dbState is what a replica knows about its copy of the vulnerability
// database: how old it is, and how its last refresh from the shared
// location went.
type dbState struct {
	// refreshing serialises refreshes (the start's and the ticker's).
	refreshing sync.Mutex
	mu         sync.Mutex
	// oldest is the update time of the copy's least recently updated
	// ecosystem (zero: no database).
	oldest      time.Time
	refreshedAt time.Time
	refreshErr  string
}

// loadDBAge reads the copy's ecosystems' update times.
func (s *Server) loadDBAge() {
	metas, _ := db.Status(s.cfg.DBDir)
	var oldest time.Time
	for _, m := range metas {
		if oldest.IsZero() || m.UpdatedAt.Before(oldest) {
			oldest = m.UpdatedAt
		}
	}
	s.db.mu.Lock()
	s.db.oldest = oldest
	s.db.mu.Unlock()
}

// staleDB says, when the database is older than DBMaxAge, how old it is;
// "" when it is fresh enough (or no maximum is set, or there is none: P5
// then says so itself).
func (s *Server) staleDB() string {
	if s.cfg.DBMaxAge <= 0 {
		return ""
	}
	s.db.mu.Lock()
	oldest, rerr := s.db.oldest, s.db.refreshErr
	s.db.mu.Unlock()
	if oldest.IsZero() {
		return ""
	}
	age := s.cfg.Now().Sub(oldest)
	if age <= s.cfg.DBMaxAge {
		return ""
	}
	msg := fmt.Sprintf("the vulnerability database is %s old (updated %s), over --db-max-age %s: vulnerabilities published since are missed", roundAge(age), oldest.UTC().Format(time.RFC3339), s.cfg.DBMaxAge)
	switch {
	case rerr != "":
		msg += "; the last refresh from " + s.cfg.DBRepository + " failed: " + rerr
	case s.cfg.DBRepository != "" && s.cfg.DBRefresh > 0:
		msg += "; the shared copy at " + s.cfg.DBRepository + " is not newer: update it (`shipshape db update` where it is built)"
	default:
		msg += "; run `shipshape db update --db-dir " + s.cfg.DBDir + "` or start the server with --db-repository and --db-refresh"
	}
	return msg
}

func roundAge(d time.Duration) string {
	if d >= 48*time.Hour {
		return fmt.Sprintf("%dd%dh", int(d.Hours())/24, int(d.Hours())%24)
	}
	return d.Round(time.Minute).String()
}

// markStale says in a report built from a database older than DBMaxAge
// that it was: in P5's summary and in the report's warnings.
func markStale(rep *scorecard.Report, msg string) {
	if rep == nil || msg == "" {
		return
	}
	rep.Warnings = append(rep.Warnings, msg)
	for i := range rep.Practices {
		p := &rep.Practices[i]
		if p.ID != scorecard.P5 {
			continue
		}
		if p.Status == scorecard.NotRun {
			continue // it says why itself
		}
		if p.Summary != "" {
			p.Summary += "; "
		}
		p.Summary += msg
	}
}

// refreshEcosystems are the ecosystems a refresh fetches: --db-ecosystems,
// else those the shared directory holds, else those of the local copy,
// else the default list.
func (s *Server) refreshEcosystems() []string {
	if len(s.cfg.DBEcosystems) > 0 {
		return s.cfg.DBEcosystems
	}
	repo := strings.TrimPrefix(s.cfg.DBRepository, "file://")
	if !strings.Contains(repo, "://") {
		if ents, err := os.ReadDir(repo); err == nil {
			var out []string
			for _, e := range ents {
				if _, err := os.Stat(filepath.Join(repo, e.Name(), "all.zip")); err == nil {
					out = append(out, e.Name())
				}
			}
			if len(out) > 0 {
				return out
			}
		}
	}
	metas, _ := db.Status(s.cfg.DBDir)
	var out []string
	for _, m := range metas {
		if !slices.Contains(out, m.Ecosystem) {
			out = append(out, m.Ecosystem)
		}
	}
	if len(out) > 0 {
		return out
	}
	return db.DefaultEcosystems
}

// refreshDB updates the local copy from the shared location and makes
// new scans use it.
func (s *Server) refreshDB(ctx context.Context) error {
	s.db.refreshing.Lock()
	defer s.db.refreshing.Unlock()
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	u := &db.Updater{Dir: s.cfg.DBDir, Repository: s.cfg.DBRepository, KEVURL: s.cfg.DBKEVURL, EPSSURL: s.cfg.DBEPSSURL}
	res, err := u.Update(ctx, s.refreshEcosystems())
	updated := 0
	for _, r := range res {
		if r.Status == "updated" {
			updated++
		}
	}
	if updated > 0 {
		if rerr := s.cfg.Scanner.ReloadDB(); rerr != nil {
			err = fmt.Errorf("reopening the database: %w", rerr)
		}
	}
	s.loadDBAge()
	s.db.mu.Lock()
	s.db.refreshedAt = s.cfg.Now()
	s.db.refreshErr = ""
	if err != nil {
		s.db.refreshErr = err.Error()
	}
	s.db.mu.Unlock()
	if err != nil {
		s.metrics.dbRefresh.WithLabelValues("failed").Inc()
		s.log.Warn("refreshing the vulnerability database", "repository", s.cfg.DBRepository, "updated", updated, "error", err)
		return err
	}
	s.metrics.dbRefresh.WithLabelValues("ok").Inc()
	s.log.Info("vulnerability database refreshed", "repository", s.cfg.DBRepository, "updated", updated)
	return nil
}

// refreshTimeout bounds one refresh (OSV's largest exports are a few
// hundred MiB).
const refreshTimeout = 30 * time.Minute

// refresher refreshes the database every DBRefresh until shutdown.
func (s *Server) refresher() {
	t := time.NewTicker(s.cfg.DBRefresh)
	defer t.Stop()
	for {
		select {
		case <-s.baseCtx.Done():
			return
		case <-t.C:
			s.refreshDB(s.baseCtx)
		}
	}
}
