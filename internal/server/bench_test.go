package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/shipshape-dev/shipshape/internal/server"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// peakRSS is the process's peak resident set (VmHWM) in MiB, or 0 where
// /proc is missing.
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// BenchmarkServerBatch scans a batch of registry images that share the
// Alpine 3.20.3 base through the server (2 workers, one shared layer
// cache), cold cache each iteration, and reports images/min, the layer
// cache hits and the process's peak RSS (test process: server, scanner
// and the pushes; the registry is a separate process).
//
//	go test -run '^$' -bench ServerBatch -benchtime 1x ./internal/server/
func BenchmarkServerBatch(b *testing.B) {
	const images = 30
	host := testenv.Registry(b)
	base, err := tarball.LayerFromFile(testenv.SharedData(b, "rootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz"))
	if err != nil {
		b.Fatal(err)
	}
	refs := make([]string, images)
	for i := range refs {
		pushApp(b, base, host, fmt.Sprintf("fleet/app%d:1", i), i)
		refs[i] = fmt.Sprintf("docker://%s/fleet/app%d:1", host, i)
	}
	dbDir := makeDB(b)
	b.ResetTimer()
	for range b.N {
		ts := newServer(b, dbDir, b.TempDir(), func(c *server.Config) { c.Workers, c.Queue = 2, images })
		start := time.Now()
		ids := make([]string, images)
		for i, r := range refs {
			ids[i] = ts.submit(b, fmt.Sprintf(`{"image":%q}`, r))
		}
		for _, id := range ids {
			if st := ts.wait(b, id, 10*time.Minute); st.Status != server.StatusDone {
				b.Fatalf("scan %s: %s", id, st.Error)
			}
		}
		took := time.Since(start)
		b.ReportMetric(float64(images)/took.Minutes(), "images/min")
		_, _, m := ts.do(b, "GET", "/metrics", nil, nil)
		for _, l := range bytes.Split(m, []byte("\n")) {
			if bytes.HasPrefix(l, []byte("shipshape_layer_cache_total")) {
				b.Logf("%s", l)
			}
		}
	}
	b.ReportMetric(peakRSS(), "peak-RSS-MiB")
}

// BenchmarkServerProcess is BenchmarkServerBatch against the real binary
// in its own process: images/min cold (empty cache) and warm (the same
// images again), the server process's peak RSS, and its exit on SIGTERM.
//
//	go test -run '^$' -bench ServerProcess -benchtime 1x ./internal/server/
func BenchmarkServerProcess(b *testing.B) {
	const images = 30
	host := testenv.Registry(b)
	base, err := tarball.LayerFromFile(testenv.SharedData(b, "rootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz"))
	if err != nil {
		b.Fatal(err)
	}
	refs := make([]string, images)
	for i := range refs {
		pushApp(b, base, host, fmt.Sprintf("fleet/app%d:1", i), i)
		refs[i] = fmt.Sprintf("docker://%s/fleet/app%d:1", host, i)
	}
	dir := b.TempDir()
	bin := filepath.Join(dir, "shipshape")
	if out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "../../cmd/shipshape").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	dbDir := makeDB(b)
	for range b.N {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		cmd := exec.Command(bin, "server", "--listen", addr, "--insecure", "--workers", "2", "--queue", "64",
			"--cache-dir", b.TempDir(), "--db-dir", dbDir, "--quiet")
		cmd.Env = append(os.Environ(), "SHIPSHAPE_SERVER_TOKEN="+testToken)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		url := "http://" + addr
		for i := 0; ; i++ {
			if resp, err := http.Get(url + "/healthz"); err == nil {
				resp.Body.Close()
				break
			}
			if i > 100 {
				cmd.Process.Kill()
				b.Fatalf("server did not come up: %s", stderr.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
		c := &server.Client{BaseURL: url, Token: testToken, Poll: 50 * time.Millisecond}
		batch := func(label string) {
			start := time.Now()
			var wg sync.WaitGroup
			errs := make(chan error, images)
			for _, r := range refs {
				wg.Go(func() {
					if _, err := c.Scan(context.Background(), r, server.ScanOptions{}, nil); err != nil {
						errs <- err
					}
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				b.Fatal(err)
			}
			b.ReportMetric(float64(images)/time.Since(start).Minutes(), label+"-images/min")
		}
		batch("cold")
		batch("warm")
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid)); err == nil {
			for _, l := range strings.Split(string(st), "\n") {
				if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
					kb, _ := strconv.ParseFloat(f[1], 64)
					b.ReportMetric(kb/1024, "server-peak-RSS-MiB")
				}
			}
		}
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				b.Errorf("server exit on SIGTERM: %v\n%s", err, stderr.String())
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			b.Fatal("server did not stop on SIGTERM")
		}
	}
}
