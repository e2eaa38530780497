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
	var includeDeclared bool
	cmd := &cobra.Command{
		Use:   "sbom IMAGE",
		Short: "List every package in an image as a CycloneDX or SPDX SBOM",
		Long: `List the image's packages — OS packages (dpkg, apk, rpm) with their source
packages, Go binaries (modules and toolchain), npm, Python, Java, Ruby, Rust,
PHP and .NET — each with its purl, licences, evidence files and the layer
that introduced it, as CycloneDX 1.6 JSON, SPDX 2.3 JSON or shipshape JSON
(which also lists packages later layers removed).

An SBOM lists what is installed: packages only declared in lock files
(package-lock.json, yarn.lock, pnpm-lock.yaml, composer.lock) that no
installed package matches are left out of CycloneDX and SPDX, and counted
(CycloneDX metadata property shipshape:declaredOnlyOmitted, SPDX creator
comment). --include-declared lists them, marked: CycloneDX property
shipshape:declaredOnly=true, SPDX annotation shipshape:declaredOnly=true.
Licences are SPDX ids or expressions where they are valid SPDX (Debian
copyright names such as "GPL-2+" and "Expat" are mapped), names otherwise.`,
		Example: `  shipshape sbom docker-archive:app.tar > app.cdx.json
  shipshape sbom --format spdx -o app.spdx.json app:latest`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runSBOM(cmd.Context(), args[0], &img, &out, includeDeclared)
		},
	}
	img.register(cmd)
	out.register(cmd, report.SBOMFormats.String())
	cmd.Flags().Lookup("format").DefValue = "cyclonedx"
	out.format = "cyclonedx"
	cmd.Flags().BoolVar(&includeDeclared, "include-declared", false, includeDeclaredHelp)
	return cmd
}

// includeDeclaredHelp documents --include-declared (sbom and scan).
const includeDeclaredHelp = "list packages only declared in lock files in CycloneDX and SPDX output too, marked declaredOnly (default: installed packages only)"

func (a *app) runSBOM(ctx context.Context, ref string, img *imageFlags, out *outputFlags, includeDeclared bool) error {
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
		opts.IncludeDeclared = includeDeclared
		return report.SBOMFormats.Write(w, out.format, rep, opts)
	})
}
