package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/ignore"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/report"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/secret"
	"github.com/shipshape-dev/shipshape/internal/slim/usage"
	"github.com/shipshape-dev/shipshape/internal/waste"
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
			return a.runScan(cmd.Context(), args[0], &f)
		},
	}
	f.img.register(cmd)
	f.out.register(cmd, strings.Join(report.Formats, ", "))
	cmd.Flags().StringVarP(&f.severity, "severity", "s", "", "report only findings at these severities (comma-separated: critical,high,medium,low,info)")
	cmd.Flags().IntVar(&f.exitCode, "exit-code", 0, "exit with this code when a reported finding remains")
	cmd.Flags().StringVar(&f.ignoreFile, "ignorefile", ignore.DefaultFile, "file of accepted findings (rule, path, id or fingerprint, with reason and expiry)")
	f.vuln.register(cmd)
	cmd.Flags().StringVar(&f.config, "config", "", "policy file (default: "+policy.DefaultFile+" in the working directory, if present)")
	cmd.Flags().StringVar(&f.dockerfile, "dockerfile", "", "Dockerfile the image was built from: findings point at its lines, its FROM names the base image")
	cmd.Flags().StringSliceVar(&f.skipPaths, "skip-path", nil, "path glob inside the image whose files are not analysed and not reported (repeatable; ** crosses directories)")
	f.secrets.register(cmd)
	return cmd
}

// analyzers returns the analyzers every scan runs.
func (a *app) analyzers(o *opened, f *scanFlags) ([]analyze.Analyzer, error) {
	pkgs, err := a.packagesAnalyzer(o, &f.vuln)
	if err != nil {
		return nil, err
	}
	return []analyze.Analyzer{
		// secret comes first: its Finish redacts the secrets that history
		// lines carry (build-args) in img.Layers[].CreatedBy. analyze.Run
		// re-reads every finding's createdBy from there at the end, so the
		// order only matters to analyzers that quote history in titles.
		&secret.Analyzer{ShowSecrets: f.secrets.show, MaxBinaryBytes: f.secrets.maxBinaryBytes},
		&waste.Analyzer{},
		&usage.Analyzer{},
		pkgs,
		a.imageCheck.analyzer(),
	}, nil
}

func (a *app) runScan(ctx context.Context, ref string, f *scanFlags) error {
	if !report.Known(f.out.format) {
		return fmt.Errorf("--format %q: want one of %v", f.out.format, report.Formats)
	}
	sevs, err := scorecard.ParseSeverities(f.severity)
	if err != nil {
		return fmt.Errorf("--severity: %w", err)
	}
	ign, err := ignore.Load(f.ignoreFile, f.ignoreFile == ignore.DefaultFile)
	if err != nil {
		return err
	}
	skip, err := ignore.SkipPaths(f.skipPaths)
	if err != nil {
		return err
	}
	if err := a.imageCheck.load(f.config, f.dockerfile); err != nil {
		return err
	}
	f.img.skip = skip.Matcher()
	if f.vuln.offline {
		if ref, err = offlineRef(ref); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(ctx, f.img.timeout)
	defer cancel()
	o, err := a.openImage(ctx, ref, &f.img)
	if err != nil {
		return err
	}
	defer o.cleanup()
	analyzers, err := a.analyzers(o, f)
	if err != nil {
		return err
	}
	rep, err := a.scan(ctx, o, analyzers, &f.img, ign, skip)
	if err != nil {
		return err
	}
	rep.Findings = scorecard.Filter(rep.Findings, sevs)
	err = f.out.write(a, func(w io.Writer, tty bool) error {
		return report.Write(w, f.out.format, rep, report.Options{Color: tty && colorAllowed()})
	})
	if err != nil {
		return err
	}
	if f.exitCode != 0 && len(rep.Findings) > 0 {
		return exitError{code: f.exitCode}
	}
	return nil
}

// scan runs the analyzers over an opened image, applies the ignore files
// and builds the report. The scorecard counts what remains after ignores.
func (a *app) scan(ctx context.Context, o *opened, analyzers []analyze.Analyzer, f *imageFlags, ignores ...*ignore.File) (*scorecard.Report, error) {
	opts := f.analyzeOptions(a, o.cache)
	for _, an := range analyzers {
		// Slim runs leave their results in the same cache directory.
		if u, ok := an.(*usage.Analyzer); ok && u.CacheDir == "" {
			u.CacheDir = o.cache.Dir()
		}
	}
	pr := a.newProgress(o.img)
	pr.hook(&opts)
	start := time.Now()
	res, err := analyze.Run(ctx, o.img, analyzers, opts)
	pr.done()
	if err != nil {
		return nil, err
	}
	a.log.Debug("scan finished", "seconds", time.Since(start).Seconds(), "analyzers", analyze.Names(analyzers))
	var suppressed []scorecard.Suppressed
	suppressed = a.imageCheck.apply(o.img, res)
	for _, ig := range ignores {
		var sup []scorecard.Suppressed
		var warns []string
		res.Findings, sup, warns = ig.Apply(res.Findings, time.Now())
		suppressed = append(suppressed, sup...)
		res.Warnings = append(res.Warnings, warns...)
	}
	rep := buildReport(o.img, res)
	rep.Suppressed = suppressed
	return rep, nil
}

func buildReport(img *image.Image, res *analyze.Result) *scorecard.Report {
	info := scorecard.ImageInfo{
		Reference:    img.Reference,
		Transport:    string(img.Transport),
		OS:           img.Config.OS,
		Architecture: img.Config.Architecture,
		Variant:      img.Config.Variant,
		RepoTags:     img.RepoTags,
	}
	if img.Digest.Hex != "" {
		info.Digest = img.Digest.String()
	}
	if img.ConfigDigest.Hex != "" {
		info.ConfigDigest = img.ConfigDigest.String()
	}
	if !img.Config.Created.IsZero() {
		t := img.Config.Created.Time
		info.Created = &t
	}
	for i, l := range img.Layers {
		li := scorecard.LayerInfo{
			Index:     l.Index,
			DiffID:    l.DiffID.String(),
			Size:      l.Size,
			MediaType: l.MediaType,
			CreatedBy: l.CreatedBy,
		}
		if l.Digest.Hex != "" {
			li.Digest = l.Digest.String()
		}
		if i < len(res.Layers) {
			li.Files, li.Bytes, li.Cached = res.Layers[i].Files, res.Layers[i].Bytes, res.Layers[i].Cached
		}
		info.Layers = append(info.Layers, li)
	}
	findings := res.Findings
	if findings == nil {
		findings = []scorecard.Finding{}
	}
	return &scorecard.Report{
		SchemaVersion: scorecard.SchemaVersion,
		Tool:          scorecard.Tool{Name: "shipshape", Version: Version},
		CreatedAt:     time.Now().UTC().Truncate(time.Second),
		Image:         info,
		Practices:     scorecard.Evaluate(res.Findings, res.Coverage),
		Findings:      findings,
		Warnings:      res.Warnings,
		Sections:      res.Sections,
	}
}
