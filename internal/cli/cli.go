// Package cli is shipshape's command line: one file per command, each
// turning flags into options and calling the packages that do the work.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"runtime/pprof"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/redact"
	"github.com/shipshape-dev/shipshape/internal/secret"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/term"
)

// Exit codes. A scan that finds problems exits with the code given by
// --exit-code (0 unless set); these are the others.
const (
	ExitOK    = 0
	ExitError = 2 // bad usage, unreadable or hostile input, I/O errors
)

// Version is set at build time with -ldflags "-X …/cli.Version=…".
var Version = "dev"

// envPrefix is the prefix of environment variables that set flags:
// SHIPSHAPE_SEVERITY sets --severity, SHIPSHAPE_CACHE_DIR sets --cache-dir.
const envPrefix = "SHIPSHAPE_"

// exitError carries a chosen exit code up to Main.
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

// app holds what every command shares: its streams and logger.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// stderrTTY is the process's stderr when it is a terminal (stderr
	// writes to it through the redaction), else nil.
	stderrTTY   *os.File
	log         *slog.Logger
	debug       bool
	quiet       bool
	cpuProfile  string
	memProfile  string
	stopProfile func()
}

// Main runs the command line and returns the process exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) (code int) {
	// Everything written to stderr — logs, errors, progress, a panic's
	// message — passes through the secret rules first: a token in a
	// registry URL or a line of a file quoted by a log is hidden as in a
	// report. (stdout carries the reports, redacted with what the scan
	// found.)
	var tty *os.File
	if isTerminal(stderr) {
		tty = stderr.(*os.File)
	}
	rw := redact.NewWriter(stderr, secret.ValueFinder())
	defer rw.Flush()
	stderr = rw
	defer func() {
		// A bug must not crash a pipeline with a stack dump in place of a
		// message: report it as an error with what is known.
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "shipshape: internal error: %v\n%s\nplease report this with the command that caused it\n", r, debug.Stack())
			code = ExitError
		}
	}()
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, stderrTTY: tty}
	root := a.rootCommand()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	var ee exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.code
	default:
		fmt.Fprintf(stderr, "shipshape: %v\n", err)
		return ExitError
	}
}

// Fail writes err to stderr as Main writes its errors — through the same
// secret redaction — and returns the exit code for it. Main programs use it
// for errors found before Main runs (the Docker CLI's plugin arguments).
func Fail(stderr io.Writer, err error) int {
	rw := redact.NewWriter(stderr, secret.ValueFinder())
	fmt.Fprintf(rw, "shipshape: %v\n", err)
	rw.Flush()
	return ExitError
}

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "shipshape",
		Short: "Audit and harden container images",
		Long: `shipshape audits container images against nine practices — build secrets,
non-root users, base image and package freshness, dependencies, known
vulnerabilities, content trust, code scanning, unneeded files and reliable
bases — in one pass over the image's layers, and reports a scorecard.

Every flag can also be set with an environment variable: SHIPSHAPE_ followed
by the flag name in capitals with dashes as underscores (SHIPSHAPE_CACHE_DIR).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := applyEnv(cmd); err != nil {
				return err
			}
			level := slog.LevelWarn
			if a.debug {
				level = slog.LevelDebug
			}
			if a.quiet {
				level = slog.LevelError
			}
			a.log = slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: level}))
			// osv-scalibr logs through one process-wide logger: the
			// process's owner (this command line) sets it, once per
			// command, never a scan.
			inventory.RouteScalibrLogs(a.log)
			if a.cpuProfile != "" {
				f, err := os.Create(a.cpuProfile)
				if err != nil {
					return err
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					f.Close()
					return err
				}
				a.stopProfile = func() { pprof.StopCPUProfile(); f.Close() }
			}
			if a.memProfile != "" {
				stopCPU, stopMem := a.stopProfile, startPeakHeapProfile(a.memProfile)
				a.stopProfile = func() {
					if stopCPU != nil {
						stopCPU()
					}
					if err := stopMem(); err != nil {
						a.log.Error(err.Error())
					}
				}
			}
			return nil
		},
		PersistentPostRun: func(*cobra.Command, []string) {
			if a.stopProfile != nil {
				a.stopProfile()
			}
		},
	}
	// --version prints what the version command prints.
	root.SetVersionTemplate("shipshape {{.Version}}\n")
	root.PersistentFlags().StringVar(&a.cpuProfile, "cpuprofile", "", "write a CPU profile to this file")
	root.PersistentFlags().MarkHidden("cpuprofile")
	root.PersistentFlags().StringVar(&a.memProfile, "memprofile", "", "write a heap profile of the largest live heap seen to this file")
	root.PersistentFlags().MarkHidden("memprofile")
	root.PersistentFlags().BoolVar(&a.debug, "debug", false, "log debug messages to stderr")
	root.PersistentFlags().BoolVarP(&a.quiet, "quiet", "q", false, "log only errors and show no progress")
	root.AddCommand(a.scanCommand(), a.lintCommand(), a.inspectCommand(), a.fixCommand(), a.cacheCommand(), a.dbCommand(), a.sbomCommand(), a.versionCommand(), a.slimCommand(), a.sensorCommand(), a.verifyCommand(), a.signCommand(), a.attestCommand(), a.serverCommand())
	a.addIntegrations(root) // completion, docs, install, the Docker CLI plugin: completion.go, docs.go, plugin.go
	return root
}

// applyEnv sets every flag not given on the command line from its
// SHIPSHAPE_* environment variable.
func applyEnv(cmd *cobra.Command) error {
	var errs []error
	visit := func(f *pflag.Flag) {
		if f.Changed {
			return
		}
		env := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(env); ok {
			if err := f.Value.Set(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", env, v, err))
			} else {
				f.Changed = true
			}
		}
	}
	cmd.Flags().VisitAll(visit)
	cmd.InheritedFlags().VisitAll(visit)
	return errors.Join(errs...)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(a.stdout, "shipshape %s\n", Version)
			return nil
		},
	}
}
