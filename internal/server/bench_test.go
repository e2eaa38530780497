package server_test

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
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
