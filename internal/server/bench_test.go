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
	bin := buildShipshape(b)
	dbDir := makeDB(b)
	for range b.N {
		p := startServerProcess(b, bin, "--insecure", "--workers", "2", "--queue", "64", "--cache-dir", b.TempDir(), "--db-dir", dbDir)
		c := &server.Client{BaseURL: p.url, Token: testToken, Poll: 50 * time.Millisecond}
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
		b.ReportMetric(p.stop(b), "server-peak-RSS-MiB")
	}
}

// serverProcess is "shipshape server" running as its own process.
type serverProcess struct {
	cmd    *exec.Cmd
	url    string
	stderr *bytes.Buffer
}

func buildShipshape(b *testing.B) string {
	bin := filepath.Join(b.TempDir(), "shipshape")
	if out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "../../cmd/shipshape").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func startServerProcess(b *testing.B, bin string, args ...string) *serverProcess {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, append([]string{"server", "--listen", addr, "--quiet"}, args...)...)
	cmd.Env = append(os.Environ(), "SHIPSHAPE_SERVER_TOKEN="+testToken)
	p := &serverProcess{cmd: cmd, url: "http://" + addr, stderr: &bytes.Buffer{}}
	cmd.Stderr = p.stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	for i := 0; ; i++ {
		if resp, err := http.Get(p.url + "/healthz"); err == nil {
			resp.Body.Close()
			return p
		}
		if i > 100 {
			cmd.Process.Kill()
			b.Fatalf("server did not come up: %s", p.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop sends SIGTERM and returns the peak RSS in MiB.
func (p *serverProcess) stop(b *testing.B) float64 {
	var rss float64
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)); err == nil {
		for _, l := range strings.Split(string(st), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
				kb, _ := strconv.ParseFloat(f[1], 64)
				rss = kb / 1024
			}
		}
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			b.Errorf("server exit on SIGTERM: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		p.cmd.Process.Kill()
		b.Fatal("server did not stop on SIGTERM")
	}
	return rss
}

// BenchmarkRedisReplicas runs 1 and 3 server processes (2 workers each)
// on one Redis and scans 30 registry images sharing a base, requests
// spread over the replicas: images/min and the largest peak RSS of a
// replica. Each replica has its own layer cache (the shared layer cache
// is not built), so each reads the base once.
//
//	go test -run '^$' -bench RedisReplicas -benchtime 1x ./internal/server/
func BenchmarkRedisReplicas(b *testing.B) {
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
	bin := buildShipshape(b)
	dbDir := makeDB(b)
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("replicas=%d", n), func(b *testing.B) {
			for range b.N {
				url, rc, _ := startRedis(b)
				rc.FlushAll(context.Background())
				var ps []*serverProcess
				for i := range n {
					ps = append(ps, startServerProcess(b, bin, "--insecure", "--workers", "2", "--queue", "64", "--redis", url,
						"--replica", fmt.Sprint("r", i), "--cache-dir", b.TempDir(), "--db-dir", dbDir))
				}
				start := time.Now()
				var wg sync.WaitGroup
				errs := make(chan error, images)
				for i, r := range refs {
					c := &server.Client{BaseURL: ps[i%n].url, Token: testToken, Poll: 50 * time.Millisecond}
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
				b.ReportMetric(float64(images)/time.Since(start).Minutes(), "images/min")
				var peak float64
				for _, p := range ps {
					peak = max(peak, p.stop(b))
				}
				b.ReportMetric(peak, "max-replica-peak-RSS-MiB")
			}
		})
	}
}
