package probe

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestGetRetriesUntilTheServiceListens(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens yet
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte("body"))
	})}
	go func() {
		time.Sleep(400 * time.Millisecond)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return
		}
		srv.Serve(l)
	}()
	defer srv.Close()
	h := HTTP{Timeout: 10 * time.Second}
	r := h.Get(context.Background(), "GET /", addr, "/")
	if r.Error != "" || r.Status != 200 || r.Bytes != 4 || r.Hash != "230d8358dc8e8890b4c58deeb62912ee2f20357ae92a5cc861b98e68fe31acb5" {
		t.Errorf("GET / = %+v", r)
	}
	if r := h.Get(context.Background(), "GET /missing", addr, "/missing"); r.Status != 404 {
		t.Errorf("GET /missing = %+v", r)
	}
	short := HTTP{Timeout: 300 * time.Millisecond}
	if r := short.Get(context.Background(), "GET /", "127.0.0.1:1", "/"); r.Error == "" {
		t.Errorf("closed port: %+v", r)
	}
}

func TestCompare(t *testing.T) {
	before := []Result{
		{Kind: "http", Name: "GET 80/tcp /", Status: 200, Hash: "aa", Bytes: 2},
		{Kind: "http", Name: "GET 80/tcp /a", Status: 200, Hash: "bb", Bytes: 2},
		{Kind: "http", Name: "GET 80/tcp /b", Status: 200, Hash: "cc", Bytes: 2},
		{Kind: "exec", Name: "app --version", ExitCode: 0, Hash: "dd"},
		{Kind: "exec", Name: "app check", ExitCode: 0, Hash: "ee"},
		{Kind: "script", Name: "probe.sh", ExitCode: 0, Hash: "ff"},
	}
	after := []Result{
		{Kind: "http", Name: "GET 80/tcp /", Status: 200, Hash: "aa", Bytes: 2},
		{Kind: "http", Name: "GET 80/tcp /a", Status: 500, Hash: "00", Bytes: 2},
		{Kind: "http", Name: "GET 80/tcp /b", Status: 200, Hash: "99", Bytes: 3},
		{Kind: "exec", Name: "app --version", ExitCode: 127, Output: "not found"},
		{Kind: "exec", Name: "app check", ExitCode: 0, Hash: "ee"},
	}
	got := Compare(before, after)
	want := []string{
		"http GET 80/tcp /a: HTTP status 500, was 200",
		"http GET 80/tcp /b: response differs",
		"exec app --version: exit code 127, was 0",
		"script probe.sh: not run on the slimmed image",
	}
	if len(got) != len(want) {
		t.Fatalf("Compare = %q", got)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("diff %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
	if d := Compare(before, before); len(d) != 0 {
		t.Errorf("identical runs differ: %q", d)
	}
}

func TestLinks(t *testing.T) {
	srv := http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<a href="/a">a</a> <A HREF='b/c?x=1&amp;y=2'>b</A> <img src="/a"> <a href="http://elsewhere.example/x">no</a>
<a href="#top">no</a> <script src="/static/app.js"></script> <a href="mailto:x@example.com">no</a>`))
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	r := HTTP{Timeout: 5 * time.Second}.Get(context.Background(), "GET /dir/", ln.Addr().String(), "/dir/")
	want := []string{"/a", "/dir/b/c?x=1&y=2", "/static/app.js"}
	if strings.Join(r.Links, " ") != strings.Join(want, " ") {
		t.Errorf("links = %q, want %q", r.Links, want)
	}
}

func TestSucceeded(t *testing.T) {
	tests := []struct {
		r    Result
		want bool
	}{
		{Result{Kind: "http", Status: 200}, true},
		{Result{Kind: "http", Status: 404}, true},
		{Result{Kind: "http", Status: 503}, false},
		{Result{Kind: "http", Error: "no answer within 10s"}, false},
		{Result{Kind: "exec", ExitCode: 0}, true},
		{Result{Kind: "exec", ExitCode: 1}, false},
		{Result{Kind: "exec", ExitCode: -1, Error: "exec: not found"}, false},
		{Result{Kind: "script", ExitCode: 2}, false},
		{Result{Kind: "main", ExitCode: 0}, true},
		{Result{Kind: "main", ExitCode: 3}, false},
		{Result{Kind: "main", Running: true}, true},
	}
	for _, tt := range tests {
		if got := tt.r.Succeeded(); got != tt.want {
			t.Errorf("%+v.Succeeded() = %v, want %v", tt.r, got, tt.want)
		}
	}
}

func TestCompareSucceededThenNeverReached(t *testing.T) {
	tests := []struct {
		name          string
		before, after Result
		want          string // "" = no difference
	}{
		{"same failure twice", Result{Kind: "http", Name: "GET /", Error: "no answer"}, Result{Kind: "http", Name: "GET /", Error: "no answer"}, ""},
		{"answered, then no answer", Result{Kind: "http", Name: "GET /", Status: 200, Hash: "a"}, Result{Kind: "http", Name: "GET /", Error: "no answer within 10s"}, "failed on the slimmed image"},
		{"running, then exited", Result{Kind: "main", Name: "main process", Running: true}, Result{Kind: "main", Name: "main process", ExitCode: 0}, "exited with code 0 on the slimmed image, still running on the original"},
		{"server error same status, different body ok", Result{Kind: "http", Name: "GET /", Status: 200, Hash: "a"}, Result{Kind: "http", Name: "GET /", Status: 200, Hash: "a"}, ""},
	}
	for _, tt := range tests {
		got := Compare([]Result{tt.before}, []Result{tt.after})
		if tt.want == "" && len(got) > 0 || tt.want != "" && (len(got) != 1 || !strings.Contains(got[0], tt.want)) {
			t.Errorf("%s: Compare = %q, want %q", tt.name, got, tt.want)
		}
	}
	if n := Answered([]Result{{Kind: "http", Name: "GET /", Error: "x"}}, []Result{{Kind: "http", Name: "GET /", Error: "x"}}); n != 0 {
		t.Errorf("two equal failures counted as %d answered probes", n)
	}
}
