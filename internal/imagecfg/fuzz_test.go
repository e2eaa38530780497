package imagecfg

import (
	"fmt"
	"maps"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	sysfacts "github.com/shipshape-dev/shipshape/internal/facts"
	"github.com/shipshape-dev/shipshape/internal/pkgdb"
)

var capPattern = regexp.MustCompile(`^cap_[a-z0-9_]+\+e?i?p?$`)

// FuzzParsers feeds the same bytes to every file parser. None may panic,
// and each keeps its promise: accounts and NOPASSWD lines point at lines
// of the file that say what was parsed; package names and versions come
// from the file; paths of apk-owned executables stay inside the image root
// (the seeded "../../bin" directory); os-release parse → print → parse is
// stable; capabilities decode to well-formed names; provenance materials
// are docker purls with a reference.
func FuzzParsers(f *testing.F) {
	for _, s := range []string{passwd, apkInstalled, alpineRelease, "root::1:::\n", "Package: a\nStatus: install ok installed\nVersion: 1\n", string([]byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), `{"predicate":{"materials":[{"uri":"pkg:docker/a@b"}]}}`,
		"P:evil\nV:1\nF:../../bin\nR:sh\nF:/usr/../../../sbin\nR:../../etc/passwd\n",
		"# sudoers\nDefaults env_reset\n  app ALL=(ALL) NOPASSWD: ALL\r\n%wheel ALL=(ALL) NOPASSWD:ALL\n",
		"ID=\"debian\"\nVERSION_ID='12'\n  PRETTY_NAME=\"Debian \\\"12\\\"\"\n#X=1\nA =b\n=c\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := string(b)
		lines := strings.Split(s, "\n")

		for _, a := range parseIDs(s, true) {
			if a.Line < 1 || a.Line > len(lines) {
				t.Fatalf("account %q on line %d of %d", a.Name, a.Line, len(lines))
			}
			fields := strings.Split(lines[a.Line-1], ":")
			if len(fields) < 3 || fields[0] != a.Name {
				t.Fatalf("account %q does not match line %d: %q", a.Name, a.Line, lines[a.Line-1])
			}
			if id, err := strconv.Atoi(fields[2]); err != nil || id != a.ID {
				t.Fatalf("account %q (id %d) does not match line %d: %q", a.Name, a.ID, a.Line, lines[a.Line-1])
			}
		}

		for name, state := range parseShadow(strings.NewReader(s)) {
			if name == "" || strings.Contains(name, ":") || !slices.Contains([]string{"empty", "locked", "hash"}, state) {
				t.Fatalf("shadow entry %q: %q", name, state)
			}
		}

		n := 0
		eachLine(strings.NewReader(s), func(string) { n++ })
		for _, e := range noPasswd(strings.NewReader(s)) {
			var line int
			var text string
			if i := strings.Index(e, ": "); i < 0 {
				t.Fatalf("NOPASSWD entry %q: want \"LINE: text\"", e)
			} else if line, _ = strconv.Atoi(e[:i]); line < 1 || line > n {
				t.Fatalf("NOPASSWD entry %q: line %d of %d", e, line, n)
			} else {
				text = e[i+2:]
			}
			if !strings.Contains(s, text) {
				t.Fatalf("NOPASSWD entry %q: text not in the file", e)
			}
		}

		apk, _ := pkgdb.ReadApk(strings.NewReader(s))
		for _, pk := range apk {
			if !strings.Contains(s, "P:"+pk.Name) {
				t.Fatalf("apk package %q is not in the file", pk.Name)
			}
			for _, f := range pk.Files {
				if !strings.HasPrefix(f.Path, "/") || path.Clean(f.Path) != f.Path {
					t.Fatalf("apk file %q of %q: want a clean absolute path inside the image root", f.Path, pk.Name)
				}
			}
		}

		dpkg, _ := pkgdb.ReadDpkgStatus(strings.NewReader(s))
		for _, pk := range dpkg {
			if !strings.Contains(s, "Package: "+pk.Name) && !strings.Contains(s, "Package:"+pk.Name) || !strings.Contains(s, pk.Version) {
				t.Fatalf("dpkg package %q %q is not in the file", pk.Name, pk.Version)
			}
		}

		// os-release: parse → print → parse.
		rel := sysfacts.ParseOSRelease(s)
		var printed strings.Builder
		for k, v := range rel {
			fmt.Fprintf(&printed, "%s=%s\n", k, strconv.Quote(v))
		}
		if again := sysfacts.ParseOSRelease(printed.String()); !maps.Equal(rel, again) {
			t.Fatalf("os-release parse → print → parse changed\n%q\nto\n%q", rel, again)
		}

		caps := DecodeCaps(b)
		switch {
		case len(b) < 12:
			if !slices.Equal(caps, []string{"malformed"}) {
				t.Fatalf("DecodeCaps of %d bytes = %q, want malformed", len(b), caps)
			}
		case slices.Equal(caps, []string{"none"}):
		default:
			for _, c := range caps {
				if !capPattern.MatchString(c) || strings.HasSuffix(c, "+e") || strings.HasSuffix(c, "+") {
					t.Fatalf("DecodeCaps: %q", c)
				}
			}
			if len(slices.Compact(slices.Clone(caps))) != len(caps) {
				t.Fatalf("DecodeCaps: duplicates in %q", caps)
			}
		}

		for _, m := range provenanceMaterials(b) {
			if !strings.HasPrefix(m.URI, "pkg:docker/") || m.Ref == "" {
				t.Fatalf("provenance material %+v", m)
			}
		}
	})
}
