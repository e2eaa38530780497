package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestServerCommand runs "shipshape server" until its context ends (what
// SIGTERM does through main) and checks its JSON logs, token and probes.
func TestServerCommand(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := Main(ctx, []string{"server", "--listen", "127.0.0.1:0", "--token-file", tokenFile,
			"--cache-dir", filepath.Join(dir, "cache"), "--db-dir", filepath.Join(dir, "db")}, strings.NewReader(""), io.Discard, pw)
		pw.Close()
		done <- code
	}()
	lines := bufio.NewScanner(pr)
	var addr string
	var logs []string
	for lines.Scan() {
		logs = append(logs, lines.Text())
		var rec map[string]any
		if err := json.Unmarshal(lines.Bytes(), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", lines.Text())
		}
		if rec["msg"] == "serving" {
			addr, _ = rec["addr"].(string)
			break
		}
	}
	if addr == "" {
		t.Fatalf("no serving line in %q", logs)
	}
	go func() { // keep reading the logs
		for lines.Scan() {
			logs = append(logs, lines.Text())
		}
	}()
	get := func(path, token string) int {
		req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		path, token string
		want        int
	}{
		{"/healthz", "", 200},
		{"/readyz", "", 503}, // no database yet
		{"/v1/db", "", 401},
		{"/v1/db", "wrong", 401},
		{"/v1/db", "s3cret", 200},
	} {
		if got := get(c.path, c.token); got != c.want {
			t.Errorf("GET %s with token %q: %d, want %d", c.path, c.token, got, c.want)
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("server exit %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("server did not stop")
	}
}

func TestServerToken(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	if _, err := serverToken(empty); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty token file: %v", err)
	}
	if _, err := serverToken(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing token file: no error")
	}
	t.Setenv(envServerToken, " tok ")
	if tok, err := serverToken(""); tok != "tok" || err != nil {
		t.Errorf("token from the environment: %q %v", tok, err)
	}
}
