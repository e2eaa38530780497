package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shipshape-dev/shipshape/internal/cache"
	"github.com/shipshape-dev/shipshape/internal/report"
	"github.com/shipshape-dev/shipshape/internal/scan"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/waste"
)

func (a *app) inspectCommand() *cobra.Command {
	var (
		img  imageFlags
		out  outputFlags
		show bool
	)
	cmd := &cobra.Command{
		Use:   "inspect IMAGE",
		Short: "List an image's layers with their history and wasted space",
		Long: `List the layers of an image — index, digest, size, file count and the history
line that made each one, with instructions that made no layer shown in place —
and dive's metrics: image efficiency and wasted bytes.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runInspect(cmd.Context(), args[0], &img, &out, &show)
		},
	}
	img.register(cmd)
	out.register(cmd, report.InspectFormats.String())
	cmd.Flags().BoolVar(&show, "show-secrets", false, "print secret values in history lines whole instead of redacted")
	return cmd
}

func (a *app) runInspect(ctx context.Context, ref string, f *imageFlags, out *outputFlags, show *bool) error {
	if err := checkFormat(report.InspectFormats, out.format); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	opts := f.scanOptions(a)
	// The config's secrets are found too, so that the history lines are
	// shown redacted (--show-secrets shows them whole).
	opts.Analyzers = []string{scan.Waste, scan.ConfigSecrets}
	opts.ShowSecrets = *show
	s, err := a.scanner(opts)
	if err != nil {
		return err
	}
	defer s.Close()
	rep, err := s.Scan(ctx, ref, a.newProgress())
	if err != nil {
		return err
	}
	m, _ := scorecard.Section[waste.Metrics](rep, waste.SectionName)
	ins := report.Inspection{Reference: ref, Digest: rep.Image.Digest, Metrics: m, Warnings: rep.Warnings}
	named := 0
	for _, h := range rep.Image.History {
		if h.Layer == 0 {
			if h.EmptyLayer {
				ins.Layers = append(ins.Layers, report.InspectLayer{Empty: true, CreatedBy: h.CreatedBy})
			}
			continue
		}
		l := rep.Image.Layers[h.Layer-1]
		ins.Layers = append(ins.Layers, report.InspectLayer{Index: l.Index, Digest: l.Digest, DiffID: l.DiffID, Size: l.Size,
			CreatedBy: h.CreatedBy, Files: l.Files, Bytes: l.Bytes})
		named = max(named, h.Layer)
	}
	// Layers the history does not account for.
	for _, l := range rep.Image.Layers[min(named, len(rep.Image.Layers)):] {
		ins.Layers = append(ins.Layers, report.InspectLayer{Index: l.Index, Digest: l.Digest, DiffID: l.DiffID, Size: l.Size,
			CreatedBy: l.CreatedBy, Files: l.Files, Bytes: l.Bytes})
	}
	return out.write(a, func(w io.Writer, opts report.Options) error {
		return report.InspectFormats.Write(w, out.format, &ins, opts)
	})
}

func (a *app) cacheCommand() *cobra.Command {
	var (
		dir string
		all bool
	)
	cmd := &cobra.Command{Use: "cache", Short: "Manage the layer cache"}
	clean := &cobra.Command{
		Use:   "clean",
		Short: "Remove every cached layer result (--all: everything in the cache directory)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				d, err := cache.DefaultDir()
				if err != nil {
					return err
				}
				dir = d
			}
			if all {
				if err := os.RemoveAll(dir); err != nil {
					return fmt.Errorf("cache clean --all: %w", err)
				}
				fmt.Fprintf(a.stdout, "removed %s and everything in it\n", dir)
				return nil
			}
			c, err := cache.Open(dir)
			if err != nil {
				return err
			}
			if err := c.Clear(); err != nil {
				return err
			}
			os.RemoveAll(filepath.Join(dir, "tmp"))
			fmt.Fprintf(a.stdout, "cleared the layer results in %s\n", dir)
			var kept []string
			for _, k := range []struct{ name, what string }{{"vulndb", "the vulnerability database"}, {"sensor", "the slim sensor"}, {"slim", "slim records"}} {
				if _, err := os.Stat(filepath.Join(dir, k.name)); err == nil {
					kept = append(kept, k.what+" ("+k.name+")")
				}
			}
			if len(kept) > 0 {
				fmt.Fprintf(a.stdout, "kept %s; --all removes them too\n", strings.Join(kept, ", "))
			}
			return nil
		},
	}
	clean.Flags().StringVar(&dir, "cache-dir", "", "cache directory (default: the user cache directory)/shipshape")
	clean.Flags().BoolVar(&all, "all", false, "also remove the vulnerability database, the sensor and slim records")
	cmd.AddCommand(clean)
	return cmd
}
