package server_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/shipshape-dev/shipshape/internal/cache/rediscache"
	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/scan"
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

// buildShipshape is the shipshape command to run: this test binary,
// which TestMain turns into it (no build needed).
func buildShipshape(testing.TB) string { return os.Args[0] }

func startServerProcess(b *testing.B, bin string, args ...string) *serverProcess {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(bin, append([]string{"server", "--listen", addr, "--quiet"}, args...)...)
	cmd.Env = append(os.Environ(), "SHIPSHAPE_SERVER_TOKEN="+testToken, "SHIPSHAPE_TEST_AS_CLI=1")
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
// on one Redis and scans 30 registry images sharing the Alpine 3.20.3
// base (and half of them an Alpine 3.12 layer as well), requests spread
// over the replicas: images/min, the largest peak RSS of a replica, and
// how often the fleet analysed a layer (the shared layer cache: once
// each).
//
//	go test -run '^$' -bench RedisReplicas -benchtime 1x ./internal/server/
func BenchmarkRedisReplicas(b *testing.B) {
	const images = 30
	host := testenv.Registry(b)
	base, err := tarball.LayerFromFile(testenv.SharedData(b, "rootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz"))
	if err != nil {
		b.Fatal(err)
	}
	runtime2, err := tarball.LayerFromFile(testenv.SharedData(b, "rootfs/alpine-minirootfs-3.12.12-x86_64.tar.gz"))
	if err != nil {
		b.Fatal(err)
	}
	refs := make([]string, images)
	for i := range refs {
		layers := []v1.Layer{base}
		if i%2 == 0 {
			layers = append(layers, runtime2)
		}
		fleetImage(b, host, fmt.Sprintf("fleet/app%d:1", i), i, layers...)
		refs[i] = fmt.Sprintf("docker://%s/fleet/app%d:1", host, i)
	}
	bin := buildShipshape(b)
	dbDir := makeDB(b)
	for _, v := range []struct {
		n      int
		shared bool
	}{{1, true}, {3, true}, {3, false}} {
		n, name := v.n, fmt.Sprintf("replicas=%d", v.n)
		extra := []string{}
		if !v.shared {
			name += "/no-shared-cache"
			extra = append(extra, "--no-shared-cache")
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				url, rc, _ := startRedis(b)
				rc.FlushAll(context.Background())
				var ps []*serverProcess
				for i := range n {
					ps = append(ps, startServerProcess(b, bin, append([]string{"--insecure", "--workers", "2", "--queue", "64", "--redis", url,
						"--replica", fmt.Sprint("r", i), "--cache-dir", b.TempDir(), "--db-dir", dbDir}, extra...)...))
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
				analysed, layers := 0, 0
				for _, v := range rc.HGetAll(context.Background(), "shipshape:stats:analysed").Val() {
					k, _ := strconv.Atoi(v)
					analysed += k
					layers++
				}
				b.ReportMetric(float64(analysed), "layer-analyses")
				b.ReportMetric(float64(layers), "distinct-layers")
				var peak float64
				for _, p := range ps {
					peak = max(peak, p.stop(b))
				}
				b.ReportMetric(peak, "max-replica-peak-RSS-MiB")
			}
		})
	}
}

// BenchmarkCachedBase times one scan (the scanner alone, no HTTP) of an
// image whose base layers are cached nowhere (cold), whose base this
// replica analysed before (local), and whose base another replica
// analysed (shared: its facts read from Redis, the blob never fetched).
// The base is the Alpine 3.20.3 rootfs and a layer of 5000 small files;
// each image adds a small app layer.
//
//	go test -run '^$' -bench CachedBase -benchtime 5x ./internal/server/
func BenchmarkCachedBase(b *testing.B) {
	host := testenv.Registry(b)
	alpine, err := tarball.LayerFromFile(testenv.SharedData(b, "rootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz"))
	if err != nil {
		b.Fatal(err)
	}
	var files []imagetest.File
	files = append(files, imagetest.Dir("usr/"), imagetest.Dir("usr/share/"), imagetest.Dir("usr/share/doc/"))
	for i := range 5000 {
		files = append(files, imagetest.Reg(fmt.Sprintf("usr/share/doc/f%05d.txt", i), strings.Repeat(fmt.Sprintf("line %d of a document\n", i), 100)))
	}
	bulk := layerOf(b, files...)
	url, rc, _ := startRedis(b)
	dbDir := makeDB(b)
	replica := func() *scan.Scanner {
		sc, err := scan.New(scan.Options{CacheDir: b.TempDir(), DBDir: dbDir, Insecure: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { sc.Close() })
		lc, err := rediscache.New(rediscache.Options{Client: rc, Local: sc.LayerCache()})
		if err != nil {
			b.Fatal(err)
		}
		return sc.WithLayerCache(lc)
	}
	_ = url
	var cold, local, shared time.Duration
	for i := range b.N {
		b.StopTimer()
		for k := range 3 {
			fleetImage(b, host, fmt.Sprintf("cached/app%d-%d:1", i, k), 1000*i+k, alpine, bulk)
		}
		rc.FlushAll(context.Background())
		one, two := replica(), replica()
		b.StartTimer()
		timed := func(sc *scan.Scanner, k int) time.Duration {
			start := time.Now()
			if _, err := sc.Scan(context.Background(), fmt.Sprintf("docker://%s/cached/app%d-%d:1", host, i, k), nil); err != nil {
				b.Fatal(err)
			}
			return time.Since(start)
		}
		cold += timed(one, 0)
		local += timed(one, 1)
		shared += timed(two, 2)
	}
	b.ReportMetric(float64(cold.Milliseconds())/float64(b.N), "cold-ms/scan")
	b.ReportMetric(float64(local.Milliseconds())/float64(b.N), "local-base-ms/scan")
	b.ReportMetric(float64(shared.Milliseconds())/float64(b.N), "shared-base-ms/scan")
}
