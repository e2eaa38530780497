package inventory

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/pkgdb"
)

// rpmSQLite writes an rpm SQLite database at path whose Packages table
// holds the rows insert adds (SQL run on the open database).
func rpmSQLite(t *testing.T, path, insert string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		"CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)",
		"CREATE TABLE Name (key TEXT NOT NULL, hnum INTEGER NOT NULL, idx INTEGER NOT NULL)",
		insert,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// TestCheckRPM: an rpm database go-rpmdb would hold too much of is
// refused before it reads it — a SQLite one by the number and size of its
// package headers (asked of SQLite, not read), a Berkeley DB or NDB one by
// its size — and one within the bounds is left to the extractor, as is a
// file that is not a database it reads.
func TestCheckRPM(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		name  string
		write func(t *testing.T, p string)
		want  string // "" when left to the extractor
	}{
		{"sqlite within the bounds", func(t *testing.T, p string) {
			rpmSQLite(t, p, "INSERT INTO Packages(blob) VALUES (zeroblob(1000)), (zeroblob(2000))")
		}, ""},
		{"sqlite, too many packages", func(t *testing.T, p string) {
			rpmSQLite(t, p, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < 50001) INSERT INTO Packages(blob) SELECT x'00' FROM c")
		}, "50001 package headers: more than 50000 packages"},
		{"sqlite, headers too large", func(t *testing.T, p string) {
			rpmSQLite(t, p, "INSERT INTO Packages(blob) VALUES (zeroblob(33554432)), (zeroblob(33554433))")
		}, "package headers of 67108865 bytes: larger than the limit of 67108864"},
		{"sqlite without a Packages table", func(t *testing.T, p string) {
			db, err := sql.Open("sqlite", p)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if _, err := db.Exec("CREATE TABLE other (x)"); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"berkeley db within the bounds", func(t *testing.T, p string) {
			if err := os.WriteFile(p, make([]byte, 4096), 0o644); err != nil {
				t.Fatal(err)
			}
		}, ""},
		{"berkeley db too large", func(t *testing.T, p string) {
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(pkgdb.MaxDatabaseBytes + 1); err != nil { // sparse
				t.Fatal(err)
			}
		}, "67108865 bytes: larger than the limit of 67108864 for a package database"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "-"))
			tt.write(t, p)
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fi, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			err = checkRPM(context.Background(), &source{file: f, dir: dir, size: fi.Size()})
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}
