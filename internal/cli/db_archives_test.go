package cli_test

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/shipshape-dev/shipshape/internal/archive/archivetest"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// TestDBUpdateArchives runs `db update --for IMAGE` against a local,
// signed Alpine mirror, `db status`, then a scan that reports the pending
// updates offline; and `--distros` against a signed Debian mirror.
func TestDBUpdateArchives(t *testing.T) {
	root, keys, dbDir := t.TempDir(), t.TempDir(), t.TempDir()
	k := archivetest.NewAlpineKey(t, keys, "test.rsa.pub")
	built := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	archivetest.WriteAPKINDEX(t, root, "v3.20", "main", "x86_64", archivetest.APKINDEX(t, k, []archivetest.APKPackage{
		{Name: "musl", Version: "1.2.5-r1", Origin: "musl", Built: built},
	}))
	archivetest.WriteAPKINDEX(t, root, "v3.20", "community", "x86_64", archivetest.APKINDEX(t, k, nil))

	l, err := tarball.LayerFromFile(testenv.SharedData(t, "rootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	img, _ := mutate.AppendLayers(empty.Image, l)
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	img, _ = mutate.ConfigFile(img, cf)
	p := filepath.Join(t.TempDir(), "alpine.tar")
	if err := tarball.WriteToFile(p, name.MustParseReference("shipshape-test/alpine:3.20"), img); err != nil {
		t.Fatal(err)
	}
	ref := "docker-archive:" + p

	// Before: P3 says which command fetches the data.
	r := run(t, "scan", "--no-cache", "--offline", "--db-dir", dbDir, "-f", "json", ref)
	if r.code != 0 || !strings.Contains(r.stdout, "shipshape db update --for "+ref+" --db-dir "+dbDir) {
		t.Fatalf("scan without archive data: exit %d, %s\n%s", r.code, r.stderr, r.stdout)
	}

	r = run(t, "db", "update", "--archives-only", "--db-dir", dbDir, "--for", ref, "--no-cache",
		"--archive-mirror", "alpine="+root, "--alpine-keys", keys)
	if r.code != 0 || !strings.Contains(r.stdout, "alpine:v3.20/x86_64") || !strings.Contains(r.stdout, "RSA: test.rsa.pub") {
		t.Fatalf("db update --for: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout+r.stderr, "registry to ask") {
		t.Errorf("--archives-only asked the language registries too:\n%s%s", r.stdout, r.stderr)
	}
	if r := run(t, "db", "update", "--archives-only", "--registries-only", "--db-dir", dbDir); r.code == 0 || !strings.Contains(r.stderr, "exclude each other") {
		t.Errorf("--archives-only --registries-only: exit %d %s", r.code, r.stderr)
	}
	r = run(t, "db", "status", "--db-dir", dbDir)
	if !strings.Contains(r.stdout, "archive alpine:v3.20/x86_64") {
		t.Errorf("db status:\n%s", r.stdout)
	}

	r = run(t, "scan", "--no-cache", "--offline", "--db-dir", dbDir, "-f", "json", ref)
	var rep scorecard.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err, r.stderr)
	}
	var rules []string
	for _, f := range rep.Findings {
		if f.Practice == scorecard.P3 && f.Package != nil {
			rules = append(rules, f.Rule+" "+f.Package.Name)
		}
	}
	if strings.Join(rules, ",") != "SS-P3-008 musl" {
		t.Errorf("P3 package findings %v", rules)
	}
	if !strings.Contains(r.stdout, `"freshness"`) {
		t.Error("no freshness section")
	}

	// Debian through --distros and a mirror directory.
	s := archivetest.NewSigner(t, t.TempDir())
	droot := t.TempDir()
	now := time.Now()
	for _, su := range []string{"bookworm", "bookworm-updates", "bookworm-security"} {
		s.WriteSuite(t, droot, archivetest.Suite{Name: su, Date: now, Packages: map[string]string{"amd64": "Package: libc6\nVersion: 2.36-9+deb12u99\n"}})
	}
	r = run(t, "db", "update", "--archives-only", "--no-archives=false", "--db-dir", dbDir, "--distros", "debian:12",
		"--archive-mirror", "debian="+droot+",debian-security=file://"+droot, "--keyring", s.Keyring, "--alpine-keys", keys, "--archive-mirror", "alpine="+root)
	if r.code != 0 || !strings.Contains(r.stdout, "debian:bookworm/amd64") || !regexp.MustCompile(`alpine:v3.20/x86_64 +unchanged`).MatchString(r.stdout) {
		t.Fatalf("db update --distros: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	// A bad target is a usage error.
	if r = run(t, "db", "update", "--archives-only", "--db-dir", dbDir, "--distros", "fedora:40"); r.code != 2 || !strings.Contains(r.stderr, "--distros") {
		t.Errorf("fedora: exit %d %s", r.code, r.stderr)
	}
}
