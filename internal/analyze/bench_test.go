package analyze_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	gzip "github.com/klauspost/pgzip"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/compress"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imagecfg"
	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/secret"
	"github.com/shipshape-dev/shipshape/internal/slim/usage"
	"github.com/shipshape-dev/shipshape/internal/testenv"
	"github.com/shipshape-dev/shipshape/internal/vuln"
	"github.com/shipshape-dev/shipshape/internal/vuln/db"
	"github.com/shipshape-dev/shipshape/internal/waste"
)

// benchImage is the image the benchmarks scan: SHIPSHAPE_BENCH_IMAGE, any
// reference Open takes (bench/run.sh builds a 1.4 GB Debian image in three
// layers and sets it: the README's numbers come from it), else the clean
// Debian image testenv.CleanDebianImage builds once and caches (one layer,
// about 1 GB unpacked), so that CI runs every benchmark.
func benchImage(b *testing.B) string {
	if ref := os.Getenv("SHIPSHAPE_BENCH_IMAGE"); ref != "" {
		return ref
	}
	return testenv.CleanDebianImage(b)
}

// gzipHelper is the gzip helper the benchmarks' walks use, as the CLI
// finds it: SHIPSHAPE_GZIP_HELPER (auto, none or a path; default auto:
// igzip when on PATH).
func gzipHelper(b *testing.B) string {
	spec := os.Getenv("SHIPSHAPE_GZIP_HELPER")
	if spec == "" {
		spec = compress.HelperAuto
	}
	h, err := compress.LookHelper(spec)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// floor reads every layer blob once, undoing its compression, with the same
// parallelism as the walk. For an uncompressed blob it computes one SHA-256
// (the digest must be verified); for a compressed one, decompression is the
// work. This is the least any scanner must do. With a gzip helper, gzip
// blobs the walk would give it are inflated by it.
func floor(ctx context.Context, img *image.Image, helper string) (int64, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		total int64
		first error
	)
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	for _, l := range img.Layers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			n, err := readOnce(ctx, l, helper)
			mu.Lock()
			defer mu.Unlock()
			total += n
			if err != nil && first == nil {
				first = err
			}
		}()
	}
	wg.Wait()
	return total, first
}

func readOnce(ctx context.Context, l *image.Layer, helper string) (int64, error) {
	rc, err := l.Open(ctx)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 1<<20)
	magic, _ := br.Peek(4)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b && helper != "" && l.Size >= compress.HelperMinBytes:
		// A blob in a local file is given to the helper as the walk
		// gives it: spliced from the file.
		var in io.Reader = br
		if lb, ok := rc.(image.LocalBlob); ok {
			in = lb.Section()
		}
		zr, err := compress.NewHelperReader(ctx, helper, in)
		if err != nil {
			return 0, err
		}
		defer zr.Close()
		// Read in the walk's chunks: io.Discard's 8 KiB reads would
		// make the pipe the bottleneck.
		return discard(zr, 1<<20)
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return 0, err
		}
		return io.Copy(io.Discard, zr)
	case len(magic) == 4 && magic[0] == 0x28 && magic[1] == 0xb5:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return 0, err
		}
		defer zr.Close()
		return io.Copy(io.Discard, zr)
	}
	return io.Copy(sha256.New(), br)
}

// BenchmarkWalk measures the layer walk itself: it scans the benchmark image
// with the waste analyzer only (which reads no file content, so the time is
// the walk's: decompression, tar parsing, digests, the file tree) and
// reports the wall time as a ratio to the floor measured in the same run
// (walk/floor, target ≤ 1.1), and the CPU time of each: the walk's extra
// CPU is what it does beyond inflating (chiefly the SHA-256 of every blob
// and every uncompressed layer), which on few cores competes with the
// biggest layer's inflater. BenchmarkScan runs every analyzer.
//
// The walk uses the gzip helper the CLI would (gzipHelper; helper = 1 when
// it did). The floor is measured both ways: floor-s inflates in process
// (pgzip, the fastest inflater in Go), floor-helper-s gives the same blobs
// to the helper, so the walk is compared with the least work done with
// the tools it used as well.
func BenchmarkWalk(b *testing.B) {
	ref := benchImage(b)
	ctx := context.Background()
	img, err := image.Open(ctx, ref, image.Options{TempDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer img.Close()
	analyzers := []analyze.Analyzer{&waste.Analyzer{}}
	helper := gzipHelper(b)
	var floorNs, helperNs, walkNs int64
	var floorCPU, helperCPU, walkCPU float64
	var files int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		start, cpu := time.Now().UnixNano(), cpuSeconds()
		n, err := floor(ctx, img, "")
		if err != nil {
			b.Fatal(err)
		}
		floorNs += time.Now().UnixNano() - start
		floorCPU += cpuSeconds() - cpu
		if helper != "" {
			start, cpu = time.Now().UnixNano(), cpuSeconds()
			if _, err := floor(ctx, img, helper); err != nil {
				b.Fatal(err)
			}
			helperNs += time.Now().UnixNano() - start
			helperCPU += cpuSeconds() - cpu
		}
		b.SetBytes(n)
		b.StartTimer()
		start, cpu = time.Now().UnixNano(), cpuSeconds()
		res, err := analyze.Run(ctx, img, analyzers, analyze.Options{GzipHelper: helper})
		if err != nil {
			b.Fatal(err)
		}
		walkNs += time.Now().UnixNano() - start
		walkCPU += cpuSeconds() - cpu
		files = 0
		for _, l := range res.Layers {
			files += l.Files
		}
	}
	b.ReportMetric(float64(floorNs)/float64(b.N)/1e9, "floor-s/op")
	b.ReportMetric(float64(walkNs)/float64(b.N)/1e9, "walk-s/op")
	b.ReportMetric(float64(walkNs)/float64(floorNs), "walk/floor")
	b.ReportMetric(floorCPU/float64(b.N), "floor-cpu-s/op")
	b.ReportMetric(walkCPU/float64(b.N), "walk-cpu-s/op")
	b.ReportMetric(float64(files), "files")
	if helper != "" {
		b.ReportMetric(1, "helper")
		b.ReportMetric(float64(helperNs)/float64(b.N)/1e9, "floor-helper-s/op")
		b.ReportMetric(float64(walkNs)/float64(helperNs), "walk/floor-helper")
		b.ReportMetric(helperCPU/float64(b.N), "floor-helper-cpu-s/op")
	}
}

// scanAnalyzers returns the analyzers "shipshape scan" runs, in its order
// (internal/cli's analyzers, with default flags and no policy file): P1
// secrets, P8 waste and slim usage, P4/P5 packages and vulnerabilities,
// and the image checks (P2, P3, P9). The vulnerability database is
// SHIPSHAPE_DB_DIR when set; without one P5 reports not-run, as the CLI
// does, and the inventory still runs.
func scanAnalyzers(b *testing.B, tmp string) []analyze.Analyzer {
	b.Helper()
	inv, err := inventory.New(tmp)
	if err != nil {
		b.Fatal(err)
	}
	va := &vuln.Analyzer{Inventory: inv, FailAt: scorecard.High, NoDBReason: "no vulnerability database (SHIPSHAPE_DB_DIR is not set)"}
	if dir := os.Getenv("SHIPSHAPE_DB_DIR"); dir != "" {
		d, err := db.Open(dir)
		if err != nil {
			b.Fatalf("SHIPSHAPE_DB_DIR: %v", err)
		}
		b.Cleanup(func() { d.Close() })
		va.DB, va.NoDBReason = d, ""
	}
	return []analyze.Analyzer{
		&secret.Analyzer{},
		&waste.Analyzer{},
		&usage.Analyzer{CacheDir: tmp},
		va,
		&imagecfg.Analyzer{},
	}
}

// BenchmarkScan runs the whole scan — every analyzer of "shipshape scan"
// in one layer pass, no cache — over the benchmark image, and reports the
// files walked, the findings and the CPU time besides the wall time.
func BenchmarkScan(b *testing.B) {
	ref := benchImage(b)
	ctx := context.Background()
	img, err := image.Open(ctx, ref, image.Options{TempDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer img.Close()
	var size int64
	for _, l := range img.Layers {
		size += l.Size
	}
	b.SetBytes(size)
	helper := gzipHelper(b)
	var files, findings, practices int
	cpu0 := cpuSeconds()
	for b.Loop() {
		res, err := analyze.Run(ctx, img, scanAnalyzers(b, b.TempDir()), analyze.Options{GzipHelper: helper})
		if err != nil {
			b.Fatal(err)
		}
		files, findings = 0, len(res.Findings)
		for _, l := range res.Layers {
			files += l.Files
		}
		practices = len(res.Coverage)
	}
	// Every analyzer reported: P1, P2, P3, P4, P5, P8 and P9 at least.
	if practices < 7 {
		b.Fatalf("the scan covered %d practices, want every analyzer's", practices)
	}
	b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(files), "files")
	b.ReportMetric(float64(findings), "findings")
}

// discard reads r to its end in reads of size bytes.
func discard(r io.Reader, size int) (int64, error) {
	buf := make([]byte, size)
	var n int64
	for {
		m, err := r.Read(buf)
		n += int64(m)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// cpuSeconds is the user+system CPU time this process and the children it
// waited for (gzip helpers) have used.
func cpuSeconds() float64 {
	var self, children syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &self)
	syscall.Getrusage(syscall.RUSAGE_CHILDREN, &children)
	sec := func(ru syscall.Rusage) float64 {
		return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
	}
	return sec(self) + sec(children)
}
