package report

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/shipshape-dev/shipshape/internal/vuln/db"
)

// DBStatusFormats are the formats of "db status".
var DBStatusFormats = Encoders[[]db.Meta]{
	{ID: "table", Encode: DBStatusTable},
	{ID: "json", Encode: func(w io.Writer, metas []db.Meta, o Options) error {
		if metas == nil {
			metas = []db.Meta{}
		}
		return writeJSON(w, metas)
	}},
}

// DBStatusTable writes each ecosystem's records and age for people.
func DBStatusTable(w io.Writer, metas []db.Meta, _ Options) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ECOSYSTEM\tRECORDS\tUPDATED\tAGE\tNEWEST RECORD\tSOURCE")
	for _, m := range metas {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", m.Ecosystem, m.Records, m.UpdatedAt.Format(time.RFC3339),
			time.Since(m.UpdatedAt).Round(time.Minute), m.Newest, m.Source)
	}
	return tw.Flush()
}
