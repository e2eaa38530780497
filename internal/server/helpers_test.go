package server_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shipshape-dev/shipshape/internal/cli"
	"github.com/shipshape-dev/shipshape/internal/scan"
	"github.com/shipshape-dev/shipshape/internal/server"
	"github.com/shipshape-dev/shipshape/internal/vuln/db"
)

const testToken = "test-token-5f2c"

// testRecord is an OSV record that the test image's openssl matches.
const testRecord = `{"id":"ALPINE-CVE-2024-9143","aliases":["CVE-2024-9143"],"summary":"openssl out-of-bounds",
 "severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
 "affected":[{"package":{"ecosystem":"Alpine:v3.20","name":"openssl"},
   "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.3.2-r1"}]}]}]}`

// makeDB writes a one-record Alpine vulnerability database.
func makeDB(t testing.TB) string {
	t.Helper()
	work := t.TempDir()
	zp := filepath.Join(work, "Alpine-all.zip")
	f, err := os.Create(zp)
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(f)
	w, _ := zw.Create("ALPINE-CVE-2024-9143.json")
	w.Write([]byte(testRecord))
	zw.Close()
	f.Close()
	dir := filepath.Join(work, "db")
	im := db.NewImporter(dir)
	if err := im.AddZip(context.Background(), zp); err != nil {
		t.Fatal(err)
	}
	if _, err := im.Commit(func(string) db.Meta { return db.Meta{Source: "test"} }); err != nil {
		t.Fatal(err)
	}
	return dir
}

// syncBuffer is a log destination safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testServer is a server on a loopback listener.
type testServer struct {
	*server.Server
	URL     string
	Log     *syncBuffer
	Scanner *scan.Scanner
	cfg     server.Config
	http    *httptest.Server
}

// newServer starts a server; edit changes the config before New.
func newServer(t testing.TB, dbDir, cacheDir string, edit func(*server.Config)) *testServer {
	t.Helper()
	return newServerHTTP(t, dbDir, cacheDir, edit, nil)
}

// newServerHTTP is newServer with editHTTP changing the http.Server before
// it starts.
func newServerHTTP(t testing.TB, dbDir, cacheDir string, edit func(*server.Config), editHTTP func(*http.Server)) *testServer {
	t.Helper()
	if cacheDir == "" {
		cacheDir = t.TempDir()
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sc, err := scan.New(scan.Options{CacheDir: cacheDir, DBDir: dbDir, Insecure: true, ToolVersion: cli.Version, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{
		Scanner: sc, DBDir: dbDir, StateDir: filepath.Join(cacheDir, "server"), Insecure: true,
		Token: testToken, Workers: 2, Queue: 8, ToolVersion: cli.Version, Logger: log, ScanTimeout: time.Minute,
	}
	if edit != nil {
		edit(&cfg)
	}
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewUnstartedServer(nil)
	hs.Config = srv.NewHTTPServer("")
	if editHTTP != nil {
		editHTTP(hs.Config)
	}
	hs.Start()
	ts := &testServer{Server: srv, URL: hs.URL, Log: logs, Scanner: sc, cfg: cfg, http: hs}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
		sc.Close()
	})
	return ts
}

// do sends a request with the test token and returns status, headers and
// body.
func (ts *testServer) do(t testing.TB, method, path string, body []byte, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, ts.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	c := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	checkOwnAPI(t, req, resp, b)
	return resp.StatusCode, resp.Header, b
}

// submit posts a scan and returns its id.
func (ts *testServer) submit(t testing.TB, body string) string {
	t.Helper()
	code, _, b := ts.do(t, "POST", "/v1/scans", []byte(body), nil)
	if code != http.StatusAccepted {
		t.Fatalf("POST /v1/scans %s: %d %s", body, code, b)
	}
	var a server.ScanAccepted
	if err := json.Unmarshal(b, &a); err != nil || a.ID == "" {
		t.Fatalf("POST /v1/scans: %s (%v)", b, err)
	}
	return a.ID
}

// wait polls a scan until it is done or failed.
func (ts *testServer) wait(t testing.TB, id string, limit time.Duration) server.JobStatus {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		code, _, b := ts.do(t, "GET", "/v1/scans/"+id, nil, nil)
		if code != http.StatusOK {
			t.Fatalf("GET /v1/scans/%s: %d %s", id, code, b)
		}
		var st server.JobStatus
		if err := json.Unmarshal(b, &st); err != nil {
			t.Fatal(err)
		}
		if st.Status == server.StatusDone || st.Status == server.StatusFailed {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("scan %s still %s after %s", id, st.Status, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// hangingRegistry accepts connections and never answers.
func hangingRegistry(t testing.TB) string {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	}))
	t.Cleanup(func() { hs.CloseClientConnections(); hs.Close() })
	return strings.TrimPrefix(hs.URL, "http://")
}
