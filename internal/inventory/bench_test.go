//go:build unix

package inventory_test

import (
	"context"
	"io"
	"os"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/testenv"
	"github.com/shipshape-dev/shipshape/internal/waste"
)

// BenchmarkInventoryOverhead measures what the inventory adds to the
// foundation's walk (target ≤ 20%): the same image is scanned with the
// foundation's analyzers alone and with the inventory, and the ratio of
// wall times is reported. The image is SHIPSHAPE_BENCH_IMAGE
// (bench/run.sh builds a 1.4 GB Debian image with python, node, ruby and a
// JDK), else Alpine's minirootfs from the shared data.
func BenchmarkInventoryOverhead(b *testing.B) {
	ctx := context.Background()
	var img *image.Image
	if ref := os.Getenv("SHIPSHAPE_BENCH_IMAGE"); ref != "" {
		var err error
		img, err = image.Open(ctx, ref, image.Options{TempDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		defer img.Close()
	} else {
		tarball := testenv.SharedData(b, "rootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz")
		l := image.NewLayer(func(context.Context) (io.ReadCloser, error) { return os.Open(tarball) })
		l.Index = 1
		img = &image.Image{Reference: tarball, Config: &v1.ConfigFile{}, Layers: []*image.Layer{l}}
	}
	inv, err := inventory.New(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	// CPU time is reported too: on a shared machine wall time is noisy.
	var baseNs, invNs, baseCPU, invCPU int64
	var pkgs int
	withInv := []analyze.Analyzer{&waste.Analyzer{}, inv}
	without := []analyze.Analyzer{&waste.Analyzer{}}
	i := 0
	for b.Loop() {
		// Alternate the order so that neither run always finds the page
		// cache warm.
		order := [][]analyze.Analyzer{without, withInv}
		if i%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		i++
		for _, as := range order {
			start, cpu0 := time.Now(), cpuTime()
			res, err := analyze.Run(ctx, img, as, analyze.Options{})
			if err != nil {
				b.Fatal(err)
			}
			if len(as) == 1 {
				baseNs += int64(time.Since(start))
				baseCPU += cpuTime() - cpu0
				continue
			}
			invNs += int64(time.Since(start))
			invCPU += cpuTime() - cpu0
			pkgs = len(res.Sections[inventory.SectionName].(*inventory.Inventory).Packages)
		}
	}
	b.ReportMetric(float64(invNs)/float64(baseNs), "with/without")
	b.ReportMetric(float64(invCPU)/float64(baseCPU), "cpu-with/without")
	b.ReportMetric(float64(pkgs), "packages")
}

// cpuTime is the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
