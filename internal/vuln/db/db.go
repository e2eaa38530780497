// Package db is shipshape's local vulnerability database: OSV records,
// one embedded bbolt file per ecosystem export, indexed by (ecosystem,
// package). Writers build a complete new file next to the old one and
// rename it into place, so a failed or interrupted update never leaves a
// broken database and scans that are reading keep the file they opened.
package db

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shipshape-dev/shipshape/internal/vuln/osv"
)

var (
	bucketRecords = []byte("records")
	bucketIndex   = []byte("index")
	bucketMeta    = []byte("meta")
	keyMeta       = []byte("meta")
)

// SchemaVersion changes when the file layout changes; files of another
// version are treated as missing.
// Version 2 keeps the affected Go packages and symbols
// (ecosystem_specific.imports) for reachability.
const SchemaVersion = 2

// ErrNoDatabase means no ecosystem has been downloaded or imported.
var ErrNoDatabase = errors.New("no vulnerability database: run `shipshape db update` (or `shipshape db import FILE`)")

// Meta describes one ecosystem's file.
type Meta struct {
	Schema    int       `json:"schema"`
	Ecosystem string    `json:"ecosystem"`
	Records   int       `json:"records"`
	Source    string    `json:"source"`
	UpdatedAt time.Time `json:"updatedAt"`
	// ETag and LastModified are the HTTP validators of the download, for
	// conditional updates.
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	// Newest is the latest "modified" time of a record.
	Newest string `json:"newest,omitempty"`
}

// fileName is the file of an ecosystem export inside the database dir.
func fileName(eco string) string {
	return strings.NewReplacer("/", "_", " ", "_", ":", "_").Replace(eco) + ".db"
}

// DB is an open, read-only view of the database directory. Ecosystem files
// are opened on first use and stay open (the view they give is stable
// even if an update replaces them).
type DB struct {
	dir   string
	mu    sync.Mutex
	files map[string]*bolt.DB // by base ecosystem; nil: absent
	// risk is the risk file (KEV, EPSS, alias severities), opened on
	// first use; nil when absent.
	risk       *bolt.DB
	riskErr    error
	riskOpened bool
}

// Open opens the database in dir for reading. It fails with ErrNoDatabase
// when no ecosystem file exists.
func Open(dir string) (*DB, error) {
	metas, err := Status(dir)
	if err != nil {
		return nil, err
	}
	if len(metas) == 0 {
		return nil, ErrNoDatabase
	}
	return &DB{dir: dir, files: map[string]*bolt.DB{}}, nil
}

// Close closes every open file.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for _, f := range d.files {
		if f != nil {
			errs = append(errs, f.Close())
		}
	}
	d.files = map[string]*bolt.DB{}
	if d.risk != nil {
		errs = append(errs, d.risk.Close())
		d.risk = nil
	}
	d.riskOpened = false
	return errors.Join(errs...)
}

func openRead(path string) (*bolt.DB, error) {
	return bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 10 * time.Second})
}

func (d *DB) file(base string) (*bolt.DB, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if f, ok := d.files[base]; ok {
		return f, nil
	}
	p := filepath.Join(d.dir, fileName(base))
	if _, err := os.Stat(p); err != nil {
		d.files[base] = nil
		return nil, nil
	}
	f, err := openRead(p)
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", p, err)
	}
	d.files[base] = f
	return f, nil
}

// Has reports whether the database holds the ecosystem's export.
func (d *DB) Has(eco string) bool {
	f, err := d.file(osv.BaseEcosystem(eco))
	return err == nil && f != nil
}

// Lookup returns the records that list (ecosystem, name) as affected.
// ecosystem is as packages carry it ("Debian:12", "Go").
func (d *DB) Lookup(ecosystem, name string) ([]*osv.Record, error) {
	f, err := d.file(osv.BaseEcosystem(ecosystem))
	if err != nil || f == nil {
		return nil, err
	}
	prefix := indexPrefix(osv.NormalizeEcosystem(ecosystem), osv.NormalizeName(ecosystem, name))
	var out []*osv.Record
	err = f.View(func(tx *bolt.Tx) error {
		idx, recs := tx.Bucket(bucketIndex), tx.Bucket(bucketRecords)
		if idx == nil || recs == nil {
			return fmt.Errorf("%s: not a shipshape vulnerability database", fileName(ecosystem))
		}
		c := idx.Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			id := k[len(prefix):]
			raw := recs.Get(id)
			if raw == nil {
				continue
			}
			var r osv.Record
			if err := json.Unmarshal(raw, &r); err != nil {
				return fmt.Errorf("record %s: %w", id, err)
			}
			out = append(out, &r)
		}
		return nil
	})
	return out, err
}

func indexPrefix(eco, name string) []byte {
	return []byte(eco + "\x00" + name + "\x00")
}

// Status returns the metadata of every ecosystem file in dir, sorted by
// ecosystem. A missing dir is an empty database.
func Status(dir string) ([]Meta, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vulnerability database: %w", err)
	}
	var out []Meta
	for _, e := range ents {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".db") {
			continue
		}
		m, err := readMeta(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if m.Schema != SchemaVersion {
			continue
		}
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b Meta) int { return strings.Compare(a.Ecosystem, b.Ecosystem) })
	return out, nil
}

// ReadMeta returns one ecosystem's metadata, or nil when it is absent.
func ReadMeta(dir, eco string) (*Meta, error) {
	p := filepath.Join(dir, fileName(eco))
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return readMeta(p)
}

func readMeta(path string) (*Meta, error) {
	f, err := openRead(path)
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", path, err)
	}
	defer f.Close()
	var m Meta
	err = f.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if b == nil {
			return fmt.Errorf("no metadata")
		}
		return json.Unmarshal(b.Get(keyMeta), &m)
	})
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", path, err)
	}
	return &m, nil
}
