package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/shipshape-dev/shipshape/internal/cache"
	"github.com/shipshape-dev/shipshape/internal/humanize"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/scan"
	"github.com/shipshape-dev/shipshape/internal/waste"
)

func colorAllowed() bool { return os.Getenv("NO_COLOR") == "" }

// inspection is the JSON form of "shipshape inspect".
type inspection struct {
	Reference string         `json:"reference"`
	Digest    string         `json:"digest,omitempty"`
	Layers    []inspectLayer `json:"history"`
	Metrics   waste.Metrics  `json:"metrics"`
	Warnings  []string       `json:"warnings,omitempty"`
}

// inspectLayer is one history entry: a layer, or an instruction that made
// no layer (empty).
type inspectLayer struct {
	Index     int    `json:"index,omitempty"`
	Empty     bool   `json:"emptyLayer,omitempty"`
	Digest    string `json:"digest,omitempty"`
	DiffID    string `json:"diffID,omitempty"`
	Size      int64  `json:"size,omitempty"`
	Bytes     int64  `json:"bytes,omitempty"`
	Files     int    `json:"files,omitempty"`
	CreatedBy string `json:"createdBy"`
}

func (a *app) inspectCommand() *cobra.Command {
	var (
		img imageFlags
		out outputFlags
	)
	cmd := &cobra.Command{
		Use:   "inspect IMAGE",
		Short: "List an image's layers with their history and wasted space",
		Long: `List the layers of an image — index, digest, size, file count and the history
line that made each one, with instructions that made no layer shown in place —
and dive's metrics: image efficiency and wasted bytes.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runInspect(cmd.Context(), args[0], &img, &out)
		},
	}
	img.register(cmd)
	out.register(cmd, "table, json")
	return cmd
}

func (a *app) runInspect(ctx context.Context, ref string, f *imageFlags, out *outputFlags) error {
	if out.format != "table" && out.format != "json" {
		return fmt.Errorf("--format %q: inspect writes table or json", out.format)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	opts := f.scanOptions(a)
	opts.Analyzers = []string{scan.Waste}
	s, err := a.scanner(opts)
	if err != nil {
		return err
	}
	defer s.Close()
	o, err := s.Open(ctx, ref)
	if err != nil {
		return err
	}
	defer o.Close()
	rep, err := s.ScanImage(ctx, o, a.newProgress())
	if err != nil {
		return err
	}
	m, _ := rep.Sections[waste.SectionName].(waste.Metrics)
	ins := inspection{Reference: ref, Digest: rep.Image.Digest, Metrics: m, Warnings: rep.Warnings}
	for _, h := range o.Image.History() {
		if h.Layer == 0 {
			if h.Empty {
				ins.Layers = append(ins.Layers, inspectLayer{Empty: true, CreatedBy: h.CreatedBy})
			}
			continue
		}
		l := rep.Image.Layers[h.Layer-1]
		ins.Layers = append(ins.Layers, inspectLayer{Index: l.Index, Digest: l.Digest, DiffID: l.DiffID, Size: l.Size,
			CreatedBy: h.CreatedBy, Files: l.Files, Bytes: l.Bytes})
	}
	// Layers the history does not account for.
	for _, l := range rep.Image.Layers[min(len(rep.Image.Layers), historyLayers(o.Image)):] {
		ins.Layers = append(ins.Layers, inspectLayer{Index: l.Index, Digest: l.Digest, DiffID: l.DiffID, Size: l.Size,
			CreatedBy: l.CreatedBy, Files: l.Files, Bytes: l.Bytes})
	}
	return out.write(a, func(w io.Writer, _ bool) error {
		if out.format == "json" {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(ins)
		}
		return writeInspection(w, &ins)
	})
}

// historyLayers counts the layers the history names.
func historyLayers(img *image.Image) int {
	n := 0
	for _, h := range img.History() {
		n = max(n, h.Layer)
	}
	return n
}

func writeInspection(w io.Writer, ins *inspection) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "Image: %s\n", ins.Reference)
	if ins.Digest != "" {
		fmt.Fprintf(b, "  digest %s\n", ins.Digest)
	}
	fmt.Fprintln(b)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tDIFFID\tSIZE\tFILES\tCREATED BY")
	for _, l := range ins.Layers {
		if l.Empty {
			fmt.Fprintf(tw, "  -\t\t\t\t%s\n", humanize.Line(l.CreatedBy, 100))
			continue
		}
		fmt.Fprintf(tw, "%4d\t%s\t%s\t%d\t%s\n", l.Index, humanize.Digest(l.DiffID), humanize.Bytes(l.Bytes), l.Files, humanize.Line(l.CreatedBy, 100))
	}
	tw.Flush()
	m := ins.Metrics
	fmt.Fprintf(b, "\nImage efficiency: %.2f%%   wasted: %s   user wasted: %.2f%%\n", m.Efficiency*100, humanize.Bytes(m.WastedBytes), m.UserWastedPercent*100)
	if len(m.Paths) > 0 {
		fmt.Fprintln(b)
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "COPIES\tWASTED\t  PATH")
		for _, p := range m.Paths {
			fmt.Fprintf(tw, "%d\t%s\t  %s (layers %v)\n", p.Copies, humanize.Bytes(p.Bytes), p.Path, p.Layers)
		}
		tw.Flush()
	}
	for _, wn := range ins.Warnings {
		fmt.Fprintf(b, "warning: %s\n", wn)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (a *app) cacheCommand() *cobra.Command {
	var dir string
	cmd := &cobra.Command{Use: "cache", Short: "Manage the layer cache"}
	clean := &cobra.Command{
		Use:   "clean",
		Short: "Remove every cached layer result",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				d, err := cache.DefaultDir()
				if err != nil {
					return err
				}
				dir = d
			}
			c, err := cache.Open(dir)
			if err != nil {
				return err
			}
			if err := c.Clear(); err != nil {
				return err
			}
			fmt.Fprintf(a.stdout, "cleared %s\n", c.Dir())
			return nil
		},
	}
	clean.Flags().StringVar(&dir, "cache-dir", "", "cache directory (default: the user cache directory)/shipshape")
	cmd.AddCommand(clean)
	return cmd
}
