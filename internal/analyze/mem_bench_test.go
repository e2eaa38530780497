package analyze_test

import (
	"context"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/cache"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imagetest"
)

// peakSampler samples the Go heap every few milliseconds while a scan runs:
// the peak of the heap's objects (live and not yet collected: what the
// process's memory follows) and the peak of the live heap after a GC.
type peakSampler struct {
	stop    chan struct{}
	wg      sync.WaitGroup
	objects uint64
	live    uint64
}

func startSampler() *peakSampler {
	s := &peakSampler{stop: make(chan struct{})}
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(samples)
			s.objects = max(s.objects, samples[0].Value.Uint64())
			s.live = max(s.live, samples[1].Value.Uint64())
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *peakSampler) done() { close(s.stop); s.wg.Wait() }

// vmHWM is the process's peak resident set size so far, in bytes (0 where
// /proc is missing).
func vmHWM() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb * 1024
		}
	}
	return 0
}

// BenchmarkManyEntries scans a single gzip layer of a million small files
// (imagetest.NestedEntries, an OCI layout written once per run) with every
// analyzer of "shipshape scan", cold then warm from a layer cache, and
// reports the peak heap (objects, and live after GC) and the process's
// peak RSS in MB. SHIPSHAPE_BENCH_ENTRIES changes the count.
func BenchmarkManyEntries(b *testing.B) {
	n := 1_000_000
	if s := os.Getenv("SHIPSHAPE_BENCH_ENTRIES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	dir := filepath.Join(b.TempDir(), "oci")
	layer := imagetest.NestedEntries(n)
	layer.Compression = imagetest.Gzip // as a registry serves it; 14 MB on disk instead of 1 GB
	if _, err := (imagetest.Image{Layers: []imagetest.Layer{layer}}).WriteOCILayoutTo(dir); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	img, err := image.Open(ctx, "oci:"+dir, image.Options{TempDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer img.Close()
	var coldObjects, coldLive, warmObjects, warmLive, warmNs, coldNs float64
	for b.Loop() {
		c, err := cache.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		for _, warm := range []bool{false, true} {
			s := startSampler()
			start := time.Now()
			res, err := analyze.Run(ctx, img, scanAnalyzers(b, b.TempDir()), analyze.Options{Cache: c})
			el := float64(time.Since(start).Nanoseconds())
			s.done()
			if err != nil {
				b.Fatal(err)
			}
			if res.Layers[0].Files != n+(n+999)/1000 || res.Layers[0].Cached != warm {
				b.Fatalf("%+v", res.Layers[0])
			}
			if warm {
				warmObjects, warmLive, warmNs = max(warmObjects, float64(s.objects)), max(warmLive, float64(s.live)), warmNs+el
			} else {
				coldObjects, coldLive, coldNs = max(coldObjects, float64(s.objects)), max(coldLive, float64(s.live)), coldNs+el
			}
		}
	}
	const mb = 1 << 20
	b.ReportMetric(coldObjects/mb, "cold-peak-heap-MB")
	b.ReportMetric(coldLive/mb, "cold-peak-live-MB")
	b.ReportMetric(warmObjects/mb, "warm-peak-heap-MB")
	b.ReportMetric(warmLive/mb, "warm-peak-live-MB")
	b.ReportMetric(vmHWM()/mb, "peak-RSS-MB")
	b.ReportMetric(coldNs/float64(b.N)/1e9, "cold-s/op")
	b.ReportMetric(warmNs/float64(b.N)/1e9, "warm-s/op")
}
