package server_test

import (
	"archive/zip"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/server"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// writeExport writes an OSV export of the records to repo/ECO/all.zip,
// as a company mirror holds it.
func writeExport(t *testing.T, repo, eco string, records map[string]string) {
	t.Helper()
	os.MkdirAll(filepath.Join(repo, eco), 0o755)
	tmp := filepath.Join(repo, eco, ".all.zip.tmp")
	f, err := os.Create(tmp)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	for name, rec := range records {
		w, _ := zw.Create(name)
		w.Write([]byte(rec))
	}
	zw.Close()
	f.Close()
	if err := os.Rename(tmp, filepath.Join(repo, eco, "all.zip")); err != nil {
		t.Fatal(err)
	}
}

func scanReport(t *testing.T, ts *testServer, ref string) *scorecard.Report {
	t.Helper()
	id := ts.submit(t, `{"image":"`+ref+`"}`)
	if st := ts.wait(t, id, time.Minute); st.Status != server.StatusDone {
		t.Fatalf("scan: %+v", st)
	}
	_, _, b := ts.do(t, "GET", "/v1/scans/"+id+"/report", nil, nil)
	var rep scorecard.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return &rep
}

func p5(rep *scorecard.Report) scorecard.PracticeResult {
	for _, p := range rep.Practices {
		if p.ID == scorecard.P5 {
			return p
		}
	}
	return scorecard.PracticeResult{}
}

func hasFinding(rep *scorecard.Report, id string) bool {
	b, _ := json.Marshal(rep.Findings)
	return strings.Contains(string(b), id)
}

// A replica's database comes from the shared location, is refreshed from
// it while the server runs (new scans see the new records), and once it
// is older than --db-max-age every report, /readyz and GET /v1/db say so.
func TestDBRefreshAndMaxAge(t *testing.T) {
	host := testenv.Registry(t)
	pushApp(t, alpineBase(t), host, "team/app:1", 1)
	ref := "docker://" + host + "/team/app:1"
	repo := t.TempDir()
	// First the mirror knows the vulnerability as fixed in the version
	// the image has.
	old := strings.Replace(testRecord, `"fixed":"3.3.2-r1"`, `"fixed":"3.3.2-r0"`, 1)
	writeExport(t, repo, "Alpine", map[string]string{"ALPINE-CVE-2024-9143.json": old})
	var skew atomic.Int64
	dbDir := filepath.Join(t.TempDir(), "vulndb")
	ts := newServer(t, dbDir, "", func(c *server.Config) {
		c.DBRepository, c.DBRefresh, c.DBMaxAge = repo, 100*time.Millisecond, time.Hour
		c.Now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	})
	var st server.DBStatus
	_, _, b := ts.do(t, "GET", "/v1/db", nil, nil)
	json.Unmarshal(b, &st)
	if len(st.Ecosystems) != 1 || st.Repository != repo || st.RefreshedAt == nil || st.Stale != "" || st.MaxAge != "1h0m0s" {
		t.Fatalf("db status after the first refresh: %s", b)
	}
	if rep := scanReport(t, ts, ref); hasFinding(rep, "CVE-2024-9143") || p5(rep).Status != scorecard.Pass {
		t.Fatalf("scan with the old mirror: P5 %+v", p5(rep))
	}

	// The mirror is updated: the replica refreshes and reloads.
	writeExport(t, repo, "Alpine", map[string]string{"ALPINE-CVE-2024-9143.json": testRecord})
	deadline := time.Now().Add(20 * time.Second)
	for {
		rep := scanReport(t, ts, ref)
		if hasFinding(rep, "CVE-2024-9143") {
			if len(rep.Warnings) != 0 {
				t.Errorf("fresh database, yet warnings %q", rep.Warnings)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the refreshed database never reached the scans")
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Two hours later with the mirror unchanged: stale, and said so.
	skew.Store(int64(2 * time.Hour))
	rep := scanReport(t, ts, ref)
	if len(rep.Warnings) == 0 || !strings.Contains(rep.Warnings[len(rep.Warnings)-1], "over --db-max-age 1h0m0s") ||
		!strings.Contains(p5(rep).Summary, "vulnerability database is 2h") {
		t.Errorf("stale database not reported: warnings %q, P5 %q", rep.Warnings, p5(rep).Summary)
	}
	code, _, b := ts.do(t, "GET", "/readyz", nil, nil)
	if code != 200 || !strings.Contains(string(b), "over --db-max-age") {
		t.Errorf("readyz with a stale database: %d %s", code, b)
	}
	_, _, b = ts.do(t, "GET", "/v1/db", nil, nil)
	if !strings.Contains(string(b), `"stale": "the vulnerability database is 2h`) {
		t.Errorf("GET /v1/db with a stale database: %s", b)
	}

	// The mirror goes away: the failed refresh is reported, the copy kept.
	os.RemoveAll(filepath.Join(repo, "Alpine"))
	for i := 0; ; i++ {
		_, _, b = ts.do(t, "GET", "/readyz", nil, nil)
		if strings.Contains(string(b), "last refresh of the vulnerability database failed") {
			break
		}
		if i > 100 {
			t.Fatalf("failed refresh not in readyz: %s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if rep := scanReport(t, ts, ref); !hasFinding(rep, "CVE-2024-9143") || !strings.Contains(strings.Join(rep.Warnings, "\n"), "last refresh from "+repo+" failed") {
		t.Errorf("scan after the mirror went: warnings %q", rep.Warnings)
	}
}
