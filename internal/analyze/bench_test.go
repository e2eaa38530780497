package analyze_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"io"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	gzip "github.com/klauspost/pgzip"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/waste"
)

// benchImage is the image the walk benchmark scans: any reference Open
// takes. bench/run.sh builds a 1.4 GB Debian image and sets it.
func benchImage(b *testing.B) string {
	ref := os.Getenv("SHIPSHAPE_BENCH_IMAGE")
	if ref == "" {
		b.Skip("SHIPSHAPE_BENCH_IMAGE is not set; run bench/run.sh to build the benchmark image")
	}
	return ref
}

// floor reads every layer blob once, undoing its compression, with the same
// parallelism as the walk. For an uncompressed blob it computes one SHA-256
// (the digest must be verified); for a compressed one, decompression is the
// work. This is the least any scanner must do.
func floor(ctx context.Context, img *image.Image) (int64, error) {
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
			n, err := readOnce(ctx, l)
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

func readOnce(ctx context.Context, l *image.Layer) (int64, error) {
	rc, err := l.Open(ctx)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	br := bufio.NewReaderSize(rc, 1<<20)
	magic, _ := br.Peek(4)
	switch {
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

// BenchmarkWalk scans the benchmark image with the analyzers a scan runs
// and reports the wall time as a ratio to the floor measured in the same
// run (walk/floor, target ≤ 1.3).
func BenchmarkWalk(b *testing.B) {
	ref := benchImage(b)
	ctx := context.Background()
	img, err := image.Open(ctx, ref, image.Options{TempDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer img.Close()
	analyzers := []analyze.Analyzer{&waste.Analyzer{}}
	var floorNs, walkNs int64
	var files int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		start := time.Now().UnixNano()
		n, err := floor(ctx, img)
		if err != nil {
			b.Fatal(err)
		}
		floorNs += time.Now().UnixNano() - start
		b.SetBytes(n)
		b.StartTimer()
		start = time.Now().UnixNano()
		res, err := analyze.Run(ctx, img, analyzers, analyze.Options{})
		if err != nil {
			b.Fatal(err)
		}
		walkNs += time.Now().UnixNano() - start
		files = 0
		for _, l := range res.Layers {
			files += l.Files
		}
	}
	b.ReportMetric(float64(floorNs)/float64(b.N)/1e9, "floor-s/op")
	b.ReportMetric(float64(walkNs)/float64(b.N)/1e9, "walk-s/op")
	b.ReportMetric(float64(walkNs)/float64(floorNs), "walk/floor")
	b.ReportMetric(float64(files), "files")
}
