package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/shipshape-dev/shipshape/internal/dockerfile"
	"github.com/shipshape-dev/shipshape/internal/ignore"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/report"
	"github.com/shipshape-dev/shipshape/internal/scan"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/secret"
	"github.com/shipshape-dev/shipshape/internal/server"
)

type scanFlags struct {
	img        imageFlags
	out        outputFlags
	severity   string
	exitCode   int
	ignoreFile string
	skipPaths  []string
	secrets    secretFlags
	vuln       vulnFlags
	config     string
	dockerfile string
	now        string
	sarif      []string
	source     []string
	server     string
	// includeDeclared lists lock-file-only packages in cyclonedx/spdx.
	includeDeclared bool
}

// secretFlags tune the P1 secret analyzer.
type secretFlags struct {
	show           bool
	maxBinaryBytes int64
}

func (f *secretFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.show, "show-secrets", false, "print secret values whole instead of redacted (they are then also kept in the layer cache)")
	cmd.Flags().Int64Var(&f.maxBinaryBytes, "secret-max-binary-bytes", secret.DefaultMaxBinaryBytes, "largest binary file scanned for secrets (-1: no limit)")
}

func (a *app) scanCommand() *cobra.Command {
	var f scanFlags
	cmd := &cobra.Command{
		Use:   "scan IMAGE",
		Short: "Scan an image and report the nine-practice scorecard",
		Long: `Scan an image: read every layer once, run every analyzer, and report each
practice as pass, warn, fail or not-run, with the findings behind it.

IMAGE is one of:
  docker-daemon:NAME[:TAG]     an image in the local Docker Engine
  docker://REGISTRY/REPO:TAG   an image in a registry (also …@sha256:…)
  docker-archive:PATH[:TAG]    a "docker save" archive (.tar or .tar.gz)
  oci:DIR[:TAG]                an OCI image layout directory
  oci-archive:PATH[:TAG]       an OCI image layout in a tar archive
  dir:PATH                     a root filesystem directory
  NAME[:TAG] or PATH           a path is opened by what it holds; a name is
                               looked up in the Docker Engine, then its registry

Exit codes: 0 when done (or when no finding reaches --exit-code's severities),
the --exit-code value when findings at --severity remain, 2 on errors.`,
		Example: `  shipshape scan docker-archive:testdata/demo/demo.tar
  shipshape scan --format json -o report.json registry.example.com/team/app:1.2
  shipshape scan --severity HIGH,CRITICAL --exit-code 1 app:latest`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.server != "" {
				if err := remoteFlags(cmd); err != nil {
					return err
				}
			}
			return a.runScan(cmd.Context(), args[0], &f)
		},
	}
	f.img.register(cmd)
	f.out.register(cmd, report.ScanFormats.String())
	cmd.Flags().StringVarP(&f.severity, "severity", "s", "", "report only findings at these severities (comma-separated: critical,high,medium,low,info)")
	cmd.Flags().IntVar(&f.exitCode, "exit-code", 0, "exit with this code when a reported finding remains")
	cmd.Flags().StringVar(&f.ignoreFile, "ignorefile", ignore.DefaultFile, "file of accepted findings (rule, path, id or fingerprint, with reason and expiry)")
	f.vuln.register(cmd)
	cmd.Flags().StringVar(&f.config, "config", "", "policy file (default: "+policy.DefaultFile+" in the working directory, if present)")
	cmd.Flags().StringVar(&f.dockerfile, "dockerfile", "", "Dockerfile the image was built from: findings point at its lines, its FROM names the base image")
	cmd.Flags().StringSliceVar(&f.skipPaths, "skip-path", nil, "path glob inside the image whose files are not analysed and not reported (repeatable; ** crosses directories)")
	f.secrets.register(cmd)
	cmd.Flags().StringArrayVar(&f.sarif, "sarif", nil, "SAST results (SARIF 2.1.0: gosec, CodeQL, Semgrep, Bandit …) to import into P7, mapped to the image's files and layers (repeatable)")
	cmd.Flags().StringArrayVar(&f.source, "source", nil, "build context whose Go modules gosec analyses in process for P7 (needs the Go toolchain; repeatable)")
	cmd.Flags().StringVar(&f.server, "server", "", "run the scan on this shipshape server (http(s)://HOST:PORT; token from "+envServerToken+"): registry images only, judged by the server's policy")
	cmd.Flags().BoolVar(&f.includeDeclared, "include-declared", false, includeDeclaredHelp)
	cmd.Flags().StringVar(&f.now, "now", "", "judge dates (end of life, expiring ignores) as of this time (RFC 3339 or a date)")
	cmd.Flags().MarkHidden("now")
	return cmd
}

// runScan turns the scan flags into scan options, scans and writes the
// report.
func (a *app) runScan(ctx context.Context, ref string, f *scanFlags) error {
	if err := checkFormat(report.ScanFormats, f.out.format); err != nil {
		return err
	}
	sevs, err := scorecard.ParseSeverities(f.severity)
	if err != nil {
		return fmt.Errorf("--severity: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, f.img.timeout)
	defer cancel()
	rep, err := f.scan(ctx, a, ref)
	if err != nil {
		return err
	}
	rep.Findings = scorecard.Filter(rep.Findings, sevs)
	err = f.out.write(a, func(w io.Writer, opts report.Options) error {
		opts.IncludeDeclared = f.includeDeclared
		return report.Write(w, f.out.format, rep, opts)
	})
	if err != nil {
		return err
	}
	if f.exitCode != 0 && len(rep.Findings) > 0 {
		return exitError{code: f.exitCode}
	}
	// An image with nothing to judge passes nothing: a gate must not let
	// it through as if it had been checked.
	if f.exitCode != 0 && slices.ContainsFunc(rep.Practices, func(p scorecard.PracticeResult) bool { return p.Reason == scorecard.NothingToJudge }) {
		fmt.Fprintf(a.stderr, "shipshape: %s: %s\n", ref, scorecard.NothingToJudge)
		return exitError{code: f.exitCode}
	}
	return nil
}

// scan runs the scan here, or on the --server.
func (f *scanFlags) scan(ctx context.Context, a *app, ref string) (*scorecard.Report, error) {
	if f.server != "" {
		c := &server.Client{BaseURL: f.server, Token: strings.TrimSpace(os.Getenv(envServerToken))}
		return c.Scan(ctx, ref, server.ScanOptions{}, nil)
	}
	opts, err := f.options(a)
	if err != nil {
		return nil, err
	}
	s, err := a.scanner(opts)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Scan(ctx, ref, a.newProgress())
}

// remoteFlags refuses flags that change how a scan is run when it runs on
// a server, which applies its own settings: silently ignoring them would
// report a scan the user did not ask for.
func remoteFlags(cmd *cobra.Command) error {
	allowed := map[string]bool{"server": true, "format": true, "output": true, "severity": true, "exit-code": true, "timeout": true, "debug": true, "quiet": true, "cpuprofile": true, "memprofile": true}
	var bad []string
	cmd.Flags().Visit(func(fl *pflag.Flag) {
		// A flag set by its SHIPSHAPE_* variable is a machine-wide
		// default, not a request for this scan.
		_, fromEnv := os.LookupEnv(envPrefix + strings.ToUpper(strings.ReplaceAll(fl.Name, "-", "_")))
		if !allowed[fl.Name] && !fromEnv {
			bad = append(bad, "--"+fl.Name)
		}
	})
	if len(bad) > 0 {
		return fmt.Errorf("%s: not with --server (the server scans with its own settings and policy)", strings.Join(bad, ", "))
	}
	return nil
}

// options loads the files the flags name (ignore file, policy,
// Dockerfile, VEX) and returns the scan options.
func (f *scanFlags) options(a *app) (scan.Options, error) {
	ign, err := ignore.Load(f.ignoreFile, f.ignoreFile == ignore.DefaultFile)
	if err != nil {
		return scan.Options{}, err
	}
	skip, err := ignore.SkipPaths(f.skipPaths)
	if err != nil {
		return scan.Options{}, err
	}
	f.img.skip = skip.Matcher()
	pol, err := loadPolicy(f.config)
	if err != nil {
		return scan.Options{}, err
	}
	opts := f.img.scanOptions(a)
	opts.Policy = pol
	opts.Ignores = []*ignore.File{ign, skip}
	if f.dockerfile != "" {
		df, err := dockerfile.Load(f.dockerfile)
		if err != nil {
			return scan.Options{}, fmt.Errorf("--dockerfile: %w", err)
		}
		opts.Dockerfile = df
	}
	opts.SARIF = f.sarif
	opts.SourceDirs = f.source
	opts.ShowSecrets = f.secrets.show
	opts.SecretMaxBinaryBytes = f.secrets.maxBinaryBytes
	if err := f.vuln.apply(&opts); err != nil {
		return scan.Options{}, err
	}
	if opts.Now, err = parseNow(f.now); err != nil {
		return scan.Options{}, err
	}
	return opts, nil
}

// parseNow parses the hidden --now flag (tests pin the clock with it or
// SHIPSHAPE_NOW): an RFC 3339 time or a date.
func parseNow(s string) (func() time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		if t, err = time.Parse(time.DateOnly, s); err != nil {
			return nil, fmt.Errorf("--now %q: want an RFC 3339 time or a date (2006-01-02)", s)
		}
	}
	return func() time.Time { return t }, nil
}
