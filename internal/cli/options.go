package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/cache"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/walk"
)

// imageFlags are the flags of every command that reads an image.
type imageFlags struct {
	platform        string
	insecure        bool
	cacheDir        string
	noCache         bool
	parallel        int
	timeout         time.Duration
	maxLayerBytes   int64
	maxEntries      int
	maxRatio        int64
	maxArchiveBytes int64
	// skip is set by commands with --skip-path.
	skip func(string) bool
}

func (f *imageFlags) register(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.StringVar(&f.platform, "platform", "", "platform to pick from a multi-platform image, OS/ARCH[/VARIANT] (default: the host's)")
	fs.BoolVar(&f.insecure, "insecure", false, "allow plain-HTTP and unverified-TLS registries")
	fs.StringVar(&f.cacheDir, "cache-dir", "", "directory for cached layer results (default: the user cache directory)/shipshape")
	fs.BoolVar(&f.noCache, "no-cache", false, "neither read nor write cached layer results")
	fs.IntVar(&f.parallel, "parallel", 0, "layers analysed at once (default: the number of CPUs)")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up after this long")
	fs.Int64Var(&f.maxLayerBytes, "max-layer-bytes", walk.DefaultLimits.MaxLayerBytes, "largest uncompressed layer read")
	fs.IntVar(&f.maxEntries, "max-entries", walk.DefaultLimits.MaxEntries, "most tar entries read from one layer")
	fs.Int64Var(&f.maxRatio, "max-ratio", walk.DefaultLimits.MaxRatio, "largest decompression ratio of a layer past 1 GiB (decompression bombs)")
	fs.Int64Var(&f.maxArchiveBytes, "max-archive-bytes", image.DefaultMaxArchiveBytes, "largest size a compressed archive or daemon export may expand to on disk")
}

func (f *imageFlags) validate() error {
	if err := image.ParsePlatform(f.platform); err != nil {
		return err
	}
	if f.parallel < 0 {
		return fmt.Errorf("--parallel %d: must be at least 0", f.parallel)
	}
	if f.maxLayerBytes <= 0 || f.maxEntries <= 0 || f.maxArchiveBytes <= 0 {
		return fmt.Errorf("--max-layer-bytes, --max-entries and --max-archive-bytes must be positive")
	}
	return nil
}

// openCache opens the layer cache, or none with --no-cache.
func (f *imageFlags) openCache() (*cache.Cache, error) {
	if f.noCache {
		return nil, nil
	}
	dir := f.cacheDir
	if dir == "" {
		d, err := cache.DefaultDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	return cache.Open(dir)
}

// tempDir is where image exports and decompressed archives go: inside the
// cache directory when there is one, so that nothing lands elsewhere.
func (f *imageFlags) tempDir(c *cache.Cache) (string, func(), error) {
	base := ""
	if c != nil {
		base = filepath.Join(c.Dir(), "tmp")
		if err := os.MkdirAll(base, 0o700); err != nil {
			return "", nil, fmt.Errorf("temp dir: %w", err)
		}
	}
	d, err := os.MkdirTemp(base, "shipshape-")
	if err != nil {
		return "", nil, fmt.Errorf("temp dir: %w", err)
	}
	return d, func() { os.RemoveAll(d) }, nil
}

// opened is an image ready to scan, with what must be released after.
type opened struct {
	img   *image.Image
	cache *cache.Cache
	// tmp is the scan's private temporary directory.
	tmp     string
	cleanup func()
}

func (a *app) openImage(ctx context.Context, ref string, f *imageFlags) (*opened, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	c, err := f.openCache()
	if err != nil {
		return nil, err
	}
	tmp, rm, err := f.tempDir(c)
	if err != nil {
		return nil, err
	}
	a.log.Debug("opening image", "ref", ref)
	img, err := image.Open(ctx, ref, image.Options{
		Platform:        f.platform,
		Insecure:        f.insecure,
		TempDir:         tmp,
		MaxArchiveBytes: f.maxArchiveBytes,
	})
	if err != nil {
		rm()
		return nil, err
	}
	return &opened{img: img, cache: c, tmp: tmp, cleanup: func() { img.Close(); rm() }}, nil
}

func (f *imageFlags) analyzeOptions(a *app, c *cache.Cache) analyze.Options {
	return analyze.Options{
		Parallel: f.parallel,
		Cache:    c,
		Logger:   a.log,
		Skip:     f.skip,
		Limits: walk.Limits{
			MaxLayerBytes: f.maxLayerBytes,
			MaxEntries:    f.maxEntries,
			MaxRatio:      f.maxRatio,
			RatioFloor:    walk.DefaultLimits.RatioFloor,
			MaxPathLen:    walk.DefaultLimits.MaxPathLen,
		},
	}
}

// outputFlags choose the format and destination of a command's result.
type outputFlags struct {
	format string
	output string
}

func (o *outputFlags) register(cmd *cobra.Command, formats string) {
	cmd.Flags().StringVarP(&o.format, "format", "f", "table", "output format: "+formats)
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "write the result to this file instead of stdout")
}

// write opens the result's destination (stdout or --output), lets render
// write to it — told whether it is a terminal — and closes it.
func (o *outputFlags) write(a *app, render func(w io.Writer, tty bool) error) error {
	if o.output == "" || o.output == "-" {
		if err := render(a.stdout, isTerminal(a.stdout)); err != nil {
			return fmt.Errorf("writing the result: %w", err)
		}
		return nil
	}
	f, err := os.Create(o.output)
	if err != nil {
		return fmt.Errorf("output: %w", err)
	}
	if err := render(f, false); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", o.output, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", o.output, err)
	}
	return nil
}
