package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mattn/go-shellwords"
	"github.com/spf13/cobra"

	"github.com/shipshape-dev/shipshape/internal/cache"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imageout"
	"github.com/shipshape-dev/shipshape/internal/redact"
	"github.com/shipshape-dev/shipshape/internal/report"
	"github.com/shipshape-dev/shipshape/internal/scan"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/secret"
	"github.com/shipshape-dev/shipshape/internal/slim"
	"github.com/shipshape-dev/shipshape/internal/slim/sensor"
	"github.com/shipshape-dev/shipshape/internal/slim/sensorbin"
)

// ExitVerify is the exit code of "slim" when the slimmed image does not
// behave like the original, or when no probe answered on the original so
// nothing could be verified.
const ExitVerify = 3

type slimFlags struct {
	outputs      []string
	tag          string
	format       string
	httpPaths    []string
	httpPathFile string
	noHTTP       bool
	crawl        int
	noDelta      bool
	execs        []string
	probeScript  string
	duration     time.Duration
	probeTimeout time.Duration
	include      []string
	includeBins  []string
	preserve     []string
	exclude      []string
	privileged   bool
	noVerify     bool
	verifySecc   bool
	seccomp      string
	sensorPath   string
	runtime      string
	cacheDir     string
	timeout      time.Duration
}

func (a *app) slimCommand() *cobra.Command {
	var f slimFlags
	cmd := &cobra.Command{
		Use:   "slim IMAGE [-o OUT] [--tag NAME]",
		Short: "Minimise an image by watching it run, then prove the result still works",
		Long: `slim runs IMAGE on the Docker Engine under a ptrace sensor (only
CAP_SYS_PTRACE is added), probes it (HTTP GET on every exposed port,
--exec commands inside the container, --probe-script on the host), and keeps
only the files the application used plus the ELF libraries they need
(resolved inside the image, nothing is run), the Python package or Node
package tree of every loaded module, CA certificates, timezone data and
name-service files when used, and --include-path/--include-bin/--preserve-path.

The result is one layer on an empty image with the original config. Before
anything is written, the slimmed image is run with the same probes; if any
HTTP status, response hash, exit code or output differs, slim says what,
writes nothing and exits with code 3.

IMAGE is a name or ID in the Docker Engine, or docker-archive:, oci: …
(loaded into the engine first). --runtime=sandbox needs no Docker Engine: the
image is unpacked and run in new user, mount and PID namespaces with chroot,
sharing the host's network (exposed ports must be free on 127.0.0.1). Outputs (-o, repeatable): docker-archive:PATH,
oci:DIR, docker-daemon:NAME:TAG, docker://REF.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runSlim(cmd.Context(), args[0], &f)
		},
	}
	fs := cmd.Flags()
	fs.StringArrayVarP(&f.outputs, "output", "o", nil, "write the slimmed image here (repeatable): docker-archive:PATH, oci:DIR, docker-daemon:NAME:TAG, docker://REF")
	fs.StringVar(&f.tag, "tag", "", "load the slimmed image into the Docker Engine under this name (default: IMAGE-NAME.slim when no -o is given)")
	fs.StringVarP(&f.format, "format", "f", "table", "report format: table, json")
	fs.StringArrayVar(&f.httpPaths, "http-probe-path", nil, "path to GET on every exposed TCP port (repeatable; default /)")
	fs.StringVar(&f.httpPathFile, "http-probe-file", "", "file with one path to GET per line")
	fs.IntVar(&f.crawl, "http-crawl", 0, "also GET up to this many same-origin links found in HTML responses, per port")
	fs.BoolVar(&f.noHTTP, "no-http-probe", false, "do not probe exposed ports over HTTP")
	fs.StringArrayVar(&f.execs, "exec", nil, "command to run inside the container as a probe, split like a shell would (repeatable)")
	fs.StringVar(&f.probeScript, "probe-script", "", "program run on the host while the container runs; gets SHIPSHAPE_PROBE_URL and SHIPSHAPE_PROBE_ADDR_<PORT>")
	fs.DurationVar(&f.duration, "duration", 0, "keep the container running at least this long (default: until the probes are done; 30s for images without probes)")
	fs.DurationVar(&f.probeTimeout, "probe-timeout", 30*time.Second, "how long to wait for a service to answer")
	fs.StringArrayVar(&f.include, "include-path", nil, "keep this path and everything below it (repeatable)")
	fs.StringArrayVar(&f.includeBins, "include-bin", nil, "keep this executable and the libraries it needs (repeatable)")
	fs.StringArrayVar(&f.preserve, "preserve-path", nil, "keep this path unchanged from the original image (repeatable)")
	fs.StringArrayVar(&f.exclude, "exclude-path", nil, "never keep this path or anything below it (repeatable)")
	fs.BoolVar(&f.privileged, "privileged", false, "run the traced container privileged (not needed; lets the sensor add fanotify where the kernel allows)")
	fs.BoolVar(&f.noDelta, "no-scan-delta", false, "do not scan the original and the slimmed image to compare their findings (P1 secrets, P5 vulnerabilities …)")
	fs.BoolVar(&f.verifySecc, "verify-seccomp", false, "run the verification under the generated seccomp profile too (docker runtime)")
	fs.BoolVar(&f.noVerify, "no-verify", false, "skip running the slimmed image with the same probes")
	fs.StringVar(&f.seccomp, "seccomp", "", "write the seccomp profile here (default: in the cache directory)")
	fs.StringVar(&f.sensorPath, "sensor", "", "static sensor binary to use (default: this binary when static, else built from source)")
	fs.StringVar(&f.runtime, "runtime", "docker", "where to run the image: docker, sandbox")
	fs.StringVar(&f.cacheDir, "cache-dir", "", "cache directory (default: the user cache directory)/shipshape")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Minute, "give up after this long")
	return cmd
}

// sensorCommand is the hidden sensor entry point of static shipshape
// binaries, mounted into containers by "slim".
func (a *app) sensorCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "sensor",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if code := sensor.Main(args); code != 0 {
				return exitError{code: code}
			}
			return nil
		},
	}
}

func (a *app) runSlim(ctx context.Context, ref string, f *slimFlags) error {
	if err := checkFormat(report.SlimFormats, f.format); err != nil {
		return err
	}
	switch f.runtime {
	case "docker":
	case "sandbox":
		if f.tag == "" && len(f.outputs) == 0 {
			return errors.New("--runtime=sandbox: say where the slimmed image goes with -o docker-archive:PATH or -o oci:DIR (--tag needs a Docker Engine)")
		}
	default:
		return fmt.Errorf("--runtime %q: want docker or sandbox", f.runtime)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	dir := f.cacheDir
	if dir == "" {
		d, err := cache.DefaultDir()
		if err != nil {
			return err
		}
		dir = d
	}
	tmp, err := os.MkdirTemp(ensureDir(filepath.Join(dir, "tmp")), "slim-")
	if err != nil {
		return fmt.Errorf("temp dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	bin, err := sensorbin.Locate(ctx, sensorbin.Options{Path: f.sensorPath, SelfIsShipshape: true, CacheDir: dir})
	if err != nil {
		return err
	}
	o := slim.Options{
		Image: ref, Sensor: bin, HTTPPaths: f.httpPaths, Crawl: f.crawl, NoHTTP: f.noHTTP, ProbeScript: f.probeScript,
		Duration: f.duration, ProbeTimeout: f.probeTimeout, Include: f.include, IncludeBins: f.includeBins,
		Preserve: f.preserve, Exclude: f.exclude, Privileged: f.privileged, NoVerify: f.noVerify, VerifySeccomp: f.verifySecc,
		Tag: f.tag, Outputs: f.outputs, Runtime: f.runtime, Seccomp: f.seccomp, CacheDir: dir, TempDir: tmp,
		// What the application printed leaves in the report: the P1
		// rules hide secrets in it, as they do on stderr.
		Redact: redact.Hider(secret.ValueFinder()),
	}
	if f.httpPathFile != "" {
		paths, err := readLines(f.httpPathFile)
		if err != nil {
			return err
		}
		o.HTTPPaths = append(o.HTTPPaths, paths...)
	}
	for _, e := range f.execs {
		argv, err := shellwords.Parse(e)
		if err != nil || len(argv) == 0 {
			return fmt.Errorf("--exec %q: cannot split into a command: %v", e, err)
		}
		o.Exec = append(o.Exec, argv)
	}
	if o.Tag == "" && len(o.Outputs) == 0 {
		o.Tag = imageout.DerivedName(ref, nil, "slim")
	}
	if a.stderrTTY != nil && !a.quiet || a.debug {
		o.Progress = func(format string, args ...any) { fmt.Fprintf(a.stderr, "slim: "+format+"\n", args...) }
	}
	res, err := slim.Run(ctx, o)
	if err == nil && !f.noDelta && len(res.Outputs) > 0 {
		// slim runs images from the Engine: a bare name is an Engine image.
		src := ref
		if r, err := image.ParseReference(ref); err == nil && r.Transport == "" {
			src = "docker-daemon:" + ref
		}
		if o.Progress != nil {
			o.Progress("scanning the original and the slimmed image")
		}
		delta, derr := a.scanDelta(ctx, src, res.Outputs[0], dir)
		if derr != nil {
			a.log.Warn("comparing findings", "err", derr)
		}
		res.FindingsDelta = delta
	}
	if res != nil {
		if werr := report.SlimFormats.Write(a.stdout, f.format, res, report.Options{}); werr != nil {
			return werr
		}
	}
	// Nothing verified (no probe answered on the original) is as much a
	// failed verification as a difference: nothing was written.
	if errors.Is(err, slim.ErrVerify) || errors.Is(err, slim.ErrNoProbeAnswered) {
		fmt.Fprintf(a.stderr, "shipshape: %v\n", err)
		return exitError{code: ExitVerify}
	}
	return err
}

// scanDelta scans the original and the slimmed image with every analyzer
// and reports, per practice, the findings the slimmed image no longer has.
func (a *app) scanDelta(ctx context.Context, orig, slimmed, cacheDir string) ([]slim.FindingDelta, error) {
	s, err := a.scanner(scan.Options{CacheDir: cacheDir, Offline: true, Logger: a.log, ToolVersion: Version})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var reps [2]*scorecard.Report
	for i, ref := range []string{orig, slimmed} {
		if reps[i], err = s.Scan(ctx, ref, nil); err != nil {
			return nil, fmt.Errorf("scanning %s: %w", ref, err)
		}
	}
	var out []slim.FindingDelta
	for _, d := range scorecard.Delta(reps[0], reps[1]) {
		out = append(out, slim.FindingDelta(d))
	}
	return out, nil
}

func ensureDir(d string) string {
	os.MkdirAll(d, 0o700)
	return d
}

func readLines(p string) ([]string, error) {
	fh, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	var out []string
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}
