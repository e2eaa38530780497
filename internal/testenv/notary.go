package testenv

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// NotaryServer starts Debian's notary-server (Notary v1, the server behind
// Docker Content Trust) on a free loopback port, with in-memory storage and
// its own signing service, and returns its URL ("http://127.0.0.1:PORT").
// It is stopped when the test ends. A missing notary-server is handled by
// [Require].
func NotaryServer(t testing.TB) string {
	t.Helper()
	bin, err := lookPath("notary-server")
	Require(t, "notary-server (Debian package notary)", err)
	var last error
	for attempt := 0; attempt < registryAttempts; attempt++ {
		addr, err := freeLoopbackAddr()
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		cfg := filepath.Join(dir, "server.json")
		if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`{"server": {"http_addr": %q}, "trust_service": {"type": "local"}, "storage": {"backend": "memory"}, "logging": {"level": "error"}}`, addr)), 0o644); err != nil {
			t.Fatal(err)
		}
		log, err := os.Create(filepath.Join(dir, "server.log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "-config", cfg)
		cmd.Stdout, cmd.Stderr = log, log
		cmd.SysProcAttr = sysProcAttr()
		if err := cmd.Start(); err != nil {
			log.Close()
			Require(t, "notary-server", err)
		}
		log.Close()
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			cmd.Process.Kill()
			<-exited
		}
		url := "http://" + addr
		if last = waitHTTP(url+"/_notary_server/health", exited); last == nil {
			t.Cleanup(stop)
			return url
		}
		stop()
		b, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		last = fmt.Errorf("%w; log: %s", last, b)
	}
	Require(t, "notary-server", last)
	return ""
}

// waitHTTP polls url until it answers 200, the process exits or ten
// seconds pass.
func waitHTTP(url string, exited <-chan struct{}) error {
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			return fmt.Errorf("exited before %s answered", url)
		default:
		}
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("GET %s: %s", url, resp.Status)
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
