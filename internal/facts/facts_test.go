package facts_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/facts"
	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/pkgdb"
)

const (
	statusV1 = "Package: a\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-1\nConffiles:\n /etc/a.conf 0123456789abcdef0123456789abcdef\n\n"
	statusV2 = "Package: a\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0-2\n\nPackage: b\nStatus: install ok installed\nVersion: 3\n\n"
	sumA     = "fedcba9876543210fedcba9876543210"
)

// system scans a two-layer image through the layer pass and returns the
// shared facts every analyzer gets.
func system(t *testing.T) *facts.System {
	t.Helper()
	img := imagetest.Image{Layers: []imagetest.Layer{
		{CreatedBy: "ADD rootfs /", Files: []imagetest.File{
			imagetest.Reg("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n"),
			imagetest.Reg("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
			imagetest.Reg("var/lib/dpkg/status", statusV1),
			imagetest.Reg("var/lib/dpkg/info/a.list", "/.\n/usr\n/usr/bin\n/usr/bin/a\n"),
			imagetest.Reg("var/lib/dpkg/info/a:amd64.md5sums", sumA+"  usr/bin/a\n"),
			imagetest.Symlink("bin", "usr/bin"),
		}},
		{CreatedBy: "RUN apt-get upgrade", Files: []imagetest.File{
			imagetest.Reg("var/lib/dpkg/status", statusV2),
			imagetest.Whiteout("var/lib/dpkg/info/a:amd64.md5sums"),
			imagetest.Reg("etc/group", "root:x:0:\n"),
		}},
	}}
	return scan(t, img)
}

// scan runs the layer pass, without analyzers, on img.
func scan(t *testing.T, img imagetest.Image) *facts.System {
	t.Helper()
	return scanWith(t, img, analyze.Options{})
}

// scanWith is scan with options.
func scanWith(t *testing.T, img imagetest.Image, opts analyze.Options) *facts.System {
	t.Helper()
	p := filepath.Join(t.TempDir(), "img.tar")
	img.WriteDockerArchive(t, p, false)
	opened, err := image.Open(context.Background(), "docker-archive:"+p, image.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer opened.Close()
	res, err := analyze.Run(context.Background(), opened, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res.System
}

func TestSystem(t *testing.T) {
	s := system(t)
	if s.Release == nil || s.Release.ID != "debian" || s.Release.VersionID != "12" || s.Release.File.Entry.Layer != 1 {
		t.Errorf("release = %+v", s.Release)
	}
	if s.Passwd == nil || s.Passwd.Entry.Layer != 1 || s.Group == nil || s.Group.Entry.Layer != 2 {
		t.Errorf("passwd %+v, group %+v", s.Passwd, s.Group)
	}
	d := s.Database("dpkg")
	if d == nil || len(d.Packages) != 2 || d.Entry.Layer != 2 {
		t.Fatalf("dpkg database = %+v", d)
	}
	if v := s.Version("a"); v != "1.0-2" {
		t.Errorf("final version of a = %q, want the upgraded 1.0-2", v)
	}
	if old := d.InLayer[1]; len(old) != 1 || old[0].Version != "1.0-1" {
		t.Errorf("layer 1's database = %+v", old)
	}
	if s.Database("apk") != nil {
		t.Error("an apk database out of nowhere")
	}
	for _, tt := range []struct {
		path, pkg, sum string
	}{
		// The md5sums file a later layer removed still tells whose file
		// it was and what it held.
		{"/usr/bin/a", "a", "md5:" + sumA},
		// usrmerge: /bin/a is /usr/bin/a.
		{"/bin/a", "a", "md5:" + sumA},
		// A conffile's checksum comes from the status file (layer 1's).
		{"/etc/a.conf", "a", "md5:0123456789abcdef0123456789abcdef"},
		// A path that is not clean is cleaned first.
		{"usr/bin/./a", "a", "md5:" + sumA},
		{"/bin//a", "a", "md5:" + sumA},
	} {
		o, ok := s.Owner(tt.path)
		if !ok || o.Package != tt.pkg || o.Sum != tt.sum {
			t.Errorf("Owner(%s) = %+v, %v; want %s %s", tt.path, o, ok, tt.pkg, tt.sum)
		}
		if ob, okb := s.OwnerOf([]byte(tt.path)); ob != o || okb != ok {
			t.Errorf("OwnerOf(%s) = %+v, %v; Owner gives %+v, %v", tt.path, ob, okb, o, ok)
		}
	}
	for _, p := range []string{"/etc/passwd", "/usr/bin/b", "/usr"} {
		if _, ok := s.Owner(p); ok {
			t.Errorf("%s has an owner though no database lists it", p)
		}
		if _, ok := s.OwnerOf([]byte(p)); ok {
			t.Errorf("OwnerOf(%s) found an owner though no database lists it", p)
		}
	}
	// Looked up once per own file of the image: a clean path in a reused
	// buffer, found or not, on either side of a merged /usr, costs no
	// allocation.
	buf := []byte("/bin/a\x00/usr/app/src/internal/handlers/main.py")
	if n := testing.AllocsPerRun(100, func() {
		s.OwnerOf(buf[:6])
		s.OwnerOf(buf[7:])
	}); n != 0 {
		t.Errorf("OwnerOf allocates %v times per two lookups, want 0", n)
	}
}

func TestParseOSRelease(t *testing.T) {
	kv := facts.ParseOSRelease("# comment\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\nNAME='x'\n=novalue\n")
	if kv["ID"] != "alpine" || kv["VERSION_ID"] != "3.20.3" || kv["PRETTY_NAME"] != "Alpine Linux v3.20" || kv["NAME"] != "x" || len(kv) != 4 {
		t.Errorf("ParseOSRelease = %q", kv)
	}
}

// scratch is a facts.Scratch in memory, or one that fails every write.
type scratch struct {
	b    []byte
	fail bool
}

func (s *scratch) Write(p []byte) (int, error) {
	if s.fail {
		return 0, errors.New("disk full")
	}
	s.b = append(s.b, p...)
	return len(p), nil
}

func (s *scratch) WriteAt(p []byte, off int64) (int, error) {
	return copy(s.b[off:], p), nil
}

// TestFactsWritten holds Decode (JSON v2) to what a Collector writes as
// a layer is read, to memory or to the Out given, the same bytes either
// way: encoding/json's for a layer without file lists; with lists, the
// count of the files they name first (room left for it, filled when the
// layer ends), then the lists as they were read, then the rest. A file
// whose bytes are not UTF-8 is read back with its bad bytes replaced,
// not refused; a list read twice is the last one read. An Out that fails
// is the Collector's error.
func TestFactsWritten(t *testing.T) {
	passwd := [2]string{facts.Passwd, "root:x:0:0:r\xffoot \"<&>\" \u2028:/root:/bin/sh\n"}
	for _, tt := range []struct {
		name  string
		files [][2]string
		want  string // what the facts begin with
		owned int    // files the lists name
		check func(t *testing.T, l facts.Layer)
	}{
		{"no lists", [][2]string{passwd, {"/var/lib/dpkg/status", statusV1}}, `{"text":{"/etc/passwd":"root:x:0:0:r` + "\uFFFD" + `oot \"\u003c\u0026\u003e\" \u2028:/root:/bin/sh\n"},"packages":`, 0,
			func(t *testing.T, l facts.Layer) {
				if pkgs := l.Packages["/var/lib/dpkg/status"]; len(pkgs) != 1 || pkgs[0].Name != "a" || len(pkgs[0].Files) != 1 {
					t.Errorf("dpkg status read back as %+v", pkgs)
				}
			}},
		{"only lists, none kept", [][2]string{{"/var/lib/dpkg/info/a.list", "/.\n/usr/share/doc/a\n"}}, `{"ownedFiles":         0,"owned":{"/var/lib/dpkg/info/a.list":[]}}`, 0, nil},
		{"lists and more", [][2]string{
			{"/var/lib/dpkg/info/b:amd64.md5sums", sumA + "  usr/bin/b\n" + sumA + "  usr/share/doc/b/<b>\n"},
			{"/var/lib/dpkg/info/a.list", "/.\n/usr/bin/a\n"},
			{"/var/lib/dpkg/info/\u00e9<.md5sums", sumA + "  usr/bin/\u00e9\n"},
			passwd,
		}, `{"ownedFiles":         4,"owned":{"/var/lib/dpkg/info/b:amd64.md5sums":[{"path":"/usr/bin/b","sum":"md5:` + sumA + `"},{"path":"/usr/share/doc/b/\u003cb\u003e",`, 4,
			func(t *testing.T, l facts.Layer) {
				if got := l.Owned["/var/lib/dpkg/info/\u00e9<.md5sums"]; len(got) != 1 || got[0].Path != "/usr/bin/\u00e9" {
					t.Errorf("the third list read back as %+v", got)
				}
				if got := l.Text[facts.Passwd]; got != "root:x:0:0:r\uFFFDoot \"<&>\" \u2028:/root:/bin/sh\n" {
					t.Errorf("passwd read back as %q", got)
				}
			}},
		{"a list read twice", [][2]string{
			{"/var/lib/dpkg/info/a.md5sums", sumA + "  usr/bin/old\n"},
			{"/var/lib/dpkg/info/a.md5sums", sumA + "  usr/bin/new\n"},
		}, `{"ownedFiles":         2,"owned":{"/var/lib/dpkg/info/a.md5sums":[{"path":"/usr/bin/old",`, 2,
			func(t *testing.T, l facts.Layer) {
				if got := l.Owned["/var/lib/dpkg/info/a.md5sums"]; len(got) != 1 || got[0].Path != "/usr/bin/new" {
					t.Errorf("the list read twice read back as %+v, want the last", got)
				}
			}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			collect := func(c *facts.Collector) error {
				for _, f := range tt.files {
					e := &fstree.Entry{Type: fstree.Regular, Size: int64(len(f[1]))}
					e.SetPath(f[0])
					if err := c.File(context.Background(), e, strings.NewReader(f[1])); err != nil {
						return err
					}
				}
				return c.End()
			}
			var c facts.Collector
			if err := collect(&c); err != nil {
				t.Fatal(err)
			}
			raw, err := c.Facts()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(raw), tt.want) {
				t.Errorf("Facts wrote\n%s\nwant it to begin with\n%s", raw, tt.want)
			}
			out := &scratch{}
			if err := collect(&facts.Collector{Out: out}); err != nil || string(out.b) != string(raw) {
				t.Errorf("to an Out, the facts written are\n%s (%v)\nwant\n%s", out.b, err, raw)
			}
			if err := collect(&facts.Collector{Out: &scratch{fail: true}}); err == nil || !strings.Contains(err.Error(), "writing the layer's facts: disk full") {
				t.Errorf("to an Out that fails: error %v", err)
			}

			var want facts.Layer
			if err := json.Unmarshal(raw, &want); err != nil {
				t.Fatalf("encoding/json cannot read the facts: %v\n%s", err, raw)
			}
			if tt.owned == 0 && len(want.Owned) == 0 {
				if v1, err := json.Marshal(&want); err != nil || string(v1) != string(raw) {
					t.Errorf("Facts wrote\n%s\nencoding/json writes\n%s", raw, v1)
				}
			}
			layers, err := facts.Decode([]facts.Source{{Raw: raw}, {}}, 2)
			if err != nil {
				t.Fatalf("Decode of what the Collector wrote: %v", err)
			}
			if len(layers) != 2 || !reflect.DeepEqual(layers[0], want) || !reflect.DeepEqual(layers[1], facts.Layer{}) {
				t.Errorf("Decode = %+v, encoding/json reads %+v", layers, want)
			}
			if layers[0].OwnedFiles != tt.owned {
				t.Errorf("OwnedFiles = %d, want %d", layers[0].OwnedFiles, tt.owned)
			}
			if tt.check != nil {
				tt.check(t, layers[0])
			}
		})
	}
}

// TestDatabaseNotRead: a package database beyond pkgdb's bounds is not
// read, and the system says so — its packages are unknown, not none —
// while the earlier layer's copy is still what that layer said.
func TestDatabaseNotRead(t *testing.T) {
	var many strings.Builder
	for i := range pkgdb.MaxPackages + 1 {
		fmt.Fprintf(&many, "Package: p%d\nStatus: install ok installed\nVersion: 1\n\n", i)
	}
	large := "P:a\nV:1\n" + strings.Repeat("\n", pkgdb.MaxDatabaseBytes-7)
	for _, tt := range []struct {
		name, kind, path, first, last, want string
	}{
		{"too many packages", "dpkg", pkgdb.DpkgStatus, statusV1, many.String(), fmt.Sprintf("more than %d packages", pkgdb.MaxPackages)},
		{"too large", "apk", pkgdb.ApkInstalled, "P:a\nV:1\n", large, fmt.Sprintf("%d bytes: larger than the limit of %d", len(large), pkgdb.MaxDatabaseBytes)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sys := scan(t, imagetest.Image{Layers: []imagetest.Layer{
				{CreatedBy: "ADD rootfs /", Files: []imagetest.File{
					imagetest.Reg("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"),
					imagetest.Reg(tt.path[1:], tt.first),
				}},
				{CreatedBy: "RUN install everything", Files: []imagetest.File{imagetest.Reg(tt.path[1:], tt.last)}},
			}})
			d := sys.Database(tt.kind)
			if d == nil {
				t.Fatal("no database: an unread one is still a database")
			}
			if !strings.Contains(d.Err, tt.want) || len(d.Packages) != 0 {
				t.Errorf("database: Err %q (want %q), %d packages (want none)", d.Err, tt.want, len(d.Packages))
			}
			if got := d.InLayer[1]; len(got) != 1 || got[0].Name != "a" {
				t.Errorf("layer 1's database = %+v", got)
			}
			if !slices.ContainsFunc(sys.Errors, func(e string) bool { return strings.HasPrefix(e, tt.path+": "+tt.want) }) {
				t.Errorf("errors = %q", sys.Errors)
			}
		})
	}
}

// TestFileListsNotRead: a dpkg file list over pkgdb.MaxInfoBytes, or past
// pkgdb.MaxOwnedFiles named by one layer's lists or by the whole image's,
// is not read (never in part): its package's files are unknown and the
// system says so; a later layer's list that is read replaces it.
func TestFileListsNotRead(t *testing.T) {
	sums := func(pkg string, n int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "%s  usr/share/%s/f%d\n", sumA, pkg, i)
		}
		return b.String()
	}
	info := "var/lib/dpkg/info/"
	big := strings.Repeat(sumA+"  usr/share/big/x\n", pkgdb.MaxInfoBytes/50+1)
	half := pkgdb.MaxOwnedFiles / 2
	for _, tt := range []struct {
		name   string
		layers [][]imagetest.File
		// unlisted maps packages whose files are unknown to the reason.
		unlisted map[string]string
		// owned are files whose owner is known.
		owned map[string]string
	}{
		{"list too large", [][]imagetest.File{{
			imagetest.Reg(info+"big.md5sums", big),
			imagetest.Reg(info+"small.md5sums", sums("small", 1)),
		}}, map[string]string{"big": fmt.Sprintf("/var/lib/dpkg/info/big.md5sums: %d bytes: larger than the limit of %d for a dpkg file list", len(big), pkgdb.MaxInfoBytes)},
			map[string]string{"/usr/share/small/f0": "small", "/usr/share/big/x": ""}},
		{"lists naming too many files", [][]imagetest.File{{
			imagetest.Reg(info+"a.md5sums", sums("a", half)),
			imagetest.Reg(info+"b.md5sums", sums("b", half)),
			imagetest.Reg(info+"c.md5sums", sums("c", 1)),
		}}, map[string]string{"c": fmt.Sprintf("/var/lib/dpkg/info/c.md5sums: the dpkg file lists name more than %d files in all", pkgdb.MaxOwnedFiles)},
			map[string]string{"/usr/share/a/f0": "a", fmt.Sprintf("/usr/share/b/f%d", half-1): "b", "/usr/share/c/f0": ""}},
		{"the image's lists past the bound", [][]imagetest.File{
			{imagetest.Reg(info+"a.md5sums", sums("a", half))},
			{imagetest.Reg(info+"b.md5sums", sums("b", half)), imagetest.Reg(info+"c.md5sums", sums("c", half))},
		}, map[string]string{
			"b": fmt.Sprintf("/var/lib/dpkg/info/b.md5sums: the dpkg file lists of the image's layers name more than %d files in all", pkgdb.MaxOwnedFiles),
			"c": fmt.Sprintf("/var/lib/dpkg/info/c.md5sums: the dpkg file lists of the image's layers name more than %d files in all", pkgdb.MaxOwnedFiles),
		}, map[string]string{"/usr/share/a/f1": "a", "/usr/share/b/f1": "", "/usr/share/c/f0": ""}},
		{"a later layer reads it", [][]imagetest.File{
			{imagetest.Reg(info+"big.md5sums", big)},
			{imagetest.Reg(info+"big.md5sums", sums("big", 2))},
		}, nil, map[string]string{"/usr/share/big/f1": "big"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			img := imagetest.Image{}
			for i, files := range tt.layers {
				if i == 0 {
					files = append(files, imagetest.Reg("var/lib/dpkg/status", statusV1))
				}
				img.Layers = append(img.Layers, imagetest.Layer{CreatedBy: fmt.Sprintf("RUN step %d", i), Files: files})
			}
			// The same whether the layers' facts are held in memory or
			// set aside in files and read back as a stream.
			held := scan(t, img)
			aside := scanWith(t, img, analyze.Options{TempDir: t.TempDir(), FactsInMemory: -1})
			if !reflect.DeepEqual(aside, held) {
				t.Errorf("facts set aside give\n%+v\nheld in memory\n%+v", aside, held)
			}
			sys := aside
			for _, pkg := range []string{"a", "b", "c", "big", "small"} {
				why, ok := sys.Unlisted(pkg)
				want, wantOK := tt.unlisted[pkg]
				if ok != wantOK || !strings.HasPrefix(why, want) {
					t.Errorf("Unlisted(%q) = %q, %v; want %q, %v", pkg, why, ok, want, wantOK)
				}
				if wantOK && !slices.ContainsFunc(sys.UnreadLists, func(e string) bool { return strings.HasPrefix(e, want) }) {
					t.Errorf("UnreadLists = %q, want %q", sys.UnreadLists, want)
				}
			}
			for f, want := range tt.owned {
				if o, _ := sys.Owner(f); o.Package != want {
					t.Errorf("Owner(%s) = %q, want %q", f, o.Package, want)
				}
			}
		})
	}
}

// TestRPMDatabase: the system says where the final image's rpm database
// is (the inventory reads it): the newest location first, a database a
// later layer deleted is not there, and a link into it is followed.
func TestRPMDatabase(t *testing.T) {
	release := imagetest.Reg("etc/os-release", "ID=rocky\nVERSION_ID=\"9.3\"\n")
	for _, tt := range []struct {
		name   string
		layers []imagetest.Layer
		want   string
	}{
		{"none", []imagetest.Layer{{Files: []imagetest.File{release}}}, ""},
		{"sqlite", []imagetest.Layer{{Files: []imagetest.File{release, imagetest.Reg("var/lib/rpm/rpmdb.sqlite", "x")}}}, "/var/lib/rpm/rpmdb.sqlite"},
		{"berkeley db and the newer place", []imagetest.Layer{{Files: []imagetest.File{release,
			imagetest.Reg("var/lib/rpm/Packages", "x"), imagetest.Reg("usr/lib/sysimage/rpm/rpmdb.sqlite", "x")}}}, "/usr/lib/sysimage/rpm/rpmdb.sqlite"},
		{"linked", []imagetest.Layer{{Files: []imagetest.File{release,
			imagetest.Reg("usr/share/rpmdb/Packages", "x"), imagetest.Symlink("var/lib/rpm", "../../usr/share/rpmdb")}}}, "/var/lib/rpm/Packages"},
		{"deleted", []imagetest.Layer{
			{Files: []imagetest.File{release, imagetest.Reg("var/lib/rpm/Packages", "x")}},
			{Files: []imagetest.File{imagetest.Whiteout("var/lib/rpm/Packages")}},
		}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for i := range tt.layers {
				tt.layers[i].CreatedBy = fmt.Sprintf("RUN step %d", i)
			}
			if got := scan(t, imagetest.Image{Layers: tt.layers}).RPMDatabase; got != tt.want {
				t.Errorf("RPMDatabase = %q, want %q", got, tt.want)
			}
		})
	}
}
