package report

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSchemasRecorded checks that every schema in testdata has its row in
// testdata/README.md (source, version, date) with the file's current
// SHA-256, so that no schema is added or replaced without its provenance.
func TestSchemasRecorded(t *testing.T) {
	readme, err := os.ReadFile("testdata/README.md")
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no schemas in testdata: %v", err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(readme), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) > 2 {
			rows[strings.Trim(strings.TrimSpace(cells[1]), "`")] = line
		}
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		name := filepath.Base(f)
		row, ok := rows[name]
		switch {
		case !ok:
			t.Errorf("%s has no row in testdata/README.md", name)
		case !strings.Contains(row, hex.EncodeToString(sum[:])):
			t.Errorf("%s changed: its row in testdata/README.md records another SHA-256 (now %x)", name, sum)
		}
	}
}
