package inventory_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/layertest"
)

// TestHostileFiles feeds broken and hostile package files: the scan goes
// on, nothing panics, and what could be read is still reported.
func TestHostileFiles(t *testing.T) {
	elfHeader := append([]byte("\x7fELF\x02\x01\x01"), bytes.Repeat([]byte{0xff}, 4096)...)
	inv := run(t, layertest.Layer{Files: map[string]layertest.File{
		"/etc/os-release":                            {Content: []byte("ID=\"debian\nVERSION_ID=\x00\xff\n")},
		"/var/lib/dpkg/status":                       {Content: []byte("Package: ok\nStatus: install ok installed\nVersion: 1.0\n\n\xff\xfe: : :\n\nPackage: \nVersion: \n")},
		"/usr/bin/truncated-elf":                     {Content: elfHeader, Mode: 0o755},
		"/opt/app.jar":                               {Content: []byte("PK\x03\x04 not really a zip")},
		"/app/node_modules/evil/package.json":        {Content: []byte(`{"name": "evil", "version": {"$gt": ""}}`)},
		"/app/node_modules/deep/package.json":        {Content: []byte(strings.Repeat("[", 100000))},
		"/usr/lib/python3/x-1.dist-info/METADATA":    {Content: []byte("\x00\x01\x02")},
		"/usr/local/bundle/specifications/a.gemspec": {Content: []byte("Gem::Specification.new do |s|\n s.name = \"" + strings.Repeat("a", 1<<16) + "\"\nend\n")},
	}})
	if p := find(inv.Packages, "ok"); p == nil || p.Version != "1.0" {
		t.Errorf("the readable dpkg entry was lost: %+v (errors %v)", inv.Packages, inv.Errors)
	}
	if find(inv.Packages, "evil") != nil {
		t.Errorf("package with a non-string version reported")
	}
	t.Logf("errors recorded: %v", inv.Errors)
}
