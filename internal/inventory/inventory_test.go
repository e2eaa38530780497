package inventory_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/layertest"
	"github.com/shipshape-dev/shipshape/internal/secret"
)

const alpineRelease = `NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.20.3
PRETTY_NAME="Alpine Linux v3.20"
`

func apkDB(pkgs ...string) []byte {
	var b strings.Builder
	for _, p := range pkgs {
		// name:version:origin
		f := strings.Split(p, ":")
		b.WriteString("C:Q1abc=\nP:" + f[0] + "\nV:" + f[1] + "\nA:x86_64\nL:MIT\no:" + f[2] + "\nT:test\n\n")
	}
	return []byte(b.String())
}

func run(t *testing.T, layers ...layertest.Layer) *inventory.Inventory {
	t.Helper()
	a, err := inventory.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	img := layertest.Image(t, layers...)
	res, err := analyze.Run(context.Background(), img, []analyze.Analyzer{a}, analyze.Options{})
	if err != nil {
		t.Fatal(err)
	}
	inv, ok := res.Sections[inventory.SectionName].(*inventory.Inventory)
	if !ok {
		t.Fatalf("no inventory section: %#v", res.Sections)
	}
	return inv
}

func find(ps []inventory.Package, name string) *inventory.Package {
	for i := range ps {
		if ps[i].Name == name {
			return &ps[i]
		}
	}
	return nil
}

func TestLayerAttribution(t *testing.T) {
	db := "/lib/apk/db/installed"
	inv := run(t,
		layertest.Layer{CreatedBy: "ADD rootfs", Files: map[string]layertest.File{
			"/usr/lib/os-release": {Content: []byte(alpineRelease)},
			"/etc/os-release":     {Link: "../usr/lib/os-release"},
			db:                    {Content: apkDB("musl:1.2.5-r0:musl", "libcrypto3:3.3.2-r0:openssl")},
			"/usr/lib/python3.12/site-packages/old-1.0.dist-info/METADATA": {Content: []byte("Metadata-Version: 2.1\nName: old\nVersion: 1.0\n")},
		}},
		layertest.Layer{CreatedBy: "RUN apk add curl", Files: map[string]layertest.File{
			db: {Content: apkDB("musl:1.2.5-r0:musl", "libcrypto3:3.3.2-r0:openssl", "curl:8.9.1-r0:curl")},
		}},
		layertest.Layer{CreatedBy: "RUN apk del libcrypto3 && npm i", Files: map[string]layertest.File{
			db: {Content: apkDB("musl:1.2.5-r0:musl", "curl:8.9.1-r0:curl")},
			"/app/node_modules/left-pad/package.json":                      {Content: []byte(`{"name":"left-pad","version":"1.3.0","license":"WTFPL"}`)},
			"/usr/lib/python3.12/site-packages/old-1.0.dist-info/METADATA": {Whiteout: true},
		}},
	)
	if inv.Distro == nil || inv.Distro.Ecosystem != "Alpine:v3.20" {
		t.Fatalf("distro = %+v, want Alpine:v3.20 (through the os-release symlink)", inv.Distro)
	}
	want := map[string]struct {
		layer int
		eco   string
	}{
		"musl":     {1, "Alpine:v3.20"},
		"curl":     {2, "Alpine:v3.20"},
		"left-pad": {3, "npm"},
	}
	if len(inv.Packages) != len(want) {
		t.Errorf("final packages = %d, want %d: %+v", len(inv.Packages), len(want), inv.Packages)
	}
	for name, w := range want {
		p := find(inv.Packages, name)
		if p == nil {
			t.Errorf("%s missing from the final inventory", name)
			continue
		}
		if p.Layer != w.layer || p.Ecosystem != w.eco {
			t.Errorf("%s: layer %d ecosystem %q, want layer %d ecosystem %q", name, p.Layer, p.Ecosystem, w.layer, w.eco)
		}
	}
	if p := find(inv.Packages, "curl"); p != nil {
		if p.PURL != "pkg:apk/alpine/curl@8.9.1-r0?arch=x86_64&distro=alpine-3.20.3" {
			t.Errorf("curl purl = %s", p.PURL)
		}
		if p.CreatedBy != "RUN apk add curl" || p.Locations[0] != db {
			t.Errorf("curl evidence = %q %v", p.CreatedBy, p.Locations)
		}
	}
	if p := find(inv.Packages, "left-pad"); p != nil && p.PURL != "pkg:npm/left-pad@1.3.0" {
		t.Errorf("left-pad = %+v", p)
	}
	crypto := find(inv.Removed, "libcrypto3")
	if crypto == nil || crypto.Layer != 1 || crypto.RemovedIn != 3 || crypto.SourceName != "openssl" {
		t.Errorf("libcrypto3 removed = %+v, want introduced in 1, removed in 3, source openssl", crypto)
	}
	old := find(inv.Removed, "old")
	if old == nil || old.Layer != 1 || old.RemovedIn != 3 || old.Ecosystem != "PyPI" {
		t.Errorf("python package removed by whiteout = %+v", old)
	}
	if got := inv.CountByEcosystem(); got["Alpine"] != 2 || got["npm"] != 1 {
		t.Errorf("counts = %v", got)
	}
}

func TestDpkgSourcePackages(t *testing.T) {
	status := `Package: libssl3
Status: install ok installed
Architecture: amd64
Source: openssl (3.0.11-1~deb12u2)
Version: 3.0.11-1~deb12u2
Description: SSL

Package: bash
Status: install ok installed
Architecture: amd64
Version: 5.2.15-2+b2
Description: shell

Package: gone
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0
Description: removed

`
	distroless := "Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n"
	inv := run(t, layertest.Layer{Files: map[string]layertest.File{
		"/etc/os-release":               {Content: []byte("ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n")},
		"/var/lib/dpkg/status":          {Content: []byte(status)},
		"/var/lib/dpkg/status.d/tzdata": {Content: []byte(distroless)},
	}})
	if len(inv.Packages) != 3 {
		t.Fatalf("packages = %+v, want libssl3, bash, tzdata (not the deinstalled one)", inv.Packages)
	}
	ssl := find(inv.Packages, "libssl3")
	if ssl == nil || ssl.SourceName != "openssl" || ssl.SourceVersion != "3.0.11-1~deb12u2" || ssl.Ecosystem != "Debian:12" {
		t.Errorf("libssl3 = %+v", ssl)
	}
	if ssl != nil && ssl.PURL != "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12&upstream=openssl%403.0.11-1~deb12u2" {
		t.Errorf("libssl3 purl = %s", ssl.PURL)
	}
	if tz := find(inv.Packages, "tzdata"); tz == nil || tz.Locations[0] != "/var/lib/dpkg/status.d/tzdata" {
		t.Errorf("distroless tzdata = %+v", tz)
	}
}

// TestGoBinary builds a real Go binary and checks its modules and the
// standard library are listed.
func TestGoBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := buildGo(t, "package main\nfunc main() { println(\"hi\") }\n")
	inv := run(t, layertest.Layer{Files: map[string]layertest.File{
		"/usr/local/bin/app": {Content: bin, Mode: 0o755},
	}})
	std := find(inv.Packages, "stdlib")
	if std == nil || !std.GoStdlib || std.Ecosystem != "Go" || !strings.HasPrefix(runtime.Version(), "go"+strings.TrimPrefix(std.Version, "go")) {
		t.Errorf("stdlib = %+v, want Go %s", std, runtime.Version())
	}
	if std != nil && std.Locations[0] != "/usr/local/bin/app" {
		t.Errorf("stdlib location = %v", std.Locations)
	}
}

func buildGo(t *testing.T, src string) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/app\n\ngo 1.22\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", "app", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "app"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestOSEcosystem(t *testing.T) {
	for _, c := range []struct{ id, v, want string }{
		{"debian", "12", "Debian:12"},
		{"ubuntu", "22.04", "Ubuntu:22.04"},
		{"alpine", "3.20.3", "Alpine:v3.20"},
		{"alpine", "3.12.12", "Alpine:v3.12"},
		{"rocky", "9.3", "Rocky Linux:9"},
		{"almalinux", "8.10", "AlmaLinux:8"},
		{"rhel", "9.4", "Red Hat:enterprise_linux:9"},
		{"rhel", "", "Red Hat"},
		{"wolfi", "", "Wolfi"},
		{"plan9", "4", ""},
	} {
		if got := inventory.OSEcosystem(c.id, c.v); got != c.want {
			t.Errorf("OSEcosystem(%q, %q) = %q, want %q", c.id, c.v, got, c.want)
		}
	}
}

// TestInMemoryContent checks that content read once for several analyzers
// (and handed over in place, analyze.Whole) gives the same inventory and
// the same secrets as content streamed to one analyzer alone.
func TestInMemoryContent(t *testing.T) {
	// Always runs: a one-file Go program builds offline in about a second.
	bin := buildGo(t, "package main\nfunc main() { println(\"hi\") }\n")
	img := layertest.Image(t, layertest.Layer{Files: map[string]layertest.File{
		"/usr/lib/os-release":   {Content: []byte(alpineRelease)},
		"/lib/apk/db/installed": {Content: apkDB("musl:1.2.5-r0:musl", "curl:8.9.1-r0:curl")},
		"/usr/local/bin/app":    {Content: bin, Mode: 0o755},
		// Wanted by both analyzers (read once, in memory); the secret is in
		// its second half.
		"/app/package.json": {Content: []byte(`{"name":"app","version":"1.0.0","description":"` + strings.Repeat("padding ", 40) +
			`","dependencies":{"left-pad":"1.3.0"},"config":{"token":"ghp_R8x2Kq7Vb4Nz1Lp6Wc9Yt3Hd5Jm0Fs2Ga7Bu"}}`)},
		"/app/node_modules/left-pad/package.json": {Content: []byte(`{"name":"left-pad","version":"1.3.0"}`)},
		"/app/.env": {Content: []byte("AWS_ACCESS_KEY_ID=AKIAQWERTYUIOPASDFGH\nAWS_SECRET_ACCESS_KEY=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\n")},
	}})
	scan := func(withSecret, withInventory bool) (inv, sec string) {
		t.Helper()
		var as []analyze.Analyzer
		if withSecret {
			as = append(as, &secret.Analyzer{})
		}
		if withInventory {
			a, err := inventory.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			as = append(as, a)
		}
		res, err := analyze.Run(context.Background(), img, as, analyze.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if withInventory {
			b, _ := json.Marshal(res.Sections[inventory.SectionName])
			inv = string(b)
		}
		if withSecret {
			b, _ := json.Marshal(res.Outputs["secret"].Findings)
			sec = string(b)
		}
		return inv, sec
	}
	invAlone, _ := scan(false, true)
	_, secAlone := scan(true, false)
	invBoth, secBoth := scan(true, true)
	if invAlone != invBoth {
		t.Errorf("inventory streamed:\n%s\nin memory:\n%s", invAlone, invBoth)
	}
	if secAlone != secBoth {
		t.Errorf("secrets streamed:\n%s\nin memory:\n%s", secAlone, secBoth)
	}
	for _, want := range []string{`"stdlib"`, `"curl"`, `"left-pad"`} {
		if !strings.Contains(invBoth, want) {
			t.Errorf("inventory lacks %s: %s", want, invBoth)
		}
	}
	for _, want := range []string{"/app/.env", "/app/package.json"} {
		if !strings.Contains(secBoth, want) {
			t.Errorf("no secret found in %s: %s", want, secBoth)
		}
	}
}

// TestSpoolOnlyStreamed: a file over MemoryBytes is spooled to TempDir when
// it is streamed to the inventory alone, but content the dispatcher already
// holds in memory (wanted by several analyzers) is used in place, whatever
// its size: spooling it would copy it to disk a second time. TempDir is
// missing here, so a spool shows as an error in the inventory.
func TestSpoolOnlyStreamed(t *testing.T) {
	bin := buildGo(t, "package main\nfunc main() { println(\"hi\") }\n")
	img := layertest.Image(t, layertest.Layer{Files: map[string]layertest.File{
		"/usr/local/bin/app": {Content: bin, Mode: 0o755},
	}})
	missing := filepath.Join(t.TempDir(), "missing")
	scan := func(withSecret bool, tmp string) string {
		t.Helper()
		a, err := inventory.New(tmp)
		if err != nil {
			t.Fatal(err)
		}
		a.MemoryBytes = 64 << 10 // the binary is bigger
		as := []analyze.Analyzer{a}
		if withSecret {
			as = append(as, &secret.Analyzer{})
		}
		res, err := analyze.Run(context.Background(), img, as, analyze.Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(res.Sections[inventory.SectionName])
		return string(b)
	}
	if got := scan(false, missing); !strings.Contains(got, "spool") || strings.Contains(got, `"stdlib"`) {
		t.Errorf("streamed alone with an unwritable TempDir: want a spool error and no packages, got %s", got)
	}
	if got := scan(false, t.TempDir()); !strings.Contains(got, `"stdlib"`) {
		t.Errorf("streamed alone, spooled: the Go binary's packages are missing: %s", got)
	}
	if got := scan(true, missing); strings.Contains(got, "spool") || !strings.Contains(got, `"stdlib"`) {
		t.Errorf("held in memory for two analyzers: want it read in place (no spool), got %s", got)
	}
}
