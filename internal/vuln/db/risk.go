package db

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/shipshape-dev/shipshape/internal/vuln/osv"
)

// The risk file sits beside the ecosystem files and holds what ranks a
// vulnerability beyond its own record: the severities of alias records
// (GHSA, NVD-derived CVE records) that may affect no stored package, the
// CISA Known Exploited Vulnerabilities catalog and EPSS scores. Scans read
// it offline; imports and updates rewrite it copy-on-write.
const riskFile = "risk.bolt"

var (
	bucketAlias = []byte("alias")
	bucketKEV   = []byte("kev")
	bucketEPSS  = []byte("epss")
)

// Default sources of `db update` (used with the default OSV repository).
const (
	DefaultKEVURL  = "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json"
	DefaultEPSSURL = "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz"
)

// Limits of the risk inputs.
const (
	maxKEVBytes  = 64 << 20
	maxEPSSBytes = 512 << 20
)

// KEV is one entry of the CISA Known Exploited Vulnerabilities catalog
// (https://www.cisa.gov/known-exploited-vulnerabilities-catalog).
type KEV struct {
	CVE       string `json:"cveID"`
	Vendor    string `json:"vendorProject,omitempty"`
	Product   string `json:"product,omitempty"`
	Name      string `json:"vulnerabilityName,omitempty"`
	DateAdded string `json:"dateAdded,omitempty"`
	DueDate   string `json:"dueDate,omitempty"`
	// Ransomware is "Known" or "Unknown".
	Ransomware string `json:"knownRansomwareCampaignUse,omitempty"`
}

// EPSS is one CVE's Exploit Prediction Scoring System score
// (https://www.first.org/epss/): the probability of exploitation in the
// next 30 days and its percentile.
type EPSS struct {
	CVE        string  `json:"cve"`
	Score      float64 `json:"epss"`
	Percentile float64 `json:"percentile"`
	Date       string  `json:"date,omitempty"`
}

// RiskMeta describes one risk source in the risk file ("alias": the CVSS
// vectors of every imported record, for the records naming it as an
// alias).
type RiskMeta struct {
	Kind      string    `json:"kind"` // "kev", "epss", "alias"
	Entries   int       `json:"entries"`
	Source    string    `json:"source"`
	Version   string    `json:"version,omitempty"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// ParseKEV reads the CISA KEV catalog JSON.
func ParseKEV(r io.Reader) ([]KEV, string, error) {
	var cat struct {
		CatalogVersion  string `json:"catalogVersion"`
		Vulnerabilities []KEV  `json:"vulnerabilities"`
	}
	dec := json.NewDecoder(io.LimitReader(r, maxKEVBytes))
	if err := dec.Decode(&cat); err != nil {
		return nil, "", fmt.Errorf("KEV catalog: %w", err)
	}
	if cat.Vulnerabilities == nil {
		return nil, "", errors.New("KEV catalog: no \"vulnerabilities\" array")
	}
	out := cat.Vulnerabilities[:0]
	for _, k := range cat.Vulnerabilities {
		if strings.HasPrefix(k.CVE, "CVE-") {
			out = append(out, k)
		}
	}
	return out, cat.CatalogVersion, nil
}

// ParseEPSS reads an EPSS scores CSV, plain or gzip-compressed: an
// optional "#model_version:…,score_date:…" line, the header
// "cve,epss,percentile", then one row per CVE.
func ParseEPSS(r io.Reader) ([]EPSS, string, error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, "", fmt.Errorf("EPSS scores: %w", err)
		}
		defer zr.Close()
		br = bufio.NewReader(io.LimitReader(zr, maxEPSSBytes))
	}
	date, version := "", ""
	if b, _ := br.Peek(1); len(b) == 1 && b[0] == '#' {
		line, err := br.ReadString('\n')
		if err != nil {
			return nil, "", fmt.Errorf("EPSS scores: %w", err)
		}
		for _, kv := range strings.Split(strings.TrimSpace(strings.TrimPrefix(line, "#")), ",") {
			k, v, _ := strings.Cut(kv, ":")
			switch k {
			case "score_date":
				date, _, _ = strings.Cut(v, "T")
			case "model_version":
				version = v
			}
		}
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return nil, "", fmt.Errorf("EPSS scores: header: %w", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.TrimSpace(h)] = i
	}
	ci, ok1 := col["cve"]
	ei, ok2 := col["epss"]
	pi, ok3 := col["percentile"]
	if !ok1 || !ok2 || !ok3 {
		return nil, "", fmt.Errorf("EPSS scores: header %q: want cve,epss,percentile", strings.Join(head, ","))
	}
	var out []EPSS
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, "", fmt.Errorf("EPSS scores: %w", err)
		}
		if len(rec) <= max(ci, ei, pi) {
			continue
		}
		e, err1 := strconv.ParseFloat(rec[ei], 64)
		p, err2 := strconv.ParseFloat(rec[pi], 64)
		if err1 != nil || err2 != nil || !strings.HasPrefix(rec[ci], "CVE-") || e < 0 || e > 1 || p < 0 || p > 1 {
			continue
		}
		out = append(out, EPSS{CVE: rec[ci], Score: e, Percentile: p, Date: date})
	}
	if version != "" {
		version = "model " + version
	}
	if date != "" {
		version = strings.TrimSpace(version + " scored " + date)
	}
	return out, version, nil
}

// sniffRisk tells whether the file at p is a KEV catalog ("kev") or EPSS
// scores ("epss"), by name and content.
func sniffRisk(p string) string {
	name := strings.ToLower(filepath.Base(p))
	if strings.HasSuffix(name, ".csv") || strings.HasSuffix(name, ".csv.gz") {
		return "epss"
	}
	if !strings.HasSuffix(name, ".json") {
		return ""
	}
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 4096)
	n, _ := io.ReadFull(f, head)
	if bytes.Contains(head[:n], []byte(`"catalogVersion"`)) {
		return "kev"
	}
	return ""
}

// aliasRecord is what the risk file keeps of a record: its id, aliases
// and CVSS vectors (what rates the records that name it as an alias);
// nil when it has no CVSS vector.
func aliasRecord(r *osv.Record) *osv.Record {
	keep := &osv.Record{ID: r.ID, Aliases: r.Aliases}
	add := func(sevs []osv.Severity) {
		for _, s := range sevs {
			if (s.Type == "CVSS_V3" || s.Type == "CVSS_V4") && !slices.Contains(keep.Severity, s) {
				keep.Severity = append(keep.Severity, s)
			}
		}
	}
	add(r.Severity)
	for _, a := range r.Affected {
		add(a.Severity)
	}
	if len(keep.Severity) == 0 {
		return nil
	}
	return keep
}

// riskWrite holds what an import adds to the risk file.
type riskWrite struct {
	aliases    map[string]*osv.Record
	kev        []KEV
	kevVersion string
	kevSource  string
	epss       []EPSS
	epssVer    string
	epssSource string
}

func (w *riskWrite) empty() bool {
	return w == nil || (len(w.aliases) == 0 && w.kevSource == "" && w.epssSource == "")
}

// commit writes w into dir's risk file copy-on-write: a new file is built
// from the old one and renamed over it. KEV and EPSS replace their old
// entries; alias records are added to the old ones.
func (w *riskWrite) commit(dir string) ([]RiskMeta, error) {
	if w.empty() {
		return nil, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("vulnerability database: %w", err)
	}
	final := filepath.Join(dir, riskFile)
	tmpf, err := os.CreateTemp(dir, riskFile+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("vulnerability database: %w", err)
	}
	tmp := tmpf.Name()
	if old, err := os.Open(final); err == nil {
		_, err = io.Copy(tmpf, old)
		old.Close()
		if err != nil {
			tmpf.Close()
			os.Remove(tmp)
			return nil, fmt.Errorf("vulnerability database %s: %w", final, err)
		}
	}
	tmpf.Close()
	bdb, err := bolt.Open(tmp, 0o644, &bolt.Options{Timeout: time.Second})
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("vulnerability database %s: %w", tmp, err)
	}
	now := time.Now().UTC()
	var metas []RiskMeta
	err = bdb.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err != nil {
			return err
		}
		put := func(m RiskMeta) error {
			raw, _ := json.Marshal(m)
			metas = append(metas, m)
			return meta.Put([]byte(m.Kind), raw)
		}
		if len(w.aliases) > 0 {
			b, err := tx.CreateBucketIfNotExists(bucketAlias)
			if err != nil {
				return err
			}
			for id, r := range w.aliases {
				raw, _ := json.Marshal(r)
				if err := b.Put([]byte(id), raw); err != nil {
					return err
				}
			}
			if err := put(RiskMeta{Kind: "alias", Entries: len(w.aliases), Source: "OSV records with severities", UpdatedAt: now}); err != nil {
				return err
			}
		}
		replace := func(name []byte) (*bolt.Bucket, error) {
			if tx.Bucket(name) != nil {
				if err := tx.DeleteBucket(name); err != nil {
					return nil, err
				}
			}
			return tx.CreateBucket(name)
		}
		if w.kevSource != "" {
			b, err := replace(bucketKEV)
			if err != nil {
				return err
			}
			for _, k := range w.kev {
				raw, _ := json.Marshal(k)
				if err := b.Put([]byte(k.CVE), raw); err != nil {
					return err
				}
			}
			if err := put(RiskMeta{Kind: "kev", Entries: len(w.kev), Source: w.kevSource, Version: w.kevVersion, UpdatedAt: now}); err != nil {
				return err
			}
		}
		if w.epssSource != "" {
			b, err := replace(bucketEPSS)
			if err != nil {
				return err
			}
			for _, e := range w.epss {
				raw, _ := json.Marshal(e)
				if err := b.Put([]byte(e.CVE), raw); err != nil {
					return err
				}
			}
			if err := put(RiskMeta{Kind: "epss", Entries: len(w.epss), Source: w.epssSource, Version: w.epssVer, UpdatedAt: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := bdb.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("vulnerability database %s: %w", final, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("vulnerability database: %w", err)
	}
	return metas, nil
}

// RiskStatus returns the metadata of the risk sources in dir (none when
// the risk file is absent).
func RiskStatus(dir string) ([]RiskMeta, error) {
	p := filepath.Join(dir, riskFile)
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	f, err := openRead(p)
	if err != nil {
		return nil, fmt.Errorf("vulnerability database %s: %w", p, err)
	}
	defer f.Close()
	var out []RiskMeta
	err = f.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var m RiskMeta
			if json.Unmarshal(v, &m) == nil {
				out = append(out, m)
			}
			return nil
		})
	})
	return out, err
}

// riskDB opens the risk file once; nil when there is none.
func (d *DB) riskDB() (*bolt.DB, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.riskOpened {
		return d.risk, d.riskErr
	}
	d.riskOpened = true
	p := filepath.Join(d.dir, riskFile)
	if _, err := os.Stat(p); err != nil {
		return nil, nil
	}
	d.risk, d.riskErr = openRead(p)
	if d.riskErr != nil {
		d.riskErr = fmt.Errorf("vulnerability database %s: %w", p, d.riskErr)
	}
	return d.risk, d.riskErr
}

func (d *DB) riskGet(bucket []byte, key string, v any) (bool, error) {
	f, err := d.riskDB()
	if err != nil || f == nil {
		return false, err
	}
	found := false
	err = f.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		raw := b.Get([]byte(key))
		if raw == nil {
			return nil
		}
		found = true
		return json.Unmarshal(raw, v)
	})
	if err != nil {
		return false, fmt.Errorf("%s %s: %w", bucket, key, err)
	}
	return found, nil
}

// AliasRecord returns the severities kept of the record with this id
// (nil when none was imported).
func (d *DB) AliasRecord(id string) (*osv.Record, error) {
	var r osv.Record
	ok, err := d.riskGet(bucketAlias, id, &r)
	if !ok || err != nil {
		return nil, err
	}
	return &r, nil
}

// KnownExploited returns the KEV entry of a CVE (nil when not listed).
func (d *DB) KnownExploited(cve string) (*KEV, error) {
	var k KEV
	ok, err := d.riskGet(bucketKEV, cve, &k)
	if !ok || err != nil {
		return nil, err
	}
	return &k, nil
}

// EPSSScore returns the EPSS score of a CVE (nil when it has none).
func (d *DB) EPSSScore(cve string) (*EPSS, error) {
	var e EPSS
	ok, err := d.riskGet(bucketEPSS, cve, &e)
	if !ok || err != nil {
		return nil, err
	}
	return &e, nil
}

// HasRisk reports which risk sources the database holds.
func (d *DB) HasRisk() (kev, epss bool) {
	f, err := d.riskDB()
	if err != nil || f == nil {
		return false, false
	}
	f.View(func(tx *bolt.Tx) error {
		kev, epss = tx.Bucket(bucketKEV) != nil, tx.Bucket(bucketEPSS) != nil
		return nil
	})
	return kev, epss
}
