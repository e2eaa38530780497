package cli

import (
	"archive/zip"
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
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

// selfSigned writes a certificate and key for 127.0.0.1 and returns the
// file names and a pool that trusts the certificate.
func selfSigned(t *testing.T, dir string) (string, string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "shipshape test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestServerCommandTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := Main(ctx, []string{"server", "--listen", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile,
			"--cache-dir", filepath.Join(dir, "cache"), "--db-dir", filepath.Join(dir, "db")}, strings.NewReader(""), io.Discard, pw)
		pw.Close()
		done <- code
	}()
	lines := bufio.NewScanner(pr)
	var addr string
	for addr == "" && lines.Scan() {
		var rec map[string]any
		json.Unmarshal(lines.Bytes(), &rec)
		if rec["msg"] == "serving" && rec["tls"] == true {
			addr, _ = rec["addr"].(string)
		}
	}
	go io.Copy(io.Discard, pr)
	if addr == "" {
		t.Fatal("no TLS serving line")
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}, Timeout: 10 * time.Second}
	resp, err := hc.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Errorf("healthz over TLS: %d", resp.StatusCode)
	}
	if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
		if resp.StatusCode == 200 {
			t.Error("plain HTTP answered on the TLS port")
		}
		resp.Body.Close()
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d", code)
	}
	var out, errb strings.Builder
	if code := Main(context.Background(), []string{"server", "--tls-cert", certFile}, strings.NewReader(""), &out, &errb); code != 2 || !strings.Contains(errb.String(), "go together") {
		t.Errorf("--tls-cert alone: exit %d %s", code, errb.String())
	}
}

// "shipshape server --db-repository DIR --db-max-age D": the replica fills
// its database from the shared directory at start and says when it is
// older than the maximum age.
func TestServerCommandDBRepository(t *testing.T) {
	dir := t.TempDir()
	repo := filepath.Join(dir, "mirror")
	os.MkdirAll(filepath.Join(repo, "Alpine"), 0o755)
	zf, err := os.Create(filepath.Join(repo, "Alpine", "all.zip"))
	if err != nil {
		t.Fatal(err)
	}
	zw := zip.NewWriter(zf)
	w, _ := zw.Create("ALPINE-CVE-2024-9143.json")
	w.Write([]byte(`{"id":"ALPINE-CVE-2024-9143","affected":[{"package":{"ecosystem":"Alpine:v3.20","name":"openssl"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.3.2-r1"}]}]}]}`))
	zw.Close()
	zf.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := Main(ctx, []string{"server", "--listen", "127.0.0.1:0", "--cache-dir", filepath.Join(dir, "cache"), "--db-dir", filepath.Join(dir, "db"),
			"--db-repository", repo, "--db-refresh", "1h", "--db-max-age", "1ns"}, strings.NewReader(""), io.Discard, pw)
		pw.Close()
		done <- code
	}()
	lines := bufio.NewScanner(pr)
	var addr string
	for lines.Scan() {
		var rec map[string]any
		json.Unmarshal(lines.Bytes(), &rec)
		if rec["msg"] == "serving" {
			addr, _ = rec["addr"].(string)
			break
		}
	}
	go io.Copy(io.Discard, pr)
	if addr == "" {
		t.Fatal("no serving line")
	}
	resp, err := http.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready struct {
		Status   string
		Warnings []string
		DB       struct {
			Repository string
			Ecosystems []struct{ Ecosystem string }
			Stale      string
		}
	}
	json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if resp.StatusCode != 200 || ready.DB.Repository != repo || len(ready.DB.Ecosystems) != 1 ||
		!strings.Contains(ready.DB.Stale, "over --db-max-age 1ns") || len(ready.Warnings) != 1 {
		t.Errorf("readyz of a replica filled from %s: %d %+v", repo, resp.StatusCode, ready)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("server exit %d", code)
	}
}
