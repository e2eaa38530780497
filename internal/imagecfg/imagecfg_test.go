package imagecfg

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// file is one tar entry of a synthetic layer.
type file struct {
	name   string
	body   string
	mode   int64
	typ    byte
	link   string
	xattrs map[string]string
	uid    int
}

// layerTar is the uncompressed tar of files, in PAX format; a zero mode
// is 0644 for every type.
func layerTar(t testing.TB, files []file) []byte {
	t.Helper()
	var l imagetest.Layer
	for _, f := range files {
		e := imagetest.File{Name: f.name, Type: f.typ, Mode: f.mode, Linkname: f.link, UID: f.uid, Format: tar.FormatPAX}
		if e.Mode == 0 {
			e.Mode = 0o644
		}
		if e.Type == 0 || e.Type == tar.TypeReg {
			e.Content = []byte(f.body)
		}
		for k, v := range f.xattrs {
			if e.PAX == nil {
				e.PAX = map[string]string{}
			}
			e.PAX["SCHILY.xattr."+k] = v
		}
		l.Files = append(l.Files, e)
	}
	var b bytes.Buffer
	if err := l.WriteTar(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// synthetic builds an image from layers and a config.
func synthetic(t testing.TB, cfg v1.Config, history []v1.History, layers ...[]file) *image.Image {
	t.Helper()
	img := &image.Image{Reference: "test", Transport: image.DockerArchive, Config: &v1.ConfigFile{Config: cfg, History: history, OS: "linux", Architecture: "amd64"}}
	for i, files := range layers {
		b := layerTar(t, files)
		sum := sha256.Sum256(b)
		h := v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(sum[:])}
		l := image.NewLayer(func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
		l.Index, l.DiffID, l.Size = i+1, h, int64(len(b))
		img.Config.RootFS.DiffIDs = append(img.Config.RootFS.DiffIDs, h)
		img.Layers = append(img.Layers, l)
	}
	return img
}

func run(t testing.TB, a *Analyzer, img *image.Image) *analyze.Output {
	t.Helper()
	if a.Now == nil {
		a.Now = func() time.Time { return time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC) }
	}
	res, err := analyze.Run(context.Background(), img, []analyze.Analyzer{a}, analyze.Options{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	return res.Outputs[a.Name()]
}

func ruleIDs(out *analyze.Output) []string {
	var r []string
	for _, f := range out.Findings {
		r = append(r, f.Rule+" "+f.Path)
	}
	slices.Sort(r)
	return r
}

func find(out *analyze.Output, rule string) []scorecard.Finding {
	var r []scorecard.Finding
	for _, f := range out.Findings {
		if f.Rule == rule {
			r = append(r, f)
		}
	}
	return r
}

const alpineRelease = "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.22.1\nPRETTY_NAME=\"Alpine Linux v3.22\"\n"

const passwd = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nbackup:x:1000:1000::/:/bin/false\n"

const apkInstalled = "P:busybox\nV:1.36.1-r0\nF:bin\nR:busybox\n\nP:musl\nV:1.2.5-r0\nF:lib\nR:ld-musl-x86_64.so.1\n\n"

func baseLayer(extra ...file) []file {
	fs := []file{
		{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		{name: "etc/os-release", body: alpineRelease},
		{name: "etc/passwd", body: passwd},
		{name: "etc/group", body: "root:x:0:\napp:x:1000:\n"},
		{name: "etc/shadow", body: "root:*:1::::::\napp:!:1::::::\n"},
		{name: "lib/apk/db/installed", body: apkInstalled},
		{name: "bin/busybox", body: "ELF", mode: 0o755},
		{name: "bin/sh", typ: tar.TypeSymlink, link: "busybox"},
		{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
	}
	return append(fs, extra...)
}

func TestUsers(t *testing.T) {
	for _, tc := range []struct {
		user string
		want []string // rules of P2 findings
	}{
		{"", []string{"SS-P2-001"}},
		{"root", []string{"SS-P2-001"}},
		{"0:0", []string{"SS-P2-001"}},
		{"app", nil},
		{"app:app", nil},
		{"1000:1000", nil},
		{"10001", []string{"SS-P2-003"}},
		{"ghost", []string{"SS-P2-002"}},
		{"app:ghosts", []string{"SS-P2-002"}},
	} {
		t.Run(tc.user, func(t *testing.T) {
			img := synthetic(t, v1.Config{User: tc.user}, nil, baseLayer())
			out := run(t, &Analyzer{}, img)
			var got []string
			for _, f := range out.Findings {
				if f.Practice == scorecard.P2 && f.Rule != "SS-P2-010" {
					got = append(got, f.Rule)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("USER %q: P2 rules %v, want %v", tc.user, got, tc.want)
			}
		})
	}
}

func TestFinalPasswdWins(t *testing.T) {
	// Layer 2 replaces /etc/passwd without the user: the final file counts.
	img := synthetic(t, v1.Config{User: "app"}, nil, baseLayer(), []file{{name: "etc/passwd", body: "root:x:0:0::/root:/bin/sh\n"}})
	out := run(t, &Analyzer{}, img)
	if len(find(out, "SS-P2-002")) != 1 {
		t.Errorf("want SS-P2-002 with the final passwd lacking app; got %v", ruleIDs(out))
	}
	// And the other way round: the user added in a later layer exists.
	img = synthetic(t, v1.Config{User: "late"}, nil, baseLayer(), []file{{name: "etc/passwd", body: passwd + "late:x:2000:2000::/:/bin/sh\n"}})
	out = run(t, &Analyzer{}, img)
	if len(find(out, "SS-P2-002")) != 0 {
		t.Errorf("user added in layer 2 reported missing: %v", ruleIDs(out))
	}
}

// TestShadowSplit: a password hash the base image ships is P2's
// (SS-P2-009); one the build added is left to P1 (ShadowBaseLayers).
func TestShadowSplit(t *testing.T) {
	const hash = "$6$salt$hash"
	// base is the base layer with the given shadow file ("": none).
	base := func(shadow string) []file {
		fs := slices.DeleteFunc(baseLayer(), func(f file) bool { return f.name == "etc/shadow" })
		if shadow != "" {
			fs = append(fs, file{name: "etc/shadow", body: shadow})
		}
		return fs
	}
	tests := []struct {
		name   string
		layers [][]file
		want   []string // accounts with SS-P2-009
	}{
		{"base ships a hash", [][]file{base("root:" + hash + ":1::::::\n")}, []string{"root"}},
		{"build adds an account", [][]file{base("root:*:1::::::\n"), {{name: "etc/shadow", body: "root:*:1::::::\napp:" + hash + ":1::::::\n"}}}, nil},
		{"build keeps the base hash and adds one", [][]file{base("root:" + hash + ":1::::::\n"), {{name: "etc/shadow", body: "root:" + hash + ":1::::::\napp:" + hash + ":1::::::\n"}}}, []string{"root"}},
		{"base has no shadow", [][]file{base(""), {{name: "etc/shadow", body: "root:" + hash + ":1::::::\n"}}}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := run(t, &Analyzer{}, synthetic(t, v1.Config{User: "app"}, nil, tc.layers...))
			var got []string
			for _, f := range find(out, "SS-P2-009") {
				got = append(got, f.Evidence["account"].(string))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("SS-P2-009 for %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFileModesAndAccounts(t *testing.T) {
	capXattr := string([]byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // cap_net_raw+ep
	img := synthetic(t, v1.Config{User: "app"}, nil, baseLayer(
		file{name: "usr/bin/", typ: tar.TypeDir, mode: 0o755},
		file{name: "usr/bin/ping", body: "ELF", mode: 0o755, xattrs: map[string]string{"security.capability": capXattr}},
		file{name: "usr/bin/su", body: "ELF", mode: 0o4755},
		file{name: "usr/bin/wall", body: "ELF", mode: 0o2755},
		file{name: "srv/", typ: tar.TypeDir, mode: 0o777},
		file{name: "srv/open", body: "x", mode: 0o666},
		file{name: "tmp/ok", body: "x", mode: 0o666},
		file{name: "etc/sudoers.d/", typ: tar.TypeDir, mode: 0o755},
		file{name: "etc/sudoers.d/app", body: "# comment NOPASSWD\napp ALL=(ALL) NOPASSWD: ALL\n"},
		file{name: "usr/bin/sudo", body: "ELF", mode: 0o4755},
	), []file{
		{name: "etc/shadow", body: "root::1::::::\napp:$6$salt$hash:1::::::\nnobody:!:1::::::\n"},
	})
	out := run(t, &Analyzer{}, img)
	got := ruleIDs(out)
	want := []string{
		"SS-P2-004 /usr/bin/su", "SS-P2-004 /usr/bin/sudo", "SS-P2-004 /usr/bin/wall",
		"SS-P2-005 /usr/bin/ping",
		"SS-P2-006 /usr/bin/sudo",
		"SS-P2-007 /etc/sudoers.d/app",
		// app's hash was added by the build (layer 2): P1's, not SS-P2-009.
		"SS-P2-008 /etc/shadow",
		"SS-P2-010 /etc/passwd",
		"SS-P2-011 /srv", "SS-P2-011 /srv/open",
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("missing %q in %v", w, got)
		}
	}
	for _, g := range got {
		if strings.Contains(g, "/tmp") {
			t.Errorf("tmp reported: %s", g)
		}
	}
	// The evidence gives the mode as Unix writes it: setuid, setgid and
	// world-writable bits included.
	for rule, modes := range map[string][]string{"SS-P2-004": {"04755", "04755", "02755"}, "SS-P2-011": {"0777", "0666"}} {
		var got []string
		for _, f := range find(out, rule) {
			got = append(got, f.Evidence["mode"].(string))
		}
		if !slices.Equal(got, modes) {
			t.Errorf("%s modes %v, want %v", rule, got, modes)
		}
	}
	p := find(out, "SS-P2-005")[0]
	if caps := p.Evidence["capabilities"].([]string); !slices.Equal(caps, []string{"cap_net_raw+ep"}) {
		t.Errorf("caps %v", caps)
	}
	if f := find(out, "SS-P2-008")[0]; f.Layer != 2 || f.Evidence["account"] != "root" {
		t.Errorf("empty password finding: %+v", f)
	}
	for _, f := range find(out, "SS-P2-004") {
		if f.Path == "/usr/bin/wall" && f.Severity != scorecard.Low {
			t.Errorf("setgid only should be low: %+v", f)
		}
	}
}

func TestReleaseAndUpgrade(t *testing.T) {
	hist := []v1.History{
		{CreatedBy: "/bin/sh -c #(nop) ADD file:abc in / "},
		{CreatedBy: "/bin/sh -c #(nop)  CMD [\"/bin/sh\"]", EmptyLayer: true},
		{CreatedBy: "/bin/sh -c apt-get update"},
		{CreatedBy: "/bin/sh -c #(nop)  USER app", EmptyLayer: true},
	}
	upgraded := strings.Replace(apkInstalled, "1.36.1-r0", "1.36.1-r7", 1)
	// Not upgraded: layer 2 does not change the package db.
	img := synthetic(t, v1.Config{User: "app"}, hist, baseLayer(), []file{{name: "var/lib/apt/lists/deb_InRelease", body: strings.Repeat("x", 100)}})
	out := run(t, &Analyzer{}, img)
	for _, r := range []string{"SS-P3-004", "SS-P3-005", "SS-P3-006", "SS-P8-010"} {
		if len(find(out, r)) != 1 {
			t.Errorf("want %s: %v", r, ruleIDs(out))
		}
	}
	if f := find(out, "SS-P3-005")[0]; f.Field != "History[2]" || f.Layer != 2 {
		t.Errorf("apt-get update finding: %+v", f)
	}
	if len(find(out, "SS-P3-001")) != 0 {
		t.Errorf("3.22 is not EOL in 2026-11: %v", ruleIDs(out))
	}
	// Upgraded: the build layer rewrites the db with a newer busybox.
	img = synthetic(t, v1.Config{User: "app"}, hist, baseLayer(), []file{{name: "lib/apk/db/installed", body: upgraded}})
	out = run(t, &Analyzer{}, img)
	if len(find(out, "SS-P3-004")) != 0 {
		t.Errorf("upgrade not detected: %v", ruleIDs(out))
	}
	if s := out.Coverage[1].Summary; !strings.Contains(s, "1 of 2 base packages were upgraded") {
		t.Errorf("P3 summary %q", s)
	}
	// EOL: the same image two years later.
	a := &Analyzer{Now: func() time.Time { return time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC) }}
	out = run(t, a, img)
	if f := find(out, "SS-P3-001"); len(f) != 1 || f[0].Path != "/etc/os-release" {
		t.Errorf("EOL: %v", ruleIDs(out))
	}
}

// TestRPMDatabaseNotCompared: the upgrade check reads dpkg and apk
// databases; an image whose packages are in an rpm database is not said to
// have none.
func TestRPMDatabaseNotCompared(t *testing.T) {
	hist := []v1.History{{CreatedBy: "/bin/sh -c #(nop) ADD file:abc in / "}}
	for _, tt := range []struct {
		name  string
		files []file
		want  string
	}{
		{"rpm", []file{{name: "etc/os-release", body: "ID=rocky\nVERSION_ID=\"9.3\"\n"}, {name: "var/lib/rpm/rpmdb.sqlite", body: "SQLite format 3\x00"}},
			"the rpm database (/var/lib/rpm/rpmdb.sqlite) is not compared with the base's"},
		{"none", []file{{name: "etc/os-release", body: "ID=rocky\nVERSION_ID=\"9.3\"\n"}}, "no package database"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			out := run(t, &Analyzer{}, synthetic(t, v1.Config{User: "app"}, hist, tt.files))
			var summary string
			for _, c := range out.Coverage {
				if c.Practice == scorecard.P3 {
					summary += c.Summary
				}
			}
			if !strings.Contains(summary, tt.want) {
				t.Errorf("P3 summary %q, want %q", summary, tt.want)
			}
		})
	}
}

func TestBase(t *testing.T) {
	strict, err := policy.Parse("p.yaml", []byte("base:\n  pinDigest: true\n  deny: [docker.io/library/alpine:3.12]\n"))
	if err != nil {
		t.Fatal(err)
	}
	pinned, err := policy.Parse("p.yaml", []byte("base:\n  pinDigest: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		labels map[string]string
		pol    *policy.Policy
		df     string
		want   []string
	}{
		{"unknown", nil, nil, "", []string{"SS-P9-007"}},
		{"label pinned", map[string]string{baseNameKey: "docker.io/library/alpine:3.22", baseDigestKey: "sha256:" + strings.Repeat("a", 64)}, nil, "", nil},
		{"label untrusted", map[string]string{baseNameKey: "ghcr.io/x/y:1"}, nil, "", []string{"SS-P9-002", "SS-P9-003"}},
		{"dockerfile latest", nil, nil, "alpine", []string{"SS-P9-003", "SS-P9-005"}},
		{"denied strict", map[string]string{baseNameKey: "alpine:3.12"}, strict, "", []string{"SS-P9-003", "SS-P9-004"}},
		// FROM scratch is no base: nothing to pin, tag or trust.
		{"label scratch", map[string]string{baseNameKey: "scratch"}, pinned, "", nil},
		{"dockerfile scratch", nil, pinned, "scratch", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := synthetic(t, v1.Config{User: "app", Labels: tc.labels, Healthcheck: &v1.HealthConfig{Test: []string{"CMD", "true"}}}, nil, baseLayer())
			out := run(t, &Analyzer{Policy: tc.pol, DockerfileBase: tc.df}, img)
			var got []string
			for _, f := range out.Findings {
				if f.Practice == scorecard.P9 {
					got = append(got, f.Rule)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("P9 rules %v, want %v", got, tc.want)
			}
			if tc.pol == strict {
				if f := find(out, "SS-P9-003")[0]; f.Severity != scorecard.High {
					t.Errorf("pinDigest policy: severity %s", f.Severity)
				}
			}
		})
	}
}

func TestHygiene(t *testing.T) {
	hist := []v1.History{
		{CreatedBy: "/bin/sh -c #(nop) ADD file:abc in / "},
		{CreatedBy: "ADD https://example.com/x.tgz /x.tgz # buildkit"},
		{CreatedBy: "RUN /bin/sh -c curl -fsSL https://get.example.com | sh # buildkit", EmptyLayer: true},
		{CreatedBy: "EXPOSE map[22/tcp:{}]", EmptyLayer: true},
	}
	img := synthetic(t, v1.Config{User: "app", ExposedPorts: map[string]struct{}{"22/tcp": {}}, Labels: map[string]string{"base": "gcr.io/distroless/static"}}, hist, baseLayer(), []file{{name: "x.tgz", body: "x"}})
	out := run(t, &Analyzer{}, img)
	for _, r := range []string{"SS-P9-008", "SS-P9-009", "SS-P9-010", "SS-P8-011", "SS-P8-012"} {
		if len(find(out, r)) != 1 {
			t.Errorf("want one %s: %v", r, ruleIDs(out))
		}
	}
	if f := find(out, "SS-P9-008")[0]; f.Layer != 2 {
		t.Errorf("ADD URL layer %d", f.Layer)
	}
}

func TestHostileFiles(t *testing.T) {
	// Garbage in every file read: no panic, no error, sane answers.
	junk := strings.Repeat("\x00:::\n", 1000) + strings.Repeat("a", 70000)
	img := synthetic(t, v1.Config{User: "app"}, []v1.History{{CreatedBy: "/bin/sh -c echo 'unterminated"}}, []file{
		{name: "etc/passwd", body: junk}, {name: "etc/group", body: junk}, {name: "etc/shadow", body: junk},
		{name: "etc/os-release", body: junk}, {name: "lib/apk/db/installed", body: junk}, {name: "etc/sudoers", body: junk},
		{name: "etc/passwd2", typ: tar.TypeSymlink, link: "../../../../etc/passwd"},
	})
	out := run(t, &Analyzer{}, img)
	if len(find(out, "SS-P2-002")) != 1 {
		t.Errorf("user app in a garbage passwd: %v", ruleIDs(out))
	}
}

func TestDecodeCaps(t *testing.T) {
	v2 := []byte{1, 0, 0, 2, 0x00, 0x24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0} // net_bind_service, net_raw
	if got := DecodeCaps(v2); !slices.Equal(got, []string{"cap_net_bind_service+ep", "cap_net_raw+ep"}) {
		t.Errorf("v2: %v", got)
	}
	if got := DecodeCaps([]byte{1, 2}); got[0] != "malformed" {
		t.Errorf("short: %v", got)
	}
}

func TestSelfBase(t *testing.T) {
	img := synthetic(t, v1.Config{User: "app", Healthcheck: &v1.HealthConfig{Test: []string{"CMD", "true"}}}, nil, baseLayer())
	img.RepoTags = []string{"quay.io/someone/base:1"}
	out := run(t, &Analyzer{}, img)
	b := out.Sections["base"].(Base)
	if b.Name != "quay.io/someone/base:1" || b.Source != selfSource {
		t.Errorf("base %+v", b)
	}
	if got := ruleIDs(out); len(find(out, "SS-P9-002")) != 1 || len(find(out, "SS-P9-003")) != 0 {
		t.Errorf("self base: %v", got)
	}
}

func TestDpkg(t *testing.T) {
	status := func(v string) string {
		return "Package: login\nStatus: install ok installed\nVersion: 1:4.13+dfsg1-1\n\nPackage: libc6\nStatus: install ok installed\nVersion: " + v + "\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n\n"
	}
	debian := "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n"
	hist := []v1.History{
		{CreatedBy: "/bin/sh -c #(nop) ADD file:abc in / "},
		{CreatedBy: `/bin/sh -c #(nop)  CMD ["bash"]`, EmptyLayer: true},
		{CreatedBy: "/bin/sh -c apt-get update && apt-get install -y curl"},
	}
	base := []file{
		{name: "etc/os-release", typ: tar.TypeSymlink, link: "../usr/lib/os-release"},
		{name: "usr/lib/os-release", body: debian},
		{name: "etc/passwd", body: passwd},
		{name: "bin", typ: tar.TypeSymlink, link: "usr/bin"},
		{name: "usr/bin/su", body: "ELF", mode: 0o4755},
		{name: "var/lib/dpkg/status", body: status("2.36-9+deb12u4")},
		{name: "var/lib/dpkg/info/login.list", body: "/.\n/bin\n/bin/su\n/usr/share/doc/login\n"},
	}
	img := synthetic(t, v1.Config{User: "app"}, hist, base, []file{{name: "var/lib/dpkg/status", body: status("2.36-9+deb12u9")}})
	out := run(t, &Analyzer{}, img)
	os := out.Sections["os"].(*OSRelease)
	if os.ID != "debian" || os.Cycle != "12" || os.Path != "/usr/lib/os-release" {
		t.Errorf("os %+v", os)
	}
	// Debian 12's regular support ended 2026-06-10; the test clock says
	// 2026-11-01, within its LTS.
	// Debian LTS is free and from the same archive: a warning, not a failure.
	if f := find(out, "SS-P3-001"); len(f) != 1 || !strings.Contains(f[0].Title, "LTS security updates run until 2028-06-30") || f[0].Severity != scorecard.Medium {
		t.Errorf("Debian 12 on 2026-11-01: %v", ruleIDs(out))
	}
	if s := out.Coverage[1].Summary; !strings.Contains(s, "1 of 2 base packages were upgraded") {
		t.Errorf("P3 summary %q", s)
	}
	su := find(out, "SS-P2-004")
	if len(su) != 1 || su[0].Package == nil || su[0].Package.Name != "login" || su[0].Package.Version != "1:4.13+dfsg1-1" {
		t.Errorf("setuid su with its dpkg package (usrmerge path): %+v", su)
	}
}

func TestPasswdSymlinkOutsideRoot(t *testing.T) {
	// /etc/passwd links far above the root, to a file the layer pass does
	// not read: the user is reported as not verifiable, not as missing, and
	// nothing outside the image is touched.
	img := synthetic(t, v1.Config{User: "app"}, nil, []file{
		{name: "etc/passwd", typ: tar.TypeSymlink, link: "../../../../../../srv/passwd"},
		{name: "srv/passwd", body: passwd},
	})
	out := run(t, &Analyzer{}, img)
	f := find(out, "SS-P2-002")
	if len(f) != 1 || f[0].Severity != scorecard.Info {
		t.Errorf("linked passwd: %+v", f)
	}
	// The os-release link of Debian-like images is followed (both paths
	// are read).
	img = synthetic(t, v1.Config{User: "app"}, nil, []file{
		{name: "etc/passwd", body: passwd},
		{name: "etc/os-release", typ: tar.TypeSymlink, link: "/../../usr/lib/os-release"},
		{name: "usr/lib/os-release", body: alpineRelease},
	})
	out = run(t, &Analyzer{}, img)
	if o, _ := out.Sections["os"].(*OSRelease); o == nil || o.ID != "alpine" {
		t.Errorf("os-release through an absolute link: %+v", out.Sections["os"])
	}
}

func TestOddUsers(t *testing.T) {
	for user, want := range map[string]string{":": "SS-P2-001", "app:": "", " 0 ": "SS-P2-001", "-1": "SS-P2-003"} {
		img := synthetic(t, v1.Config{User: user}, nil, baseLayer())
		out := run(t, &Analyzer{}, img)
		var got string
		for _, f := range out.Findings {
			if f.Practice == scorecard.P2 && f.Rule != "SS-P2-010" {
				got = f.Rule
			}
		}
		if got != want {
			t.Errorf("USER %q: %q, want %q", user, got, want)
		}
	}
}

func TestScannedReference(t *testing.T) {
	for ref, want := range map[string][]string{
		"docker://registry.example.com/team/app:1.2":                               {"SS-P9-006/info"},
		"docker://registry.example.com/team/app":                                   {"SS-P9-006/info", "SS-P9-006/low"},
		"docker://registry.example.com/team/app@sha256:" + strings.Repeat("b", 64): nil,
	} {
		img := synthetic(t, v1.Config{User: "app"}, nil, baseLayer())
		img.Reference, img.Transport = ref, image.Registry
		out := run(t, &Analyzer{}, img)
		var got []string
		for _, f := range find(out, "SS-P9-006") {
			got = append(got, f.Rule+"/"+string(f.Severity))
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", ref, got, want)
		}
	}
}

const provenanceV02 = `{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2",
"subject":[{"name":"pkg:docker/app@1","digest":{"sha256":"aa"}}],
"predicate":{"builder":{"id":""},"buildType":"https://mobyproject.org/buildkit@v1",
"materials":[
 {"uri":"pkg:docker/docker/dockerfile@1","digest":{"sha256":"1111111111111111111111111111111111111111111111111111111111111111"}},
 {"uri":"pkg:docker/alpine@3.22?platform=linux%%2Famd64","digest":{"sha256":"2222222222222222222222222222222222222222222222222222222222222222"}}%s]}}`

func TestProvenance(t *testing.T) {
	hc := &v1.HealthConfig{Test: []string{"CMD", "true"}}
	img := synthetic(t, v1.Config{User: "app", Healthcheck: hc}, nil, baseLayer())
	img.Provenance = []byte(fmt.Sprintf(provenanceV02, ""))
	out := run(t, &Analyzer{}, img)
	b := out.Sections["base"].(Base)
	if b.Name != "alpine:3.22@sha256:2222222222222222222222222222222222222222222222222222222222222222" || !strings.HasPrefix(b.Source, "provenance") || len(b.Materials) != 2 {
		t.Errorf("base %+v", b)
	}
	for _, f := range out.Findings {
		if f.Practice == scorecard.P9 {
			t.Errorf("pinned trusted base from provenance: %v", ruleIDs(out))
		}
	}
	// Two image materials: the base is ambiguous, and the untrusted one is
	// reported.
	img.Provenance = []byte(fmt.Sprintf(provenanceV02, `,{"uri":"pkg:docker/ghcr.io/evil/tools@v1","digest":{"sha256":"33"}}`))
	out = run(t, &Analyzer{}, img)
	if f := find(out, "SS-P9-002"); len(f) != 1 || !strings.Contains(f[0].Title, "ghcr.io/evil/tools") {
		t.Errorf("untrusted material: %v", ruleIDs(out))
	}
	if len(find(out, "SS-P9-007")) != 1 {
		t.Errorf("ambiguous base should stay unknown: %v", ruleIDs(out))
	}
	// Garbage provenance is ignored.
	img.Provenance = []byte(`{"predicate": 12`)
	out = run(t, &Analyzer{}, img)
	if len(find(out, "SS-P9-007")) != 1 {
		t.Errorf("garbage provenance: %v", ruleIDs(out))
	}
}

func TestDockerPURL(t *testing.T) {
	for in, want := range map[string]string{
		"pkg:docker/alpine@3.20?platform=linux%2Famd64": "alpine:3.20",
		"pkg:docker/ghcr.io/org/img@v1":                 "ghcr.io/org/img:v1",
		"pkg:docker/library/debian@sha256:" + "ab":      "library/debian@sha256:ab",
		"pkg:docker/busybox":                            "busybox",
		"pkg:npm/left-pad@1":                            "",
	} {
		got, _ := dockerPURL(in, "")
		if got != want {
			t.Errorf("%s → %q, want %q", in, got, want)
		}
	}
}

func TestLongLinesHideNothing(t *testing.T) {
	long := strings.Repeat("A", 200<<10)
	got := noPasswd(strings.NewReader("# " + long + "\nroot ALL=(ALL) ALL\n" + long + "\napp ALL=(ALL) NOPASSWD: ALL"))
	if len(got) != 1 || got[0] != "4: app ALL=(ALL) NOPASSWD: ALL" {
		t.Errorf("noPasswd after a 200 KiB line: %q", got)
	}
	var lines []string
	eachLine(strings.NewReader("a\r\n\nb"), func(l string) { lines = append(lines, l) })
	if !slices.Equal(lines, []string{"a", "", "b"}) {
		t.Errorf("eachLine: %q", lines)
	}
}

// An unknown base is not a trusted one: P9 warns and says how to name it.
func TestUnknownBaseWarns(t *testing.T) {
	img := synthetic(t, v1.Config{User: "app", Healthcheck: &v1.HealthConfig{Test: []string{"CMD", "true"}}}, nil, baseLayer())
	out := run(t, &Analyzer{}, img)
	var p9 scorecard.PracticeResult
	for _, r := range scorecard.Evaluate(out.Findings, out.Coverage) {
		if r.ID == scorecard.P9 {
			p9 = r
		}
	}
	if p9.Status != scorecard.Warn {
		t.Errorf("P9 = %s, want warn", p9.Status)
	}
	f := find(out, "SS-P9-007")
	if len(f) != 1 || !strings.Contains(f[0].Fix, "--dockerfile") || !strings.Contains(f[0].Fix, "org.opencontainers.image.base.name") {
		t.Errorf("SS-P9-007: %+v", f)
	}
}

// A slimmed image (one layer, history naming the original, loaded under a
// tag) keeps the original's base instead of becoming a base of its own.
func TestSlimmedImageKeepsItsBase(t *testing.T) {
	hist := []v1.History{{CreatedBy: "shipshape slim app:1@sha256:" + strings.Repeat("b", 64)}}
	for _, tc := range []struct {
		name     string
		labels   map[string]string
		wantBase string
	}{
		{"base recorded", map[string]string{baseNameKey: "docker.io/library/alpine:3.22"}, "docker.io/library/alpine:3.22"},
		{"base unknown", nil, ""},
	} {
		img := synthetic(t, v1.Config{User: "app", Labels: tc.labels, Healthcheck: &v1.HealthConfig{Test: []string{"CMD", "true"}}}, hist, baseLayer())
		img.RepoTags = []string{"app.slim:1"}
		out := run(t, &Analyzer{}, img)
		b := out.Sections["base"].(Base)
		if b.Name != tc.wantBase || b.Source == selfSource {
			t.Errorf("%s: base %+v", tc.name, b)
		}
		if tc.wantBase == "" && len(find(out, "SS-P9-007")) != 1 {
			t.Errorf("%s: rules %v", tc.name, ruleIDs(out))
		}
	}
}

// Without an os-release there is no release to date: P3 says so.
func TestUnknownOSIsNotRun(t *testing.T) {
	img := synthetic(t, v1.Config{User: "1000"}, nil, []file{{name: "app/server", body: "\x7fELF"}})
	out := run(t, &Analyzer{}, img)
	for _, r := range scorecard.Evaluate(out.Findings, out.Coverage) {
		if r.ID == scorecard.P3 && (r.Status != scorecard.NotRun || !strings.Contains(r.Reason, "operating system unknown")) {
			t.Errorf("P3 = %s (%s), want not-run", r.Status, r.Reason)
		}
	}
}

// A release shipshape's table lacks: P3 ran but could not date the
// release, so it cannot pass.
func TestUnknownReleaseIsNotAPass(t *testing.T) {
	img := synthetic(t, v1.Config{User: "1000"}, nil, []file{{name: "etc/os-release", body: "ID=plan9\nVERSION_ID=4\n"}})
	out := run(t, &Analyzer{}, img)
	for _, r := range scorecard.Evaluate(out.Findings, out.Coverage) {
		if r.ID == scorecard.P3 && (r.Status != scorecard.Warn || !strings.Contains(r.Summary, "not fully checked")) {
			t.Errorf("P3 = %s (%s), want warn", r.Status, r.Summary)
		}
	}
}

// A root filesystem directory has no config: the user it runs as and its
// HEALTHCHECK are unknown, not failures.
func TestDirectoryHasNoConfigToJudge(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc", "passwd"), []byte("root:x:0:0::/root:/bin/sh\n"), 0o644)
	img, err := image.Open(context.Background(), "dir:"+dir, image.Options{Platform: "linux/s390x"})
	if err != nil {
		t.Fatalf("a directory has no platform to refuse: %v", err)
	}
	defer img.Close()
	out := run(t, &Analyzer{}, img)
	if got := ruleIDs(out); slices.Contains(got, "SS-P2-001") || slices.Contains(got, "SS-P9-009") {
		t.Errorf("config rules on a directory: %v", got)
	}
	for _, r := range scorecard.Evaluate(out.Findings, out.Coverage) {
		if r.ID == scorecard.P2 && (r.Status != scorecard.Warn || !strings.Contains(r.Summary, "user unknown")) {
			t.Errorf("P2 = %s (%s), want warn: user unknown", r.Status, r.Summary)
		}
	}
}

// TestPasswdReadInPart: the layer pass reads the first MiB of /etc/passwd
// and /etc/group; a user or group not found there may be further on, so it
// is not reported missing (the container would start), and P2 says it was
// not verified rather than pass or fail on it — nor can it pass on the
// accounts it did not read.
func TestPasswdReadInPart(t *testing.T) {
	filler := strings.Repeat("filler:x:5000:5000::/:/bin/false\n", 2<<20/33)
	groupFiller := strings.Repeat("fillers:x:5000:\n", 2<<20/16)
	for _, tc := range []struct {
		user, want string
	}{
		{"late", "USER late could not be resolved: /etc/passwd is"},
		{"20001", "uid 20001 could not be looked up: /etc/passwd is"},
		{"app:lategroup", "USER group lategroup could not be resolved: /etc/group is"},
		{"app", "the accounts past the part of /etc/passwd read were not checked"}, // resolved as ever
	} {
		t.Run(tc.user, func(t *testing.T) {
			img := synthetic(t, v1.Config{User: tc.user}, nil, baseLayer(), []file{
				{name: "etc/passwd", body: passwd + filler + "late:x:20001:20001::/:/bin/sh\n"},
				{name: "etc/group", body: "root:x:0:\napp:x:1000:\n" + groupFiller + "lategroup:x:20001:\n"},
			})
			out := run(t, &Analyzer{}, img)
			for _, f := range out.Findings {
				if f.Rule == "SS-P2-002" || f.Rule == "SS-P2-003" {
					t.Errorf("reported on a file read in part: %s %s", f.Rule, f.Title)
				}
			}
			var partial string
			for _, c := range out.Coverage {
				if c.Practice == scorecard.P2 {
					partial = c.Partial
				}
			}
			if !strings.Contains(partial, tc.want) || !strings.Contains(partial, "the accounts past the part of /etc/passwd read were not checked") {
				t.Errorf("P2 partial = %q, want %q", partial, tc.want)
			}
		})
	}
}
