package inventory_test

import (
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/layertest"
)

func TestRPM(t *testing.T) {
	bdb, err := os.ReadFile("testdata/rpm-Packages-bdb")
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]byte{"/var/lib/rpm/Packages": bdb}
	// The sqlite and NDB databases are too big to keep here: use
	// osv-scalibr's copies from the module cache when it is there.
	out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "list", "-m", "-f", "{{.Dir}}", "github.com/google/osv-scalibr").Output()
	if err == nil {
		dir := filepath.Join(strings.TrimSpace(string(out)), "extractor/filesystem/os/rpm/testdata")
		if b, err := os.ReadFile(filepath.Join(dir, "rpmdb.sqlite")); err == nil {
			cases["/var/lib/rpm/rpmdb.sqlite"] = b
		}
		if b, err := os.ReadFile(filepath.Join(dir, "Packages.db")); err == nil {
			cases["/usr/lib/sysimage/rpm/Packages.db"] = b
		}
	}
	for p, content := range cases {
		t.Run(filepath.Base(p), func(t *testing.T) {
			inv := run(t, layertest.Layer{Files: map[string]layertest.File{
				"/etc/os-release": {Content: []byte("ID=rocky\nVERSION_ID=\"9.3\"\n")},
				p:                 {Content: content},
			}})
			if len(inv.Packages) == 0 {
				t.Fatalf("no packages from %s (errors: %v)", p, inv.Errors)
			}
			for _, pk := range inv.Packages {
				if pk.Type != "rpm" || pk.Ecosystem != "Rocky Linux:9" || !strings.HasPrefix(pk.PURL, "pkg:rpm/rocky/") || pk.Locations[0] != p {
					t.Errorf("package %+v", pk)
					break
				}
			}
			withEpoch := 0
			for _, pk := range inv.Packages {
				if strings.Contains(pk.Version, ":") {
					withEpoch++
					if !strings.Contains(pk.PURL, "epoch=") {
						t.Errorf("epoch missing from purl %s", pk.PURL)
					}
				}
			}
			t.Logf("%d rpm packages, %d with an epoch", len(inv.Packages), withEpoch)
		})
	}
}

// TestRPMNotRead: an rpm database past the bounds is refused before
// go-rpmdb reads it (it would hold every header it read): its packages
// are unknown, named among the errors, not none.
func TestRPMNotRead(t *testing.T) {
	p := filepath.Join(t.TempDir(), "rpmdb.sqlite")
	db, err := sql.Open("sqlite", p)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		"CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)",
		"WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 50001) INSERT INTO Packages(blob) SELECT x'00' FROM c",
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	content, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	inv := run(t, layertest.Layer{Files: map[string]layertest.File{
		"/etc/os-release":           {Content: []byte("ID=rocky\nVERSION_ID=\"9.3\"\n")},
		"/var/lib/rpm/rpmdb.sqlite": {Content: content},
	}})
	if len(inv.Packages) != 0 || len(inv.Errors) != 1 || !strings.Contains(inv.Errors[0], "/var/lib/rpm/rpmdb.sqlite") || !strings.Contains(inv.Errors[0], "more than 50000 packages") {
		t.Errorf("packages %+v, errors %q", inv.Packages, inv.Errors)
	}
}
