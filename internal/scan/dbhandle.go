package scan

import (
	"errors"
	"sync"

	"github.com/shipshape-dev/shipshape/internal/vuln/db"
)

// dbHandle is the vulnerability database every scan of a Scanner (and of
// its WithKeychain/WithLayerCache copies) shares. ReloadDB swaps in a
// fresh view after an update; scans that are running keep the view they
// started with, which is closed when the last of them ends.
type dbHandle struct {
	mu  sync.Mutex
	cur *dbRef
}

// dbRef is one opened view of the database.
type dbRef struct {
	db *db.DB
	// noDB says why db is nil.
	noDB    string
	refs    int
	retired bool
}

// acquire returns the current view, held until release.
func (h *dbHandle) acquire() *dbRef {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur != nil {
		h.cur.refs++
	}
	return h.cur
}

// release lets go of a view; a replaced view is closed by its last user.
func (h *dbHandle) release(r *dbRef) {
	if h == nil || r == nil {
		return
	}
	h.mu.Lock()
	r.refs--
	closeIt := r.retired && r.refs == 0 && r.db != nil
	h.mu.Unlock()
	if closeIt {
		r.db.Close()
	}
}

// swap makes r the current view and retires the old one.
func (h *dbHandle) swap(r *dbRef) {
	h.mu.Lock()
	old := h.cur
	h.cur = r
	closeIt := false
	if old != nil {
		old.retired = true
		closeIt = old.refs == 0 && old.db != nil
	}
	h.mu.Unlock()
	if closeIt {
		old.db.Close()
	}
}

// close closes the current view.
func (h *dbHandle) close() error {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cur == nil || h.cur.db == nil {
		return nil
	}
	h.cur.retired = true
	if h.cur.refs > 0 {
		return nil
	}
	return h.cur.db.Close()
}

// ReloadDB opens the vulnerability database directory again, so that
// scans starting from now on see what an update wrote (an open database
// keeps the files it opened). Running scans finish with the old view. On
// error the old view stays.
func (s *Scanner) ReloadDB() error {
	if s.dbs == nil {
		return errors.New("this scanner does not match vulnerabilities")
	}
	r, err := s.openDB()
	if err != nil {
		return err
	}
	s.dbs.swap(r)
	return nil
}
