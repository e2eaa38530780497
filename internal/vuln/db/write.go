package db

import (
	"archive/zip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shipshape-dev/shipshape/internal/vuln/osv"
)

// Limits against hostile or broken inputs.
const (
	maxRecordBytes  = 16 << 20
	maxDetailsBytes = 4 << 10
	batchSize       = 20000
)

// builder writes one ecosystem's new file next to the old one.
type builder struct {
	eco     string
	dir     string
	tmp     string
	db      *bolt.DB
	tx      *bolt.Tx
	pending int
	records int
	newest  string
	seen    map[string]bool
}

func newBuilder(dir, eco string) (*builder, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("vulnerability database: %w", err)
	}
	f, err := os.CreateTemp(dir, fileName(eco)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("vulnerability database: %w", err)
	}
	tmp := f.Name()
	f.Close()
	db, err := bolt.Open(tmp, 0o644, &bolt.Options{NoSync: true, NoFreelistSync: true, Timeout: time.Second})
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("vulnerability database %s: %w", tmp, err)
	}
	b := &builder{eco: eco, dir: dir, tmp: tmp, db: db, seen: map[string]bool{}}
	if err := b.begin(); err != nil {
		b.abort()
		return nil, err
	}
	return b, nil
}

func (b *builder) begin() error {
	tx, err := b.db.Begin(true)
	if err != nil {
		return err
	}
	for _, name := range [][]byte{bucketRecords, bucketIndex, bucketMeta} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			tx.Rollback()
			return err
		}
	}
	b.tx = tx
	return nil
}

func (b *builder) flush() error {
	if err := b.tx.Commit(); err != nil {
		return err
	}
	b.pending = 0
	return b.begin()
}

// add stores r and indexes its affected packages of b's ecosystem; when
// it does not store r it says why.
func (b *builder) add(r *osv.Record) (string, error) {
	if b.seen[r.ID] {
		return SkipDuplicate, nil
	}
	var keys [][]byte
	for _, a := range r.Affected {
		if osv.BaseEcosystem(a.Package.Ecosystem) != b.eco || a.Package.Name == "" {
			continue
		}
		eco := osv.NormalizeEcosystem(a.Package.Ecosystem)
		keys = append(keys, append(indexPrefix(eco, osv.NormalizeName(eco, a.Package.Name)), r.ID...))
	}
	if len(keys) == 0 {
		return SkipNoPackage, nil
	}
	if len(r.Details) > maxDetailsBytes {
		r.Details = r.Details[:maxDetailsBytes] + "…"
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return "", err
	}
	if err := b.tx.Bucket(bucketRecords).Put([]byte(r.ID), raw); err != nil {
		return "", err
	}
	idx := b.tx.Bucket(bucketIndex)
	for _, k := range keys {
		if err := idx.Put(k, nil); err != nil {
			return "", err
		}
	}
	b.seen[r.ID] = true
	b.records++
	for _, t := range []string{r.Modified, r.Published} {
		if t > b.newest {
			b.newest = t
		}
	}
	b.pending++
	if b.pending >= batchSize {
		return "", b.flush()
	}
	return "", nil
}

// commit finishes the file and renames it over the old one.
func (b *builder) commit(m Meta) error {
	m.Schema, m.Ecosystem, m.Records, m.Newest = SchemaVersion, b.eco, b.records, b.newest
	if m.UpdatedAt.IsZero() {
		m.UpdatedAt = time.Now().UTC()
	}
	raw, _ := json.Marshal(m)
	if err := b.tx.Bucket(bucketMeta).Put(keyMeta, raw); err != nil {
		b.abort()
		return err
	}
	if err := b.tx.Commit(); err != nil {
		b.abort()
		return err
	}
	b.tx = nil
	if err := b.db.Sync(); err != nil {
		b.abort()
		return err
	}
	if err := b.db.Close(); err != nil {
		os.Remove(b.tmp)
		return err
	}
	final := filepath.Join(b.dir, fileName(b.eco))
	if err := os.Rename(b.tmp, final); err != nil {
		os.Remove(b.tmp)
		return fmt.Errorf("vulnerability database: %w", err)
	}
	return nil
}

func (b *builder) abort() {
	if b.tx != nil {
		b.tx.Rollback()
	}
	b.db.Close()
	os.Remove(b.tmp)
}

// Importer loads OSV records into new ecosystem files. Records are
// indexed under each ecosystem they affect; Commit replaces each
// ecosystem's file at once, Abort leaves the old files untouched.
type Importer struct {
	dir      string
	builders map[string]*builder
	// Only, when set, restricts the import to these base ecosystems.
	Only map[string]bool
	// Read counts the records read; every one of them is either imported
	// (Imported) or skipped with a reason (SkipCounts):
	// Read == Imported + the sum of SkipCounts.
	Read, Imported int
	// SkipCounts counts skipped records by reason (the Skip… constants).
	SkipCounts map[string]int
	// Skipped lists each skipped record with its reason, for --debug.
	Skipped []string
	// AliasesKept counts the records whose ids and CVSS vectors were
	// kept in the risk file (whether or not they were imported), so that
	// records naming them as aliases can be rated.
	AliasesKept int
	risk        riskWrite
}

// Why records are skipped.
const (
	SkipUnparseable = "not a valid OSV record"
	SkipTooLarge    = "larger than the record size limit"
	SkipWithdrawn   = "withdrawn"
	SkipNoEcosystem = "no affected package names an ecosystem"
	SkipOther       = "only affects ecosystems not asked for"
	SkipNoPackage   = "affected package without a name"
	SkipDuplicate   = "duplicate id (an earlier record with the same id was imported)"
)

func (im *Importer) skip(name, reason string, detail ...string) {
	if im.SkipCounts == nil {
		im.SkipCounts = map[string]int{}
	}
	im.SkipCounts[reason]++
	line := name + ": " + reason
	if len(detail) > 0 {
		line += " (" + strings.Join(detail, "; ") + ")"
	}
	im.Skipped = append(im.Skipped, line)
}

// NewImporter starts an import into dir.
func NewImporter(dir string) *Importer {
	return &Importer{dir: dir, builders: map[string]*builder{}}
}

// Add stores one record, or counts it as skipped with the reason.
func (im *Importer) Add(r *osv.Record) error {
	im.Read++
	if r.Withdrawn != "" {
		im.skip(r.ID, SkipWithdrawn)
		return nil
	}
	if ar := aliasRecord(r); ar != nil {
		if im.risk.aliases == nil {
			im.risk.aliases = map[string]*osv.Record{}
		}
		if _, dup := im.risk.aliases[r.ID]; !dup {
			im.AliasesKept++
		}
		im.risk.aliases[r.ID] = ar
	}
	done := map[string]bool{}
	stored, reason := false, SkipNoEcosystem
	for _, a := range r.Affected {
		eco := osv.BaseEcosystem(a.Package.Ecosystem)
		if eco == "" || done[eco] {
			continue
		}
		if im.Only != nil && !im.Only[eco] {
			reason = SkipOther
			continue
		}
		done[eco] = true
		b := im.builders[eco]
		if b == nil {
			var err error
			if b, err = newBuilder(im.dir, eco); err != nil {
				return err
			}
			im.builders[eco] = b
		}
		why, err := b.add(r)
		if err != nil {
			return fmt.Errorf("record %s: %w", r.ID, err)
		}
		if why == "" {
			stored = true
		} else {
			reason = why
		}
	}
	if stored {
		im.Imported++
	} else {
		im.skip(r.ID, reason)
	}
	return nil
}

// AddJSON parses and stores one record; name is used in errors. Records
// that do not parse are skipped and listed in Skipped.
func (im *Importer) AddJSON(name string, b []byte) error {
	r, err := osv.Parse(b)
	if err != nil {
		im.Read++
		im.skip(name, SkipUnparseable, err.Error())
		return nil
	}
	return im.Add(r)
}

// AddZip stores every *.json record of a zip (an OSV all.zip).
func (im *Importer) AddZip(ctx context.Context, path string) error {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if err := ctx.Err(); err != nil {
			return err
		}
		if !strings.HasSuffix(f.Name, ".json") || f.FileInfo().IsDir() {
			continue
		}
		if f.UncompressedSize64 > maxRecordBytes {
			im.Read++
			im.skip(path+":"+f.Name, SkipTooLarge)
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return fmt.Errorf("%s:%s: %w", path, f.Name, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, maxRecordBytes+1))
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s:%s: %w", path, f.Name, err)
		}
		if err := im.AddJSON(path+":"+f.Name, b); err != nil {
			return err
		}
	}
	return nil
}

// AddDir stores every *.json record under dir (and every *.zip in it).
func (im *Importer) AddDir(ctx context.Context, dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		switch {
		case strings.HasSuffix(p, ".zip"):
			return im.AddZip(ctx, p)
		case strings.HasSuffix(p, ".json"):
			info, err := d.Info()
			if err != nil {
				return err
			}
			if info.Size() > maxRecordBytes {
				im.Read++
				im.skip(p, SkipTooLarge)
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return im.AddJSON(p, b)
		}
		return nil
	})
}

// AddPath stores a zip, a JSON record or a directory of them.
func (im *Importer) AddPath(ctx context.Context, p string) error {
	info, err := os.Stat(p)
	if err != nil {
		return err
	}
	switch {
	case info.IsDir():
		return im.AddDir(ctx, p)
	case sniffRisk(p) != "":
		return im.AddRiskFile(p)
	case strings.HasSuffix(p, ".json"):
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return im.AddJSON(p, b)
	default:
		return im.AddZip(ctx, p)
	}
}

// AddRiskFile loads a CISA KEV catalog (JSON) or EPSS scores (CSV,
// plain or gzip) from a file; they replace the database's current ones on
// Commit.
func (im *Importer) AddRiskFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	switch sniffRisk(p) {
	case "kev":
		return im.AddKEV(f, p)
	case "epss":
		return im.AddEPSS(f, p)
	}
	return fmt.Errorf("%s: neither a KEV catalog nor EPSS scores", p)
}

// AddKEV loads a CISA KEV catalog read from r; source names it.
func (im *Importer) AddKEV(r io.Reader, source string) error {
	kev, version, err := ParseKEV(r)
	if err != nil {
		return fmt.Errorf("%s: %w", source, err)
	}
	im.risk.kev, im.risk.kevVersion, im.risk.kevSource = kev, version, source
	return nil
}

// AddEPSS loads EPSS scores read from r; source names them.
func (im *Importer) AddEPSS(r io.Reader, source string) error {
	scores, version, err := ParseEPSS(r)
	if err != nil {
		return fmt.Errorf("%s: %w", source, err)
	}
	if len(scores) == 0 {
		return fmt.Errorf("%s: EPSS scores: no rows", source)
	}
	im.risk.epss, im.risk.epssVer, im.risk.epssSource = scores, version, source
	return nil
}

// Ecosystems lists the ecosystems the import has records for.
func (im *Importer) Ecosystems() []string {
	var out []string
	for k := range im.builders {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Commit replaces each imported ecosystem's file and writes the risk
// file (KEV, EPSS, alias severities). meta supplies the source and HTTP
// validators (per ecosystem, may be nil). The risk sources are returned
// too, as Meta entries named "CISA KEV", "EPSS" and "aliases".
func (im *Importer) Commit(meta func(eco string) Meta) ([]Meta, error) {
	var out []Meta
	rms, err := im.risk.commit(im.dir)
	if err != nil {
		im.Abort()
		return nil, err
	}
	im.risk = riskWrite{}
	for _, rm := range rms {
		name := map[string]string{"kev": "CISA KEV", "epss": "EPSS", "alias": "aliases"}[rm.Kind]
		out = append(out, Meta{Ecosystem: name, Records: rm.Entries, Source: rm.Source})
	}
	for _, eco := range im.Ecosystems() {
		m := Meta{}
		if meta != nil {
			m = meta(eco)
		}
		b := im.builders[eco]
		delete(im.builders, eco)
		if err := b.commit(m); err != nil {
			im.Abort()
			return out, fmt.Errorf("ecosystem %s: %w", eco, err)
		}
		out = append(out, Meta{Schema: SchemaVersion, Ecosystem: eco, Records: b.records, Source: m.Source})
	}
	return out, nil
}

// Abort discards the import; the old files stay.
func (im *Importer) Abort() {
	for eco, b := range im.builders {
		b.abort()
		delete(im.builders, eco)
	}
}
