package cli

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/shipshape-dev/shipshape/internal/atomicfile"
	"github.com/shipshape-dev/shipshape/internal/compress"
	"github.com/shipshape-dev/shipshape/internal/dockerfile"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/report"
	"github.com/shipshape-dev/shipshape/internal/scan"
	"github.com/shipshape-dev/shipshape/internal/secret"
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
	gzipHelper      string
	// skip is set by commands with --skip-path.
	skip func(string) bool
}

// imageFlagsOf reads the image flags registered on cmd by whichever part
// of the command registered them (`db update --for` has two); a flag not
// registered keeps its default.
func imageFlagsOf(cmd *cobra.Command) imageFlags {
	f := imageFlags{timeout: 30 * time.Minute, maxLayerBytes: walk.DefaultLimits.MaxLayerBytes, maxEntries: walk.DefaultLimits.MaxEntries,
		maxRatio: walk.DefaultLimits.MaxRatio, maxArchiveBytes: image.DefaultMaxArchiveBytes}
	fs := cmd.Flags()
	if v, err := fs.GetString("platform"); err == nil {
		f.platform = v
	}
	if v, err := fs.GetBool("insecure"); err == nil {
		f.insecure = v
	}
	if v, err := fs.GetString("cache-dir"); err == nil {
		f.cacheDir = v
	}
	if v, err := fs.GetBool("no-cache"); err == nil {
		f.noCache = v
	}
	if v, err := fs.GetInt("parallel"); err == nil {
		f.parallel = v
	}
	if v, err := fs.GetDuration("timeout"); err == nil {
		f.timeout = v
	}
	if v, err := fs.GetInt64("max-layer-bytes"); err == nil {
		f.maxLayerBytes = v
	}
	if v, err := fs.GetInt("max-entries"); err == nil {
		f.maxEntries = v
	}
	if v, err := fs.GetInt64("max-ratio"); err == nil {
		f.maxRatio = v
	}
	if v, err := fs.GetInt64("max-archive-bytes"); err == nil {
		f.maxArchiveBytes = v
	}
	if v, err := fs.GetString("gzip-helper"); err == nil {
		f.gzipHelper = v
	}
	return f
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
	fs.StringVar(&f.gzipHelper, "gzip-helper", compress.HelperAuto, "program that inflates gzip layers and gzip archives (docker save | gzip) of 16 MiB or more, about 2.5× as fast: auto (igzip, from ISA-L, when on PATH), none (in process), or its path")
}

// scanOptions are the scan library's options for these flags.
func (f *imageFlags) scanOptions(a *app) scan.Options {
	return scan.Options{
		Platform:        f.platform,
		Insecure:        f.insecure,
		CacheDir:        f.cacheDir,
		NoCache:         f.noCache,
		Parallel:        f.parallel,
		MaxArchiveBytes: f.maxArchiveBytes,
		GzipHelper:      f.gzipHelper,
		Limits: walk.Limits{
			MaxLayerBytes: f.maxLayerBytes,
			MaxEntries:    f.maxEntries,
			MaxRatio:      f.maxRatio,
			RatioFloor:    walk.DefaultLimits.RatioFloor,
			MaxPathLen:    walk.DefaultLimits.MaxPathLen,
		},
		Skip:        f.skip,
		Logger:      a.log,
		ToolVersion: Version,
	}
}

// scanner opens a scanner with opts; the caller closes it.
func (a *app) scanner(opts scan.Options) (*scan.Scanner, error) {
	if opts.MaxArchiveBytes < 0 {
		return nil, fmt.Errorf("--max-archive-bytes must be positive")
	}
	return scan.New(opts)
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
// write to it with the options for that destination (colour and width on a
// terminal that allows them) and closes it. A file is written under a
// temporary name and renamed into place only when complete: an
// interrupted run leaves what was there before.
func (o *outputFlags) write(a *app, render func(w io.Writer, opts report.Options) error) error {
	if o.output == "" || o.output == "-" {
		tty := isTerminal(a.stdout)
		opts := report.Options{Color: report.ColorAllowed(tty, os.Getenv), Width: terminalWidth(a.stdout)}
		if err := render(a.stdout, opts); err != nil {
			return fmt.Errorf("writing the result: %w", err)
		}
		return nil
	}
	f, err := atomicfile.Create(o.output, 0o644)
	if err != nil {
		return fmt.Errorf("output: %w", err)
	}
	defer f.Abort()
	if err := render(f, report.Options{}); err != nil {
		return fmt.Errorf("writing %s: %w", o.output, err)
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("writing %s: %w", o.output, err)
	}
	return nil
}

// terminalWidth is w's width in columns when it is a terminal, else 0.
func terminalWidth(w io.Writer) int {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil {
		return 0
	}
	return width
}

// loadPolicy reads the policy file (--config, or .shipshape.yaml when
// present) and refuses rule ids no rule table knows.
func loadPolicy(path string) (*policy.Policy, error) {
	pol, err := policy.Load(path)
	if err != nil {
		return nil, err
	}
	secretRules := map[string]bool{}
	for _, r := range secret.Rules() {
		secretRules[r.ID] = true
	}
	err = pol.CheckRuleIDs(func(id string) bool {
		_, ok := dockerfile.RuleByID(id)
		return ok || secretRules[id]
	})
	if err != nil {
		return nil, err
	}
	return pol, nil
}

// checkFormat refuses a --format the command's encoders do not know.
func checkFormat[T any](es report.Encoders[T], format string) error {
	if _, err := es.Lookup(format); err != nil {
		return fmt.Errorf("--format %q: want one of %s", format, es)
	}
	return nil
}
