package vuln_test

import (
	"archive/zip"
	"io"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/vuln/osv"
)

func readZip(tb testing.TB, path string) []*osv.Record {
	tb.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer zr.Close()
	var out []*osv.Record
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			tb.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			tb.Fatal(err)
		}
		if r, err := osv.Parse(b); err == nil {
			out = append(out, r)
		}
	}
	return out
}
