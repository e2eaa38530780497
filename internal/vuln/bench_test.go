package vuln_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/testenv"
	"github.com/shipshape-dev/shipshape/internal/vuln/db"
	"github.com/shipshape-dev/shipshape/internal/vuln/match"
	"github.com/shipshape-dev/shipshape/internal/vuln/osv"
)

// BenchmarkImportGo imports the real Go export (target ≤ 3 s).
func BenchmarkImportGo(b *testing.B) {
	zip := testenv.SharedData(b, "osv/Go-all.zip")
	for b.Loop() {
		im := db.NewImporter(b.TempDir())
		if err := im.AddPath(context.Background(), zip); err != nil {
			b.Fatal(err)
		}
		if _, err := im.Commit(nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatch matches 5,000 packages against a database holding the Go
// export and a synthetic 200,000-record ecosystem (target ≤ 1 s).
func BenchmarkMatch(b *testing.B) {
	zip := testenv.SharedData(b, "osv/Go-all.zip")
	dir := b.TempDir()
	im := db.NewImporter(dir)
	ctx := context.Background()
	if err := im.AddPath(ctx, zip); err != nil {
		b.Fatal(err)
	}
	const synthetic, names = 200_000, 50_000
	for i := range synthetic {
		n := i % names
		r := &osv.Record{
			ID:       fmt.Sprintf("PYSEC-SYN-%d", i),
			Aliases:  []string{fmt.Sprintf("CVE-2099-%d", i)},
			Summary:  "synthetic",
			Severity: []osv.Severity{{Type: "CVSS_V3", Score: "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}},
			Affected: []osv.Affected{{
				Package: osv.Package{Ecosystem: "PyPI", Name: fmt.Sprintf("pkg-%d", n)},
				Ranges: []osv.Range{{Type: "ECOSYSTEM", Events: []osv.Event{
					{Introduced: fmt.Sprintf("%d.0", i/names)}, {Fixed: fmt.Sprintf("%d.5", i/names)},
				}}},
			}},
		}
		if err := im.Add(r); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := im.Commit(nil); err != nil {
		b.Fatal(err)
	}
	// 1,000 Go modules that have advisories, 4,000 synthetic PyPI packages.
	d, err := db.Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	var pkgs []inventory.Package
	for _, mod := range goModules(b, zip, 1000) {
		pkgs = append(pkgs, inventory.Package{Name: mod, Version: "0.0.1", Ecosystem: "Go", Type: "golang"})
	}
	for i := len(pkgs); i < 5000; i++ {
		pkgs = append(pkgs, inventory.Package{Name: fmt.Sprintf("pkg-%d", i*7%names), Version: "1.2", Ecosystem: "PyPI", Type: "pypi"})
	}
	b.ResetTimer()
	var n int
	for b.Loop() {
		ms, _, err := match.Packages(d, pkgs)
		if err != nil {
			b.Fatal(err)
		}
		n = len(ms)
	}
	b.ReportMetric(float64(len(pkgs)), "packages")
	b.ReportMetric(float64(n), "matches")
}

// goModules returns up to n distinct module paths of the Go export.
func goModules(b *testing.B, zip string, n int) []string {
	seen := map[string]bool{}
	var out []string
	recs := readZip(b, zip)
	for _, r := range recs {
		for _, a := range r.Affected {
			if a.Package.Ecosystem == "Go" && !seen[a.Package.Name] && len(out) < n {
				seen[a.Package.Name] = true
				out = append(out, a.Package.Name)
			}
		}
	}
	return out
}
