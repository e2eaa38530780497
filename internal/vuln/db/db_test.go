package db

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/vuln/osv"
)

func record(id, eco, name, fixed string) *osv.Record {
	return &osv.Record{ID: id, Modified: "2024-01-02T00:00:00Z", Affected: []osv.Affected{{
		Package: osv.Package{Ecosystem: eco, Name: name},
		Ranges:  []osv.Range{{Type: "ECOSYSTEM", Events: []osv.Event{{Introduced: "0"}, {Fixed: fixed}}}},
	}}}
}

// zipOf writes records as an OSV all.zip.
func zipOf(t testing.TB, recs ...*osv.Record) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, r := range recs {
		w, err := zw.Create(r.ID + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.NewEncoder(w).Encode(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func ids(rs []*osv.Record) string {
	var s []string
	for _, r := range rs {
		s = append(s, r.ID)
	}
	return strings.Join(s, ",")
}

func TestImportAndLookup(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(t.TempDir(), "all.zip")
	withdrawn := record("GHSA-old", "PyPI", "Django", "1.0")
	withdrawn.Withdrawn = "2024-01-01T00:00:00Z"
	multi := record("GHSA-multi", "PyPI", "requests", "2.0")
	multi.Affected = append(multi.Affected, record("", "npm", "requests", "9.9").Affected...)
	os.WriteFile(in, zipOf(t,
		record("PYSEC-1", "PyPI", "Django", "4.2.1"),
		record("USN-1", "Ubuntu:22.04:LTS", "openssl", "3.0.2-0ubuntu1.15"),
		record("RHSA-2024:0001", "Red Hat:enterprise_linux:9::appstream", "openssl", "1:3.0.7-25.el9_3"),
		withdrawn, multi,
	), 0o644)
	// A broken record is skipped, not fatal.
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte("{not json"), 0o644)

	im := NewImporter(dir)
	if err := im.AddPath(context.Background(), in); err != nil {
		t.Fatal(err)
	}
	if err := im.AddPath(context.Background(), bad); err != nil {
		t.Fatal(err)
	}
	// Every record read is imported or skipped with its reason.
	noEco := &osv.Record{ID: "X-1", Affected: []osv.Affected{{Package: osv.Package{Name: "x"}}}}
	noName := record("PYSEC-2", "PyPI", "", "1.0")
	dup := record("PYSEC-1", "PyPI", "Django", "4.2.1")
	for _, r := range []*osv.Record{noEco, noName, dup} {
		if err := im.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int{SkipWithdrawn: 1, SkipUnparseable: 1, SkipNoEcosystem: 1, SkipNoPackage: 1, SkipDuplicate: 1}
	if fmt.Sprint(im.SkipCounts) != fmt.Sprint(want) || len(im.Skipped) != 5 {
		t.Errorf("skipped = %v\n%v", im.SkipCounts, im.Skipped)
	}
	skipped := 0
	for _, n := range im.SkipCounts {
		skipped += n
	}
	if im.Read != 9 || im.Imported != 4 || im.Read != im.Imported+skipped {
		t.Errorf("read %d = imported %d + skipped %d?", im.Read, im.Imported, skipped)
	}
	if _, err := im.Commit(nil); err != nil {
		t.Fatal(err)
	}
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, c := range []struct{ eco, name, want string }{
		{"PyPI", "django", "PYSEC-1"},      // PEP 503 names
		{"PyPI", "Requests", "GHSA-multi"}, // indexed under PyPI …
		{"npm", "requests", "GHSA-multi"},  // … and npm
		{"Ubuntu:22.04", "openssl", "USN-1"},
		{"Ubuntu:20.04", "openssl", ""},
		{"Red Hat:enterprise_linux:9", "openssl", "RHSA-2024:0001"}, // any repository variant
		{"Red Hat:enterprise_linux:8", "openssl", ""},
		{"Go", "x", ""},
	} {
		rs, err := d.Lookup(c.eco, c.name)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(rs); got != c.want {
			t.Errorf("Lookup(%s, %s) = %q, want %q", c.eco, c.name, got, c.want)
		}
	}
	st, err := Status(dir)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, m := range st {
		got[m.Ecosystem] = m.Records
	}
	if got["PyPI"] != 2 || got["npm"] != 1 || got["Ubuntu"] != 1 || got["Red Hat"] != 1 {
		t.Errorf("status = %v", got)
	}
}

func TestOpenEmpty(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "none")); err != ErrNoDatabase {
		t.Errorf("Open(empty) = %v, want ErrNoDatabase", err)
	}
}

// server serves ECOSYSTEM/all.zip with an ETag, counting full downloads.
type server struct {
	mu        sync.Mutex
	zips      map[string][]byte
	etag      string
	downloads atomic.Int32
	fail      atomic.Bool
	truncate  atomic.Bool
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail.Load() {
		http.Error(w, "boom", http.StatusInternalServerError)
		return
	}
	eco := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/all.zip")
	b, ok := s.zips[eco]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("If-None-Match") == s.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	s.downloads.Add(1)
	w.Header().Set("ETag", s.etag)
	w.Header().Set("Content-Length", fmt.Sprint(len(b)))
	if s.truncate.Load() {
		w.Write(b[:len(b)/2])
		return
	}
	w.Write(b)
}

func TestUpdateConditionalAndAtomic(t *testing.T) {
	srv := &server{etag: `"v1"`, zips: map[string][]byte{}}
	srv.zips["Go"] = zipOf(t, record("GO-1", "Go", "golang.org/x/text", "0.3.8"))
	srv.zips["crates.io"] = zipOf(t, record("RUSTSEC-1", "crates.io", "time", "0.2.23"))
	ts := httptest.NewServer(srv)
	defer ts.Close()
	dir := t.TempDir()
	u := &Updater{Dir: dir, Repository: ts.URL}
	ctx := context.Background()

	res, err := u.Update(ctx, []string{"Go", "crates.io"})
	if err != nil || len(res) != 2 || res[0].Status != "updated" || res[0].Records != 1 {
		t.Fatalf("first update = %+v, %v", res, err)
	}
	// Unchanged on the server: a 304, no download.
	res, err = u.Update(ctx, []string{"Go"})
	if err != nil || res[0].Status != "unchanged" || srv.downloads.Load() != 2 {
		t.Fatalf("second update = %+v, %v (downloads %d)", res, err, srv.downloads.Load())
	}

	// A reader opened now keeps working while updates replace files.
	reader, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if rs, _ := reader.Lookup("Go", "golang.org/x/text"); ids(rs) != "GO-1" {
		t.Fatalf("before: %q", ids(rs))
	}

	// A failing server and a truncated download leave the old data.
	srv.mu.Lock()
	srv.etag = `"v2"`
	srv.zips["Go"] = zipOf(t, record("GO-1", "Go", "golang.org/x/text", "0.3.8"), record("GO-2", "Go", "golang.org/x/text", "0.3.9"))
	srv.mu.Unlock()
	srv.fail.Store(true)
	if _, err := u.Update(ctx, []string{"Go"}); err == nil {
		t.Error("update against a failing server succeeded")
	}
	srv.fail.Store(false)
	srv.truncate.Store(true)
	if _, err := u.Update(ctx, []string{"Go"}); err == nil {
		t.Errorf("truncated download: err = %v", err)
	}
	srv.truncate.Store(false)
	if m, _ := ReadMeta(dir, "Go"); m == nil || m.Records != 1 || m.ETag != `"v1"` {
		t.Errorf("after failures meta = %+v, want the v1 data", m)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// Concurrent readers during a real update.
	var wg sync.WaitGroup
	stop := make(chan struct{})
	var readErr atomic.Value
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				d, err := Open(dir)
				if err == nil {
					_, err = d.Lookup("Go", "golang.org/x/text")
					d.Close()
				}
				if err != nil {
					readErr.Store(err)
					return
				}
			}
		}()
	}
	res, err = u.Update(ctx, []string{"Go"})
	close(stop)
	wg.Wait()
	if err != nil || res[0].Status != "updated" || res[0].Records != 2 {
		t.Fatalf("third update = %+v, %v", res, err)
	}
	if e := readErr.Load(); e != nil {
		t.Errorf("concurrent reader failed: %v", e)
	}
	// The old reader still sees its snapshot; a new one sees the update.
	if rs, _ := reader.Lookup("Go", "golang.org/x/text"); ids(rs) != "GO-1" {
		t.Errorf("old reader: %q", ids(rs))
	}
	fresh, _ := Open(dir)
	defer fresh.Close()
	if rs, _ := fresh.Lookup("Go", "golang.org/x/text"); ids(rs) != "GO-1,GO-2" {
		t.Errorf("new reader: %q", ids(rs))
	}
}

func TestUpdateFromDirectoryMirror(t *testing.T) {
	mirror := t.TempDir()
	os.MkdirAll(filepath.Join(mirror, "Alpine"), 0o755)
	os.WriteFile(filepath.Join(mirror, "Alpine", "all.zip"), zipOf(t, record("ALPINE-CVE-1", "Alpine:v3.20", "openssl", "3.3.2-r1")), 0o644)
	dir := t.TempDir()
	res, err := (&Updater{Dir: dir, Repository: mirror}).Update(context.Background(), []string{"Alpine"})
	if err != nil || res[0].Records != 1 {
		t.Fatalf("update = %+v, %v", res, err)
	}
	if res[0].Status != "updated" {
		t.Errorf("first update: %+v", res[0])
	}
	// The same mirror file again: nothing changed, and it says so.
	res, err = (&Updater{Dir: dir, Repository: mirror}).Update(context.Background(), []string{"Alpine"})
	if err != nil || res[0].Status != "unchanged" || res[0].Records != 1 {
		t.Fatalf("second update = %+v, %v", res, err)
	}
	// file:// names another source: imported once, then unchanged.
	res, err = (&Updater{Dir: dir, Repository: "file://" + mirror}).Update(context.Background(), []string{"Alpine"})
	if err != nil || res[0].Records != 1 {
		t.Fatalf("file:// update = %+v, %v", res, err)
	}
	withdrawn := record("ALPINE-CVE-0", "Alpine:v3.20", "busybox", "1.0")
	withdrawn.Withdrawn = "2024-01-01T00:00:00Z"
	os.WriteFile(filepath.Join(mirror, "Alpine", "all.zip"), zipOf(t, record("ALPINE-CVE-1", "Alpine:v3.20", "openssl", "3.3.2-r1"),
		record("ALPINE-CVE-2", "Alpine:v3.20", "musl", "1.2.5-r1"), withdrawn), 0o644)
	res, err = (&Updater{Dir: dir, Repository: "file://" + mirror}).Update(context.Background(), []string{"Alpine"})
	if err != nil || res[0].Status != "updated" || res[0].Records != 2 || res[0].Skipped[SkipWithdrawn] != 1 {
		t.Fatalf("update after the mirror changed = %+v, %v", res, err)
	}
}
