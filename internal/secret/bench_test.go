package secret

import (
	"context"
	"os"
	"syscall"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/testenv"
	"github.com/shipshape-dev/shipshape/internal/waste"
)

// BenchmarkScanImage measures what P1 adds to the layer walk on a real
// image (SHIPSHAPE_BENCH_IMAGE, as bench/run.sh builds a 1.4 GB Debian one;
// else the clean Debian image of testenv.CleanDebianImage):
// "walk" runs only the content-less waste analyzer, "walk+P1" adds the
// secret analyzer. No cache: every iteration reads every layer.
func BenchmarkScanImage(b *testing.B) {
	ref := os.Getenv("SHIPSHAPE_BENCH_IMAGE")
	if ref == "" {
		ref = testenv.CleanDebianImage(b)
	}
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
	for _, bc := range []struct {
		name string
		as   func() []analyze.Analyzer
	}{
		{"walk", func() []analyze.Analyzer { return []analyze.Analyzer{&waste.Analyzer{}} }},
		{"walk+P1", func() []analyze.Analyzer { return []analyze.Analyzer{&waste.Analyzer{}, &Analyzer{}} }},
		{"walk+P1-binaries-256KiB", func() []analyze.Analyzer {
			return []analyze.Analyzer{&waste.Analyzer{}, &Analyzer{MaxBinaryBytes: 256 << 10}}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(size)
			cpu0 := cpuSeconds()
			for b.Loop() {
				if _, err := analyze.Run(ctx, img, bc.as(), analyze.Options{}); err != nil {
					b.Fatal(err)
				}
			}
			// CPU time is steadier than wall time on a shared machine.
			b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
		})
	}
}

// TestCleanDebianHasNoSecrets scans a clean Debian image with python3,
// nodejs, ruby and a JDK — SHIPSHAPE_CLEAN_DEBIAN_IMAGE (any reference Open
// takes) or else the one testenv.CleanDebianImage builds with debootstrap
// and caches: it must have no P1 finding at medium or above.
func TestCleanDebianHasNoSecrets(t *testing.T) {
	ref := os.Getenv("SHIPSHAPE_CLEAN_DEBIAN_IMAGE")
	if ref == "" {
		ref = testenv.CleanDebianImage(t)
	}
	res := scanImage(t, ref, &Analyzer{})
	vendor := 0
	for _, f := range res.Findings {
		if f.Severity.Rank() >= scorecard.Medium.Rank() {
			t.Errorf("%s %s %s%s: %v", f.Severity, f.Rule, f.Path, f.Field, f.Evidence["secret"])
		}
		if f.Evidence["class"] == ClassVendor {
			vendor++
		}
	}
	files := -1
	for _, c := range res.Coverage {
		if c.Practice == scorecard.P1 {
			files, _ = c.Metrics["filesScanned"].(int)
		}
	}
	// The runtimes alone hold thousands of text files: far fewer means the
	// image or the scan is broken, and "no findings" would prove nothing.
	if files < 5000 {
		t.Errorf("P1 scanned %d files of %s, want at least 5000", files, ref)
	}
	t.Logf("%d findings below medium (%d vendor) in %v files", len(res.Findings), vendor, files)
}

// cpuSeconds is the user+system CPU time this process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}
