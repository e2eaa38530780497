package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/shipshape-dev/shipshape/internal/humanize"
	"github.com/shipshape-dev/shipshape/internal/waste"
)

// Inspection is the result of "shipshape inspect": an image's history with
// its layers, and dive's metrics.
type Inspection struct {
	Reference string         `json:"reference"`
	Digest    string         `json:"digest,omitempty"`
	Layers    []InspectLayer `json:"history"`
	Metrics   waste.Metrics  `json:"metrics"`
	Warnings  []string       `json:"warnings,omitempty"`
}

// InspectLayer is one history entry: a layer, or an instruction that made
// no layer (empty).
type InspectLayer struct {
	Index     int    `json:"index,omitempty"`
	Empty     bool   `json:"emptyLayer,omitempty"`
	Digest    string `json:"digest,omitempty"`
	DiffID    string `json:"diffID,omitempty"`
	Size      int64  `json:"size,omitempty"`
	Bytes     int64  `json:"bytes,omitempty"`
	Files     int    `json:"files,omitempty"`
	CreatedBy string `json:"createdBy"`
}

// InspectFormats are the formats of "inspect".
var InspectFormats = Encoders[*Inspection]{
	{ID: "table", Encode: InspectTable},
	{ID: "json", Encode: jsonOf[*Inspection]},
}

// InspectTable writes an inspection for people.
func InspectTable(w io.Writer, ins *Inspection, _ Options) error {
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
