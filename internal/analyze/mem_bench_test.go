package analyze_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
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

// startSampler starts a peakSampler. It starts from a collected heap: the
// live heap reads what the last GC found, and what a benchmark built
// before the scan (an image of hundreds of megabytes) would otherwise be
// read as the scan's.
func startSampler() *peakSampler {
	runtime.GC()
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
	coldWarm(b, img, false, func(res *analyze.Result, warm bool) {
		if res.Layers[0].Files != n+(n+999)/1000 || res.Layers[0].Cached != warm {
			b.Fatalf("%+v", res.Layers[0])
		}
	})
	b.ReportMetric(vmHWM()/(1<<20), "peak-RSS-MB")
}

// coldWarm scans img with every analyzer of "shipshape scan", cold then
// warm from a layer cache of its own each iteration (with the scan's own
// directory for the facts set aside when tempDir is set, as the CLI
// scans), has check look at each result, and reports the peak heap
// (objects, and live after GC) and the time of each.
func coldWarm(b *testing.B, img *image.Image, tempDir bool, check func(res *analyze.Result, warm bool)) {
	b.Helper()
	var coldObjects, coldLive, warmObjects, warmLive, warmNs, coldNs float64
	for b.Loop() {
		c, err := cache.Open(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		for _, warm := range []bool{false, true} {
			opts := analyze.Options{Cache: c}
			if tempDir {
				opts.TempDir = b.TempDir()
			}
			s := startSampler()
			start := time.Now()
			res, err := analyze.Run(context.Background(), img, scanAnalyzers(b, b.TempDir()), opts)
			el := float64(time.Since(start).Nanoseconds())
			s.done()
			if err != nil {
				b.Fatal(err)
			}
			check(res, warm)
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
	b.ReportMetric(coldNs/float64(b.N)/1e9, "cold-s/op")
	b.ReportMetric(warmNs/float64(b.N)/1e9, "warm-s/op")
}

// BenchmarkListedFiles measures a hostile image's memory: ten layers
// (SHIPSHAPE_BENCH_LISTED_LAYERS), each with ten dpkg md5sums files of
// 19,000 lines (190,000 listed files a layer), scanned cold and warm with
// the scan's own directory for the facts set aside past the memory
// budget, as the CLI scans. The lists of a layer share one content, so
// that building the image holds 14 MB, not 140.
func BenchmarkListedFiles(b *testing.B) {
	n := 10
	if s := os.Getenv("SHIPSHAPE_BENCH_LISTED_LAYERS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	var layers []imagetest.Layer
	for l := range n {
		var sums strings.Builder
		for i := range 19_000 {
			fmt.Fprintf(&sums, "0123456789abcdef0123456789abcdef  usr/share/doc/l%d/some/longer/dir/file-%06d.txt\n", l, i)
		}
		layer := imagetest.Layer{CreatedBy: fmt.Sprintf("COPY lists%d /var/lib/dpkg/info/", l)}
		for p := range 10 {
			layer.Files = append(layer.Files, imagetest.Reg(fmt.Sprintf("var/lib/dpkg/info/l%dp%d.md5sums", l, p), sums.String()))
		}
		layers = append(layers, layer)
	}
	p := filepath.Join(b.TempDir(), "lists.tar")
	imagetest.Image{Layers: layers}.WriteDockerArchive(b, p, false)
	layers = nil
	img, err := image.Open(context.Background(), "docker-archive:"+p, image.Options{TempDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer img.Close()
	coldWarm(b, img, true, func(res *analyze.Result, warm bool) {
		// The first layer's lists are read; the image's bound leaves the
		// others' unread, each named.
		if res.System.Owned() != 19_000 || len(res.System.UnreadLists) != 10*(n-1) || res.Layers[0].Cached != warm {
			b.Fatalf("%d files owned, %d lists not read, layer 1 %+v", res.System.Owned(), len(res.System.UnreadLists), res.Layers[0])
		}
	})
}
