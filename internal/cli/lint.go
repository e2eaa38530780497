package cli

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/shipshape-dev/shipshape/internal/dockerfile"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/report"
	"github.com/shipshape-dev/shipshape/internal/scan"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

type lintFlags struct {
	out      outputFlags
	severity string
	exitCode int
	config   string
}

func (a *app) lintCommand() *cobra.Command {
	var f lintFlags
	cmd := &cobra.Command{
		Use:   "lint [DOCKERFILE|-]",
		Short: "Check a Dockerfile against shipshape's rules (SS-DF-…)",
		Long: `Check a Dockerfile (default: ./Dockerfile; - reads stdin) with BuildKit's parser: root
users, unpinned or untrusted bases, ADD and curl|sh downloads, package
manager hygiene, secrets in ARG/ENV and copied credential files, sudo,
chmod 777 and COPY . without a .dockerignore.

Suppress a finding with a comment above its instruction, with a reason:
  # shipshape:ignore SS-DF-011 the cache is mounted
The policy file (.shipshape.yaml or --config) switches rules off,
re-levels them and decides trusted registries.`,
		Example: `  shipshape lint
  shipshape lint --format sarif -o lint.sarif build/Dockerfile
  shipshape lint --severity high,critical --exit-code 1 Dockerfile`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "Dockerfile"
			if len(args) == 1 {
				path = args[0]
			}
			return a.runLint(path, &f)
		},
	}
	f.out.register(cmd, report.LintFormats.String())
	cmd.Flags().StringVarP(&f.severity, "severity", "s", "", "report only findings at these severities (comma-separated: critical,high,medium,low,info)")
	cmd.Flags().IntVar(&f.exitCode, "exit-code", 0, "exit with this code when a reported finding remains")
	cmd.Flags().StringVar(&f.config, "config", "", "policy file (default: "+policy.DefaultFile+" in the working directory, if present)")
	return cmd
}

func (a *app) runLint(path string, f *lintFlags) error {
	if err := checkFormat(report.LintFormats, f.out.format); err != nil {
		return err
	}
	sevs, err := scorecard.ParseSeverities(f.severity)
	if err != nil {
		return fmt.Errorf("--severity: %w", err)
	}
	pol, err := loadPolicy(f.config)
	if err != nil {
		return err
	}
	var df *dockerfile.File
	if path == "-" {
		b, err := io.ReadAll(io.LimitReader(a.stdin, dockerfile.MaxSize+1))
		if err != nil {
			return fmt.Errorf("reading the Dockerfile from stdin: %w", err)
		}
		df, err = dockerfile.Parse("-", b)
		if err != nil {
			return err
		}
	} else if df, err = dockerfile.Load(path); err != nil {
		return err
	}
	rep := scan.Lint(df, pol, time.Now(), Version)
	rep.Findings = scorecard.Filter(rep.Findings, sevs)
	err = f.out.write(a, func(w io.Writer, opts report.Options) error {
		return report.LintFormats.Write(w, f.out.format, rep, opts)
	})
	if err != nil {
		return err
	}
	if f.exitCode != 0 && len(rep.Findings) > 0 {
		return exitError{code: f.exitCode}
	}
	return nil
}
