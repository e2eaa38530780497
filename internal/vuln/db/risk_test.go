package db

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/shipshape-dev/shipshape/internal/vuln/osv"
)

const riskData = "../../../testdata/data/risk/"

func TestParseRiskExcerpts(t *testing.T) {
	f, err := os.Open(riskData + "known_exploited_vulnerabilities.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	kev, version, err := ParseKEV(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(kev) != 2 || version != "2025.06.02" || kev[0].CVE != "CVE-2023-44487" || kev[0].DateAdded != "2023-10-10" || kev[1].Ransomware != "Known" {
		t.Errorf("KEV = %+v (version %q)", kev, version)
	}

	g, err := os.Open(riskData + "epss_scores-2025-06-02.csv.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	scores, version, err := ParseEPSS(g)
	if err != nil {
		t.Fatal(err)
	}
	if len(scores) != 6 || version != "model v2025.03.14 scored 2025-06-02" {
		t.Fatalf("EPSS = %+v (version %q)", scores, version)
	}
	if s := scores[1]; s.CVE != "CVE-2023-44487" || s.Score != 0.9443 || s.Percentile != 0.99977 || s.Date != "2025-06-02" {
		t.Errorf("EPSS row = %+v", s)
	}
}

func TestParseRiskRejects(t *testing.T) {
	for name, in := range map[string]string{
		"kev not json":     "not json",
		"kev no array":     `{"catalogVersion":"1"}`,
		"epss bad header":  "cve,score\nCVE-1,0.1\n",
		"epss empty input": "",
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			if strings.HasPrefix(name, "kev") {
				_, _, err = ParseKEV(strings.NewReader(in))
			} else {
				_, _, err = ParseEPSS(strings.NewReader(in))
			}
			if err == nil {
				t.Error("no error")
			}
		})
	}
	// Rows out of range or not naming a CVE are dropped, not trusted.
	scores, _, err := ParseEPSS(strings.NewReader("cve,epss,percentile\nCVE-2024-1,1.5,0.2\nGHSA-x,0.1,0.1\nCVE-2024-2,0.25,0.5\n"))
	if err != nil || len(scores) != 1 || scores[0].CVE != "CVE-2024-2" {
		t.Errorf("scores = %+v, %v", scores, err)
	}
}

// TestImportRisk imports the KEV and EPSS excerpts with OSV records: the
// alias record (a GHSA affecting an ecosystem not asked for, and a CVE
// record without any affected package) is kept for its severity.
func TestImportRisk(t *testing.T) {
	dir := t.TempDir()
	src := t.TempDir()
	goRec := record("GO-2099-0001", "Go", "example.com/m", "1.2.0")
	goRec.Aliases = []string{"CVE-2023-44487", "GHSA-aaaa-bbbb-cccc"}
	ghsa := record("GHSA-aaaa-bbbb-cccc", "npm", "other", "1.0.0")
	ghsa.Severity = []osv.Severity{{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}}
	cveOnly := &osv.Record{ID: "CVE-2099-1", Severity: []osv.Severity{{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}}
	os.WriteFile(filepath.Join(src, "Go-all.zip"), zipOf(t, goRec, ghsa, cveOnly), 0o644)

	im := NewImporter(dir)
	im.Only = map[string]bool{"Go": true}
	for _, p := range []string{filepath.Join(src, "Go-all.zip"), riskData + "known_exploited_vulnerabilities.json", riskData + "epss_scores-2025-06-02.csv.gz"} {
		if err := im.AddPath(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	metas, err := im.Commit(nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, m := range metas {
		got[m.Ecosystem] = m.Records
	}
	if got["Go"] != 1 || got["CISA KEV"] != 2 || got["EPSS"] != 6 || got["aliases"] != 2 {
		t.Errorf("imported = %v", got)
	}
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if k, err := d.KnownExploited("CVE-2023-44487"); err != nil || k == nil || k.DateAdded != "2023-10-10" {
		t.Errorf("KEV lookup = %+v, %v", k, err)
	}
	if k, err := d.KnownExploited("CVE-2023-39325"); err != nil || k != nil {
		t.Errorf("KEV lookup of an unlisted CVE = %+v, %v", k, err)
	}
	if e, err := d.EPSSScore("CVE-2021-44228"); err != nil || e == nil || e.Score != 0.94358 {
		t.Errorf("EPSS lookup = %+v, %v", e, err)
	}
	for _, id := range []string{"GHSA-aaaa-bbbb-cccc", "CVE-2099-1"} {
		if r, err := d.AliasRecord(id); err != nil || r == nil || len(r.Severity) != 1 {
			t.Errorf("alias %s = %+v, %v", id, r, err)
		}
	}
	if r, _ := d.AliasRecord("GO-2099-0001"); r != nil {
		t.Errorf("a record without severity was kept as alias: %+v", r)
	}

	// A second import of OSV records only keeps KEV and EPSS and adds to
	// the aliases.
	im = NewImporter(dir)
	other := &osv.Record{ID: "CVE-2099-2", Severity: []osv.Severity{{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}}
	if err := im.Add(other); err != nil {
		t.Fatal(err)
	}
	if _, err := im.Commit(nil); err != nil {
		t.Fatal(err)
	}
	d2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d2.Close()
	for _, id := range []string{"CVE-2099-1", "CVE-2099-2"} {
		if r, _ := d2.AliasRecord(id); r == nil {
			t.Errorf("alias %s lost", id)
		}
	}
	if kev, epss := d2.HasRisk(); !kev || !epss {
		t.Errorf("HasRisk = %v %v after an OSV-only import", kev, epss)
	}
	rs, err := RiskStatus(dir)
	if err != nil || len(rs) != 3 {
		t.Errorf("RiskStatus = %+v, %v", rs, err)
	}
}

// TestUpdateRisk fetches KEV and EPSS over HTTP and from a path.
func TestUpdateRisk(t *testing.T) {
	kev, _ := os.ReadFile(riskData + "known_exploited_vulnerabilities.json")
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/kev.json":
			w.Write(kev)
		case "/Go/all.zip":
			w.Write(zipOf(t, record("GO-2099-0001", "Go", "example.com/m", "1.2.0")))
		default:
			http.NotFound(w, r)
		}
	}))
	defer ts.Close()
	dir := t.TempDir()
	epss, _ := filepath.Abs(riskData + "epss_scores-2025-06-02.csv.gz")
	u := &Updater{Dir: dir, Repository: ts.URL, KEVURL: ts.URL + "/kev.json", EPSSURL: "file://" + epss}
	res, err := u.Update(context.Background(), []string{"Go"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, r := range res {
		got[r.Ecosystem] = r.Records
	}
	if got["Go"] != 1 || got["CISA KEV"] != 2 || got["EPSS"] != 6 {
		t.Errorf("update = %+v", res)
	}
	// A broken source is an error that keeps the old copy.
	u = &Updater{Dir: dir, Repository: ts.URL, KEVURL: ts.URL + "/missing.json", EPSSURL: "-"}
	if _, err := u.Update(context.Background(), []string{"Go"}); err == nil || !strings.Contains(err.Error(), "CISA KEV") {
		t.Errorf("missing KEV: err = %v", err)
	}
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if k, _ := d.KnownExploited("CVE-2021-44228"); k == nil {
		t.Error("the old KEV copy was lost")
	}
	// A mirror repository fetches no risk data unless asked.
	if k, e := (&Updater{Repository: ts.URL}).riskSources(); k != "" || e != "" {
		t.Errorf("mirror risk sources = %q %q", k, e)
	}
	if k, e := (&Updater{}).riskSources(); k != DefaultKEVURL || e != DefaultEPSSURL {
		t.Errorf("default risk sources = %q %q", k, e)
	}
}

// TestUpdateReplacesOldSchema: a file of an older layout is downloaded
// again even when the server says it has not changed (a 304 would keep a
// file scans no longer read).
func TestUpdateReplacesOldSchema(t *testing.T) {
	srv := &server{etag: `"v1"`, zips: map[string][]byte{"Go": zipOf(t, record("GO-1", "Go", "golang.org/x/text", "0.3.8"))}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	dir := t.TempDir()
	u := &Updater{Dir: dir, Repository: ts.URL}
	if _, err := u.Update(context.Background(), []string{"Go"}); err != nil {
		t.Fatal(err)
	}
	// Rewrite the meta as schema 1.
	p := filepath.Join(dir, fileName("Go"))
	f, err := bolt.Open(p, 0o644, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = f.Update(func(tx *bolt.Tx) error {
		var m Meta
		json.Unmarshal(tx.Bucket(bucketMeta).Get(keyMeta), &m)
		m.Schema = 1
		raw, _ := json.Marshal(m)
		return tx.Bucket(bucketMeta).Put(keyMeta, raw)
	})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	res, err := u.Update(context.Background(), []string{"Go"})
	if err != nil || res[0].Status != "updated" {
		t.Errorf("update over a schema-1 file = %+v, %v", res, err)
	}
	if m, _ := ReadMeta(dir, "Go"); m == nil || m.Schema != SchemaVersion {
		t.Errorf("meta = %+v", m)
	}
}

// TestUpdateKeepsAliases: `db update` keeps the CVSS of records of every
// ecosystem it fetched, for the records naming them as aliases.
func TestUpdateKeepsAliases(t *testing.T) {
	ghsa := record("GHSA-aaaa-bbbb-cccc", "Go", "example.com/m", "1.2.0")
	ghsa.Severity = []osv.Severity{{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}}
	rust := record("RUSTSEC-2099-1", "crates.io", "time", "0.2.23")
	rust.Severity = []osv.Severity{{Type: "CVSS_V4", Score: "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}}
	srv := &server{etag: `"v1"`, zips: map[string][]byte{"Go": zipOf(t, ghsa), "crates.io": zipOf(t, rust)}}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	dir := t.TempDir()
	if _, err := (&Updater{Dir: dir, Repository: ts.URL}).Update(context.Background(), []string{"Go", "crates.io"}); err != nil {
		t.Fatal(err)
	}
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, id := range []string{"GHSA-aaaa-bbbb-cccc", "RUSTSEC-2099-1"} {
		if r, err := d.AliasRecord(id); err != nil || r == nil || len(r.Severity) != 1 {
			t.Errorf("alias %s = %+v, %v", id, r, err)
		}
	}
}
