package pending_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/shipshape-dev/shipshape/internal/archive"
	"github.com/shipshape-dev/shipshape/internal/archive/archivetest"
	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/pending"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/scan"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// scanFreshness scans ref with the freshness analyzer alone.
func scanFreshness(t *testing.T, ref, dbDir string, now time.Time, offline bool, pol *policy.Policy) *scorecard.Report {
	t.Helper()
	s, err := scan.New(scan.Options{Analyzers: []string{scan.SystemFreshness}, DBDir: dbDir, NoCache: true, CacheDir: t.TempDir(),
		Offline: offline, Insecure: true, Now: func() time.Time { return now }, Policy: pol})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err := s.Scan(context.Background(), ref, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func practice(r *scorecard.Report, p scorecard.Practice) scorecard.PracticeResult {
	for _, pr := range r.Practices {
		if pr.ID == p {
			return pr
		}
	}
	return scorecard.PracticeResult{}
}

// summary is "RULE severity package installed→candidate" per finding.
func summary(r *scorecard.Report) []string {
	var out []string
	for _, f := range r.Findings {
		s := f.Rule + " " + string(f.Severity)
		if f.Package != nil {
			s += fmt.Sprintf(" %s %s→%s", f.Package.Name, f.Package.Version, f.Evidence["candidate"])
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

// TestDebootstrapPending scans a real debootstrap image of bookworm
// against a frozen copy of the release's Packages (the entries of the
// image's packages, testdata) plus hand-made -updates and -security
// entries, signed with a key made here: exactly the hand-made updates are
// pending, the security one pending longer than the policy allows fails
// P3.
func TestDebootstrapPending(t *testing.T) {
	ref := testenv.DebianImage(t, "minbase")
	frozen, err := os.ReadFile("testdata/bookworm-main-amd64.Packages")
	if err != nil {
		t.Fatal(err)
	}
	root, dbDir := t.TempDir(), t.TempDir()
	s := archivetest.NewSigner(t, t.TempDir())
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	d0, d1 := now.Add(-45*24*time.Hour), now.Add(-5*24*time.Hour)
	release := archivetest.Suite{Name: "bookworm", Date: time.Date(2026, 7, 11, 10, 16, 37, 0, time.UTC), Packages: map[string]string{"amd64": string(frozen)}}
	updates := archivetest.Suite{Name: "bookworm-updates", Date: d0, Packages: map[string]string{"amd64": "Package: tzdata\nVersion: 2099a-0+deb12u1\nArchitecture: all\n"}}
	sec := "Package: libc6\nSource: glibc\nVersion: 2.36-9+deb12u99\nArchitecture: amd64\n"
	s.WriteSuite(t, root, release)
	s.WriteSuite(t, root, updates)
	s.WriteSuite(t, root, archivetest.Suite{Name: "bookworm-security", Date: d0, Packages: map[string]string{"amd64": sec}})
	u := &archive.Updater{Dir: dbDir, Mirrors: map[string]string{"debian": root, "debian-security": root},
		Keyrings: map[string]string{"debian": s.Keyring}, Now: func() time.Time { return d0 }}
	target := []archive.Target{{Distro: "debian", Release: "bookworm", Arches: []string{"amd64"}}}
	if _, err := u.Update(context.Background(), target); err != nil {
		t.Fatal(err)
	}
	// Five days before the scan, the security suite adds libc-bin.
	s.WriteSuite(t, root, archivetest.Suite{Name: "bookworm-security", Date: d1, Packages: map[string]string{"amd64": sec + "\nPackage: libc-bin\nSource: glibc\nVersion: 2.36-9+deb12u99\nArchitecture: amd64\n"}})
	u.Now = func() time.Time { return d1 }
	if _, err := u.Update(context.Background(), target); err != nil {
		t.Fatal(err)
	}

	r := scanFreshness(t, ref, dbDir, now, true, nil)
	got := summary(r)
	want := []string{
		"SS-P3-007 high libc6 2.36-9+deb12u13→2.36-9+deb12u99",
		"SS-P3-007 medium libc-bin 2.36-9+deb12u13→2.36-9+deb12u99",
		"SS-P3-008 low tzdata 2026b-0+deb12u1→2099a-0+deb12u1",
	}
	// The installed versions are the image's: a later rebuild of the
	// cached image may carry newer ones, so compare without them.
	strip := func(ss []string) []string {
		out := make([]string, len(ss))
		for i, s := range ss {
			f := strings.Fields(s)
			_, cand, _ := strings.Cut(f[3], "→")
			out[i] = strings.Join([]string{f[0], f[1], f[2], cand}, " ")
		}
		slices.Sort(out)
		return out
	}
	if !slices.Equal(strip(got), strip(want)) {
		t.Errorf("findings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	p3 := practice(r, scorecard.P3)
	if p3.Status != scorecard.Fail || !strings.Contains(p3.Summary, "3 pending system updates (2 security, oldest pending since "+d0.Format(time.DateOnly)+")") {
		t.Errorf("P3 %s: %q", p3.Status, p3.Summary)
	}
	sec2, ok := r.Sections[pending.Section].(*pending.Report)
	if !ok {
		t.Fatalf("no %s section", pending.Section)
	}
	sp := sec2.SystemPackages
	if sp.Status != "ran" || sp.Distro != "debian" || sp.Release != "bookworm" || sp.Arch != "amd64" || sp.Installed < 80 || sp.NotInArchive != 0 || sp.Pending != 3 || sp.Security != 2 || !sp.OldestPending.Equal(d0) {
		t.Errorf("section %+v", sp)
	}
	for _, f := range r.Findings {
		if f.Layer != 1 || f.Path != "/var/lib/dpkg/status" || !strings.Contains(f.Fix, "apt-get") {
			t.Errorf("finding %s: layer %d, path %q, fix %q", f.Title, f.Layer, f.Path, f.Fix)
		}
	}

	// A policy that allows 60 days: the libc6 update only warns.
	pol, err := policy.Parse("p.yaml", []byte("systemUpdates:\n  securityMaxAgeDays: 60\n"))
	if err != nil {
		t.Fatal(err)
	}
	r = scanFreshness(t, ref, dbDir, now, true, pol)
	if p3 := practice(r, scorecard.P3); p3.Status != scorecard.Warn {
		t.Errorf("60-day policy: P3 %s, want warn", p3.Status)
	}

	// Without archive data the check is not run, says how to fix it, and
	// P3 cannot pass.
	r = scanFreshness(t, ref, t.TempDir(), now, true, nil)
	p3 = practice(r, scorecard.P3)
	if p3.Status == scorecard.Pass || !strings.Contains(p3.Summary, "no archive data for debian:bookworm (amd64)") || !strings.Contains(p3.Summary, "shipshape db update --for "+ref) {
		t.Errorf("without data: P3 %s: %q", p3.Status, p3.Summary)
	}
	if len(r.Findings) != 0 {
		t.Errorf("without data: findings %v", summary(r))
	}
}

// alpineImage writes a one-layer docker-archive of an Alpine mini rootfs.
func alpineImage(t *testing.T, rootfs string) string {
	t.Helper()
	l, err := tarball.LayerFromFile(testenv.SharedData(t, "rootfs/"+rootfs))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	img = withPlatform(t, img, time.Time{})
	p := filepath.Join(t.TempDir(), "alpine.tar")
	tag, _ := name.NewTag("shipshape-test/alpine:latest")
	if err := tarball.WriteToFile(p, tag, img); err != nil {
		t.Fatal(err)
	}
	return "docker-archive:" + p
}

func withPlatform(t *testing.T, img v1.Image, created time.Time) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Created = v1.Time{Time: created}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestAlpinePending scans the committed Alpine 3.20.3 mini rootfs against
// a small hand-made, signed APKINDEX; 3.12.12 has no archive data.
func TestAlpinePending(t *testing.T) {
	root, keys, dbDir := t.TempDir(), t.TempDir(), t.TempDir()
	k := archivetest.NewAlpineKey(t, keys, "test.rsa.pub")
	built := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	archivetest.WriteAPKINDEX(t, root, "v3.20", "main", "x86_64", archivetest.APKINDEX(t, k, []archivetest.APKPackage{
		{Name: "musl", Version: "1.2.5-r1", Origin: "musl", Built: built},
		{Name: "busybox", Version: "1.36.1-r30", Origin: "busybox", Built: built.Add(24 * time.Hour)},
		{Name: "libcrypto3", Version: "3.3.2-r0", Origin: "openssl", Built: built},
		{Name: "zlib", Version: "1.3.1-r0", Origin: "zlib", Built: built}, // older than installed
	}))
	archivetest.WriteAPKINDEX(t, root, "v3.20", "community", "x86_64", archivetest.APKINDEX(t, k, nil))
	u := &archive.Updater{Dir: dbDir, Mirrors: map[string]string{"alpine": root}, AlpineKeys: keys}
	if _, err := u.Update(context.Background(), []archive.Target{{Distro: "alpine", Release: "v3.20", Arches: []string{"x86_64"}}}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)
	r := scanFreshness(t, alpineImage(t, "alpine-minirootfs-3.20.3-x86_64.tar.gz"), dbDir, now, true, nil)
	got := summary(r)
	want := []string{"SS-P3-008 low busybox 1.36.1-r29→1.36.1-r30", "SS-P3-008 low musl 1.2.5-r0→1.2.5-r1"}
	if !slices.Equal(got, want) {
		t.Errorf("findings %q, want %q", got, want)
	}
	sp := r.Sections[pending.Section].(*pending.Report).SystemPackages
	if sp.SecurityKnown || sp.Pending != 2 || !sp.OldestPending.Equal(built) || sp.NotInArchive == 0 || sp.Fix != "RUN apk upgrade --no-cache" {
		t.Errorf("section %+v", sp)
	}
	if p3 := practice(r, scorecard.P3); p3.Status != scorecard.Warn || !strings.Contains(p3.Summary, "security not told apart by alpine") {
		t.Errorf("P3 %s %q", p3.Status, p3.Summary)
	}

	r = scanFreshness(t, alpineImage(t, "alpine-minirootfs-3.12.12-x86_64.tar.gz"), dbDir, now, true, nil)
	if p3 := practice(r, scorecard.P3); p3.Status == scorecard.Pass || !strings.Contains(p3.Summary, "no archive data for alpine:v3.12 (x86_64)") {
		t.Errorf("3.12: P3 %s %q", p3.Status, p3.Summary)
	}
}

// TestBaseRebuilt pushes two builds of a base to a local registry, builds
// an app on the first and re-points the tag: P3 reports the rebuild with
// the current digest; offline the check is not run.
func TestBaseRebuilt(t *testing.T) {
	host := testenv.Registry(t)
	baseTag, err := name.NewTag(host + "/library/base:12-slim")
	if err != nil {
		t.Fatal(err)
	}
	build := func(n int, created time.Time) v1.Image {
		l, err := tarball.LayerFromOpener(layerOf(t, fmt.Sprintf("etc/build-%d", n)))
		if err != nil {
			t.Fatal(err)
		}
		img, err := mutate.AppendLayers(empty.Image, l)
		if err != nil {
			t.Fatal(err)
		}
		return withPlatform(t, img, created)
	}
	t1 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	t2 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	b1, b2 := build(1, t1), build(2, t2)
	if err := remote.Write(baseTag, b1); err != nil {
		t.Fatal(err)
	}
	d1, _ := b1.Digest()
	// The app on build 1, recording its base as BuildKit does.
	app, err := mutate.AppendLayers(b1, mustLayer(t, "app/main"))
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := app.ConfigFile()
	cf = cf.DeepCopy()
	cf.Config.Labels = map[string]string{"org.opencontainers.image.base.name": baseTag.String(), "org.opencontainers.image.base.digest": d1.String()}
	cf.Created = v1.Time{Time: t1.Add(time.Hour)}
	app, _ = mutate.ConfigFile(app, cf)
	p := filepath.Join(t.TempDir(), "app.tar")
	appTag, _ := name.NewTag("shipshape-test/app:1")
	if err := tarball.WriteToFile(p, appTag, app); err != nil {
		t.Fatal(err)
	}
	ref := "docker-archive:" + p
	now := time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC)

	dbDir := t.TempDir()
	record := func(r *scorecard.Report) {
		t.Helper()
		if _, err := pending.RecordBase(dbDir, r.Sections[pending.Section].(*pending.Report), now); err != nil {
			t.Fatal(err)
		}
	}
	r := scanFreshness(t, ref, dbDir, now, false, nil)
	bf := r.Sections[pending.Section].(*pending.Report).Base
	if bf.Status != "ran" || bf.Rebuilt || bf.CurrentDigest != d1.String() || len(r.Findings) != 0 {
		t.Fatalf("before the rebuild: %+v, findings %v", bf, summary(r))
	}
	record(r)

	if err := remote.Write(baseTag, b2); err != nil {
		t.Fatal(err)
	}
	d2, _ := b2.Digest()
	r = scanFreshness(t, ref, dbDir, now, false, nil)
	bf = r.Sections[pending.Section].(*pending.Report).Base
	if !bf.Rebuilt || bf.CurrentDigest != d2.String() || !bf.CurrentCreated.Equal(t2) || !bf.Created.Equal(t1) || bf.NewerBuilds != 1 {
		t.Errorf("after the rebuild: %+v", bf)
	}
	if got := summary(r); !slices.Equal(got, []string{"SS-P3-009 medium"}) {
		t.Fatalf("findings %v", got)
	}
	f := r.Findings[0]
	if !strings.Contains(f.Title, "current digest "+d2.String()[:19]) || !strings.Contains(f.Title, "created 2026-11-01") || !strings.Contains(f.Fix, "@"+d2.String()) {
		t.Errorf("finding %q, fix %q", f.Title, f.Fix)
	}
	if p3 := practice(r, scorecard.P3); !strings.Contains(p3.Summary, "was rebuilt 1 time(s) since") {
		t.Errorf("P3 summary %q", p3.Summary)
	}
	record(r)

	// A third build: two builds newer than the image's base are known.
	b3 := build(3, t2.Add(7*24*time.Hour))
	if err := remote.Write(baseTag, b3); err != nil {
		t.Fatal(err)
	}
	d3, _ := b3.Digest()
	r = scanFreshness(t, ref, dbDir, now, false, nil)
	if p3 := practice(r, scorecard.P3); !strings.Contains(p3.Summary, "was rebuilt 2 time(s) since") {
		t.Errorf("third build: P3 summary %q", p3.Summary)
	}
	record(r)

	// Offline, from the records of db update --for.
	r = scanFreshness(t, ref, dbDir, now, true, nil)
	bf = r.Sections[pending.Section].(*pending.Report).Base
	if bf.Status != "ran" || bf.RecordedAt.IsZero() || !bf.Rebuilt || bf.CurrentDigest != d3.String() || bf.NewerBuilds != 2 || !bf.Created.Equal(t1) {
		t.Errorf("offline with records: %+v", bf)
	}

	// Offline without records: not run, and P3 cannot pass.
	r = scanFreshness(t, ref, t.TempDir(), now, true, nil)
	bf = r.Sections[pending.Section].(*pending.Report).Base
	if bf.Status != "not-run" || !strings.Contains(bf.Reason, "offline") || !strings.Contains(bf.Command, "shipshape db update --for") {
		t.Errorf("offline: %+v", bf)
	}
	if p3 := practice(r, scorecard.P3); p3.Status == scorecard.Pass {
		t.Errorf("offline: P3 passes")
	}
}

// layerOf is an opener of a one-file layer tar.
func layerOf(t *testing.T, file string) tarball.Opener {
	t.Helper()
	b := imagetest.Layer{Files: []imagetest.File{imagetest.Reg(file, "content of "+file+"\n")}}.Tar()
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

func mustLayer(t *testing.T, file string) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(layerOf(t, file))
	if err != nil {
		t.Fatal(err)
	}
	return l
}
