package cli

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/shipshape-dev/shipshape/internal/report"
	"github.com/shipshape-dev/shipshape/internal/scan"
)

func (a *app) sbomCommand() *cobra.Command {
	var img imageFlags
	var out outputFlags
	cmd := &cobra.Command{
		Use:   "sbom IMAGE",
		Short: "List every package in an image as a CycloneDX or SPDX SBOM",
		Long: `List the image's packages — OS packages (dpkg, apk, rpm) with their source
packages, Go binaries (modules and toolchain), npm, Python, Java, Ruby, Rust,
PHP and .NET — each with its purl, licences, evidence files and the layer
that introduced it, as CycloneDX 1.6 JSON, SPDX 2.3 JSON or shipshape JSON
(which also lists packages later layers removed).`,
		Example: `  shipshape sbom docker-archive:app.tar > app.cdx.json
  shipshape sbom --format spdx -o app.spdx.json app:latest`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runSBOM(cmd.Context(), args[0], &img, &out)
		},
	}
	img.register(cmd)
	out.register(cmd, report.SBOMFormats.String())
	cmd.Flags().Lookup("format").DefValue = "cyclonedx"
	out.format = "cyclonedx"
	return cmd
}

func (a *app) runSBOM(ctx context.Context, ref string, img *imageFlags, out *outputFlags) error {
	if err := checkFormat(report.SBOMFormats, out.format); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, img.timeout)
	defer cancel()
	opts := img.scanOptions(a)
	opts.Analyzers = []string{scan.Inventory}
	s, err := a.scanner(opts)
	if err != nil {
		return err
	}
	defer s.Close()
	rep, err := s.Scan(ctx, ref, a.newProgress())
	if err != nil {
		return err
	}
	return out.write(a, func(w io.Writer, opts report.Options) error {
		return report.SBOMFormats.Write(w, out.format, rep, opts)
	})
}
