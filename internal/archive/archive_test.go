package archive

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rsa"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shipshape-dev/shipshape/internal/archive/archivetest"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// TestVerifyRealInRelease checks Debian's real bookworm-updates InRelease
// (committed) against the system's Debian archive keyring, and that a
// changed byte of the signed text fails.
func TestVerifyRealInRelease(t *testing.T) {
	f, err := os.Open(DefaultDebianKeyring)
	testenv.Require(t, "debian-archive-keyring", err)
	kr, err := readKeyring(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile("testdata/bookworm-updates.InRelease")
	if err != nil {
		t.Fatal(err)
	}
	rel, err := VerifyInRelease(data, kr)
	if err != nil {
		t.Fatal(err)
	}
	if rel.Codename != "bookworm-updates" || !rel.AcquireByHash || rel.Date.IsZero() || !strings.Contains(rel.Signer, "Debian Archive Automatic Signing Key (12/bookworm)") {
		t.Errorf("release %+v", rel)
	}
	if s, ok := rel.SHA256["main/binary-amd64/Packages.xz"]; !ok || len(s.Hex) != 64 || s.Size == 0 {
		t.Errorf("main/binary-amd64/Packages.xz: %+v", s)
	}
	bad := bytes.Replace(data, []byte("Codename: bookworm-updates"), []byte("Codename: bookworm-updatez"), 1)
	if _, err := VerifyInRelease(bad, kr); err == nil {
		t.Error("a changed InRelease verified")
	}
	if _, err := VerifyInRelease([]byte("Origin: Debian\n"), kr); err == nil {
		t.Error("an unsigned Release verified")
	}
}

const pkgsV1 = `Package: libc6
Source: glibc
Version: 2.36-9+deb12u10
Architecture: amd64

Package: tzdata
Version: 2025a-0+deb12u1
Architecture: all
`

// mirror writes a signed three-suite bookworm mirror and returns the
// updater that reads it.
func mirror(t *testing.T, date time.Time, security string) (*Updater, *archivetest.Signer, string) {
	t.Helper()
	root := t.TempDir()
	s := archivetest.NewSigner(t, t.TempDir())
	s.WriteSuite(t, root, archivetest.Suite{Name: "bookworm", Date: date, Packages: map[string]string{"amd64": pkgsV1}})
	s.WriteSuite(t, root, archivetest.Suite{Name: "bookworm-updates", Date: date, Packages: map[string]string{"amd64": ""}})
	s.WriteSuite(t, root, archivetest.Suite{Name: "bookworm-security", Date: date, Packages: map[string]string{"amd64": security}})
	u := &Updater{Dir: t.TempDir(), Mirrors: map[string]string{"debian": root, "debian-security": "file://" + root},
		Keyrings: map[string]string{"debian": s.Keyring}, Now: func() time.Time { return date.Add(time.Hour) }}
	return u, s, root
}

func TestUpdateDebianMirror(t *testing.T) {
	ctx := context.Background()
	d1 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	sec1 := "Package: libc6\nSource: glibc (2.36-9+deb12u11)\nVersion: 2.36-9+deb12u11\n"
	u, s, root := mirror(t, d1, sec1)
	target := []Target{{Distro: "debian", Release: "bookworm", Arches: []string{"amd64"}}}
	rs, err := u.Update(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Status != "updated" || rs[0].Packages != 3 {
		t.Fatalf("results %+v", rs)
	}
	ix, err := Open(u.Dir, Key{"debian", "bookworm", "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	libc := ix.Lookup("libc6")
	if len(libc) != 2 || libc[1].Source != "glibc" || ix.Suites[libc[1].Suite].Kind != KindSecurity || libc[1].Version != "2.36-9+deb12u11" {
		t.Fatalf("libc6 %+v", libc)
	}
	if got := ix.SeenSince("libc6", "2.36-9+deb12u11"); !got.Equal(d1) {
		t.Errorf("first seen %s, want %s", got, d1)
	}
	for _, su := range ix.Suites {
		if !strings.HasPrefix(su.Verified, "OpenPGP: ") {
			t.Errorf("suite %s: verified %q", su.Name, su.Verified)
		}
	}

	// Unchanged mirror: nothing rewritten.
	rs, err = u.Update(ctx, target)
	if err != nil || rs[0].Status != "unchanged" {
		t.Fatalf("second update: %+v, %v", rs, err)
	}

	// A newer security suite: the old version keeps its first-seen date,
	// the new one gets the new InRelease's.
	d2 := d1.Add(10 * 24 * time.Hour)
	s.WriteSuite(t, root, archivetest.Suite{Name: "bookworm-security", Date: d2, Packages: map[string]string{"amd64": sec1 + "\nPackage: tzdata\nVersion: 2025b-0+deb12u1\n"}})
	u.Now = func() time.Time { return d2.Add(time.Hour) }
	if rs, err = u.Update(ctx, target); err != nil || rs[0].Status != "updated" {
		t.Fatalf("third update: %+v, %v", rs, err)
	}
	ix, _ = Open(u.Dir, Key{"debian", "bookworm", "amd64"})
	if got := ix.SeenSince("libc6", "2.36-9+deb12u11"); !got.Equal(d1) {
		t.Errorf("libc6 first seen %s, want %s (kept)", got, d1)
	}
	if got := ix.SeenSince("tzdata", "2025b-0+deb12u1"); !got.Equal(d2) {
		t.Errorf("tzdata first seen %s, want %s", got, d2)
	}
}

func TestUpdateDebianRefuses(t *testing.T) {
	ctx := context.Background()
	d := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	target := []Target{{Distro: "debian", Release: "bookworm", Arches: []string{"amd64"}}}
	tests := []struct {
		name   string
		change func(t *testing.T, u *Updater, s *archivetest.Signer, root string)
		want   string
	}{
		{"other key", func(t *testing.T, u *Updater, _ *archivetest.Signer, _ string) {
			u.Keyrings["debian"] = archivetest.NewSigner(t, t.TempDir()).Keyring
		}, "signature"},
		{"tampered Packages", func(t *testing.T, _ *Updater, _ *archivetest.Signer, root string) {
			p := filepath.Join(root, "dists", "bookworm", "main", "binary-amd64", "by-hash", "SHA256")
			es, _ := os.ReadDir(p)
			os.WriteFile(filepath.Join(p, es[0].Name()), []byte("not the signed file"), 0o644)
		}, "InRelease says"},
		{"expired", func(t *testing.T, _ *Updater, s *archivetest.Signer, root string) {
			s.WriteSuite(t, root, archivetest.Suite{Name: "bookworm-security", Date: d.Add(-48 * time.Hour), ValidUntil: d.Add(-24 * time.Hour), Packages: map[string]string{"amd64": ""}})
		}, "expired"},
		{"substituted suite", func(t *testing.T, _ *Updater, s *archivetest.Signer, root string) {
			s.WriteSuite(t, root, archivetest.Suite{Name: "bookworm-security", Codename: "bullseye-security", Date: d, Packages: map[string]string{"amd64": ""}})
		}, "signed for suite"},
		{"missing keyring", func(t *testing.T, u *Updater, _ *archivetest.Signer, _ string) {
			u.Keyrings["debian"] = filepath.Join(t.TempDir(), "none.gpg")
		}, "pass --keyring"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, s, root := mirror(t, d, "")
			tt.change(t, u, s, root)
			_, err := u.Update(ctx, target)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v, want %q", err, tt.want)
			}
			if _, err := Open(u.Dir, Key{"debian", "bookworm", "amd64"}); err == nil {
				t.Error("an index was stored")
			}
		})
	}
}

func TestAlpine(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	keys := t.TempDir()
	k := archivetest.NewAlpineKey(t, keys, "test-5f1c.rsa.pub")
	built := time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC)
	main := archivetest.APKINDEX(t, k, []archivetest.APKPackage{{Name: "musl", Version: "1.2.5-r1", Origin: "musl", Built: built}, {Name: "busybox", Version: "1.36.1-r30", Origin: "busybox", Built: built}})
	archivetest.WriteAPKINDEX(t, root, "v3.20", "main", "x86_64", main)
	archivetest.WriteAPKINDEX(t, root, "v3.20", "community", "x86_64", archivetest.APKINDEX(t, k, nil))
	u := &Updater{Dir: t.TempDir(), Mirrors: map[string]string{"alpine": root}, AlpineKeys: keys}
	tg, err := ParseTarget("alpine:3.20.3", []string{"x86_64"})
	if err != nil || tg.Release != "v3.20" {
		t.Fatalf("ParseTarget: %+v, %v", tg, err)
	}
	rs, err := u.Update(ctx, []Target{tg})
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Packages != 2 || !strings.HasPrefix(rs[0].Suites[0].Verified, "RSA: test-5f1c.rsa.pub") {
		t.Fatalf("results %+v", rs)
	}
	ix, err := Open(u.Dir, Key{"alpine", "v3.20", "x86_64"})
	if err != nil {
		t.Fatal(err)
	}
	if got := ix.SeenSince("musl", "1.2.5-r1"); !got.Equal(built) {
		t.Errorf("musl first seen %s, want its build time %s", got, built)
	}

	// Signed by a key the directory does not hold: refused.
	other := archivetest.NewAlpineKey(t, t.TempDir(), "other.rsa.pub")
	if _, err := ReadAPKIndex(archivetest.APKINDEX(t, other, nil), mustKeys(t, u), 0); err == nil || !strings.Contains(err.Error(), "no valid signature") {
		t.Errorf("foreign key: %v", err)
	}
	// Unsigned, with keys: refused; without keys: read, unverified.
	if _, err := ReadAPKIndex(archivetest.APKINDEX(t, nil, nil), mustKeys(t, u), 0); err == nil {
		t.Error("unsigned index accepted with keys")
	}
	ai, err := ReadAPKIndex(main, nil, 0)
	if err != nil || ai.Signer != "" || len(ai.Packages) != 2 {
		t.Errorf("without keys: %+v, %v", ai, err)
	}
	// Hostile input: an error, not a panic.
	for _, b := range [][]byte{nil, []byte("garbage"), main[:len(main)/2]} {
		if _, err := ReadAPKIndex(b, nil, 0); err == nil {
			t.Errorf("%d bytes of garbage accepted", len(b))
		}
	}
}

func mustKeys(t *testing.T, u *Updater) map[string]*rsa.PublicKey {
	t.Helper()
	k, _, err := u.alpineKeys()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseTarget(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"debian:12", "debian:bookworm"}, {"debian:bookworm", "debian:bookworm"}, {"alpine:v3.20", "alpine:v3.20"},
		{"alpine:3.12.12", "alpine:v3.12"}, {"ubuntu:noble", "ubuntu:noble"}, {"Debian:Trixie", "debian:trixie"},
	} {
		got, err := ParseTarget(tt.in, nil)
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseTarget(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{"fedora:40", "debian", "debian:../../etc", "debian:"} {
		if _, err := ParseTarget(bad, nil); err == nil {
			t.Errorf("ParseTarget(%q) accepted", bad)
		}
	}
}

// TestStoredIndexHostile: a damaged or foreign index file is an error
// that names the file, never a panic; a round trip keeps every field.
func TestStoredIndexHostile(t *testing.T) {
	dir := t.TempDir()
	k := Key{"debian", "bookworm", "amd64"}
	ix := &Index{Distro: "debian", Release: "bookworm", Arch: "amd64", Suites: []Suite{{Name: "bookworm"}, {Name: "bookworm-security"}},
		Packages: []Package{{Name: "libc6", Version: "2.36-9", Source: "glibc", Suite: 1, Seen: 100}, {Name: "tz\tdata", Version: "1", Suite: 0, Built: 5, Seen: 7}}}
	if err := ix.Save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := Open(dir, k)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Packages) != 2 || got.Packages[0] != (Package{Name: "libc6", Version: "2.36-9", Source: "glibc", Suite: 1, Seen: 100}) ||
		got.Packages[1] != (Package{Name: "tzdata", Version: "1", Source: "tzdata", Built: 5, Seen: 7}) {
		t.Errorf("round trip: %+v", got.Packages)
	}
	if s := got.SeenSince("libc6", "2.36-9"); s.Unix() != 100 {
		t.Errorf("SeenSince %v", s)
	}
	write := func(content string) {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write([]byte(content))
		zw.Close()
		os.WriteFile(k.Path(dir), b.Bytes(), 0o644)
	}
	head := `{"schema":2,"distro":"debian","release":"bookworm","arch":"amd64","suites":[{"name":"bookworm"}],"packages":1}` + "\n"
	for name, content := range map[string]string{
		"not gzip":      "",
		"no header":     "",
		"bad header":    "{\n",
		"truncated":     head,
		"bad suite":     head + "libc6\t1\t\t7\t0\t0\n",
		"bad number":    head + "libc6\t1\t\t0\tx\t0\n",
		"few fields":    head + "libc6\t1\n",
		"other release": strings.Replace(head, "bookworm", "trixie", 1) + "libc6\t1\t\t0\t0\t0\n",
	} {
		if name == "not gzip" {
			os.WriteFile(k.Path(dir), []byte("plain"), 0o644)
		} else {
			write(content)
		}
		if _, err := Open(dir, k); err == nil || !strings.Contains(err.Error(), k.Path(dir)) {
			t.Errorf("%s: %v", name, err)
		}
	}
	os.WriteFile(k.Path(dir), []byte{}, 0o644)
	if _, err := Open(dir, Key{"debian", "../x", "amd64"}); err == nil {
		t.Error("a key with a path was accepted")
	}
}

// TestMirrorCredentialsNotKept updates from a mirror served over HTTP with
// a user and password in its URL: they are sent, but neither the stored
// index nor an error names them, and an unchanged mirror is still
// recognised as such.
func TestMirrorCredentialsNotKept(t *testing.T) {
	const pass = "Mx7mirrorPassw0rd"
	ctx := context.Background()
	d1 := time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	u, _, root := mirror(t, d1, "")
	files := http.FileServer(http.Dir(root))
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if user, p, ok := r.BasicAuth(); !ok || user != "apt" || p != pass {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		files.ServeHTTP(w, r)
	}))
	defer ts.Close()
	withCreds := strings.Replace(ts.URL, "http://", "http://apt:"+pass+"@", 1)
	u.Mirrors = map[string]string{"debian": withCreds, "debian-security": withCreds}
	target := []Target{{Distro: "debian", Release: "bookworm", Arches: []string{"amd64"}}}
	if rs, err := u.Update(ctx, target); err != nil || rs[0].Status != "updated" {
		t.Fatalf("update: %+v, %v", rs, err)
	}
	if rs, err := u.Update(ctx, target); err != nil || rs[0].Status != "unchanged" {
		t.Fatalf("second update: %+v, %v", rs, err)
	}
	ix, err := Open(u.Dir, Key{"debian", "bookworm", "amd64"})
	if err != nil || len(ix.Suites) != 3 {
		t.Fatalf("stored index: %v", err)
	}
	for _, su := range ix.Suites {
		if strings.Contains(su.URL, pass) || !strings.Contains(su.URL, ts.Listener.Addr().String()) {
			t.Errorf("suite %s kept as %q", su.Name, su.URL)
		}
	}
	// A suite the mirror does not have: the error names the URL without
	// the password.
	_, err = u.Update(ctx, []Target{{Distro: "debian", Release: "trixie", Arches: []string{"amd64"}}})
	if err == nil || !strings.Contains(err.Error(), ts.Listener.Addr().String()) || strings.Contains(err.Error(), pass) {
		t.Errorf("update of a missing suite: %v", err)
	}
}
