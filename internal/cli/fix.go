package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/shipshape-dev/shipshape/internal/ignore"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imageout"
	"github.com/shipshape-dev/shipshape/internal/redact"
	"github.com/shipshape-dev/shipshape/internal/report"
	"github.com/shipshape-dev/shipshape/internal/scan"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/strip"
)

func (a *app) fixCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fix",
		Short: "Write a fixed copy of an image",
		Long:  `Write a copy of an image with a practice's findings fixed.`,
	}
	cmd.AddCommand(a.fixSecretsCommand())
	return cmd
}

type fixSecretsFlags struct {
	img         imageFlags
	dest        string
	format      string
	ignoreFile  string
	showSecrets bool
}

func (a *app) fixSecretsCommand() *cobra.Command {
	var f fixSecretsFlags
	cmd := &cobra.Command{
		Use:   "secrets IMAGE -o OUT",
		Short: "Write a copy of an image without its build secrets (P1)",
		Long: `Scan IMAGE for secrets (P1) and write a copy in which every file that carried
a secret is removed from every layer where it appears, secret Env entries are
removed, and secret labels and history values (BuildKit build-args, ENV and
RUN lines) are replaced by <redacted>. The config's diffIDs and history and
the manifest are rewritten to match. The result is scanned again and P1 is
shown before and after.

Secrets in files owned by the distribution's packages (vendor test keys) and
in third-party test fixtures are reported but not removed.

This does not make the credentials safe: they were published with the
original image and must be rotated.

OUT is one of:
  docker-archive:PATH[:TAG]   a "docker save" archive
  oci:DIR[:TAG]               an OCI image layout directory
  docker-daemon:NAME:TAG      the local Docker Engine
  docker://REGISTRY/REPO:TAG  a registry`,
		Example: `  shipshape fix secrets app:latest -o docker-daemon:app:clean
  shipshape fix secrets docker-archive:app.tar -o oci:app-clean
  shipshape fix secrets registry.example.com/app:1.2 -o docker://registry.example.com/app:1.2-clean`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runFixSecrets(cmd.Context(), args[0], &f)
		},
	}
	f.img.register(cmd)
	cmd.Flags().StringVarP(&f.dest, "output", "o", "", "where to write the fixed image (required)")
	cmd.Flags().StringVarP(&f.format, "format", "f", "table", "output format of the before/after summary: table, json")
	cmd.Flags().StringVar(&f.ignoreFile, "ignorefile", ignore.DefaultFile, "file of accepted findings, which are left in place")
	cmd.Flags().BoolVar(&f.showSecrets, "show-secrets", false, "print secret values whole instead of redacted")
	cmd.MarkFlagRequired("output")
	return cmd
}

func (a *app) runFixSecrets(ctx context.Context, ref string, f *fixSecretsFlags) error {
	if err := checkFormat(report.FixFormats, f.format); err != nil {
		return err
	}
	if _, err := image.ParseDestination(f.dest); err != nil {
		return err
	}
	ign, err := ignore.Load(f.ignoreFile, f.ignoreFile == ignore.DefaultFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.img.timeout)
	defer cancel()
	// The plan needs the values themselves (to redact history lines), so
	// the first scan keeps them, and must not put them in the layer cache.
	opts := f.img.scanOptions(a)
	opts.Analyzers = []string{scan.Secrets}
	opts.Ignores = []*ignore.File{ign}
	opts.ShowSecrets, opts.NoCache = true, true
	whole, err := a.scanner(opts)
	if err != nil {
		return err
	}
	defer whole.Close()
	o, err := whole.Open(ctx, ref)
	if err != nil {
		return err
	}
	defer o.Close()
	before, err := whole.ScanImage(ctx, o, a.newProgress())
	if err != nil {
		return err
	}
	plan := strip.PlanFindings(before.Findings)
	var kept []scorecard.Finding
	for _, fd := range before.Findings {
		if !strip.Strippable(&fd) {
			kept = append(kept, fd)
		}
	}
	if !f.showSecrets {
		hide := redact.New(append(plan.Values, redact.EvidenceValues(before.Findings)...)...)
		hide.Report(before)
		hide.Findings(kept)
	}
	src, err := o.Image.V1(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	fixed, changes, err := strip.Apply(ctx, src, plan, o.TempDir)
	if err != nil {
		return fmt.Errorf("%s: removing secrets: %w", ref, err)
	}
	where, err := imageout.Write(ctx, fixed, f.dest, imageout.Options{Insecure: f.img.insecure, Name: imageout.DerivedName(ref, o.Image.RepoTags, "fixed")})
	if err != nil {
		return err
	}
	afterRef := where
	if r, err := image.ParseReference(where); err != nil || r.Transport == "" {
		afterRef = "docker://" + where
	}
	opts.ShowSecrets, opts.NoCache = f.showSecrets, f.img.noCache
	rescan, err := a.scanner(opts)
	if err != nil {
		return err
	}
	defer rescan.Close()
	after, err := rescan.Scan(ctx, afterRef, nil)
	if err != nil {
		return fmt.Errorf("re-scanning the fixed image: %w", err)
	}
	notice := strip.RotateNotice
	if plan.Empty() {
		notice = ""
	}
	out := report.FixSecrets{
		Output: where, Before: before, After: after, Changes: changes, Kept: kept, Notice: notice,
		Reference: ref, P1: map[string]report.P1Summary{"before": report.P1Of(before), "after": report.P1Of(after)},
	}
	return report.FixFormats.Write(a.stdout, f.format, &out, report.Options{})
}
