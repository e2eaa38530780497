package imagecfg

import (
	"strings"
	"testing"
)

// FuzzParsers feeds the same bytes to every file parser: none may panic.
func FuzzParsers(f *testing.F) {
	for _, s := range []string{passwd, apkInstalled, alpineRelease, "root::1:::\n", "Package: a\nStatus: install ok installed\nVersion: 1\n", string([]byte{1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), `{"predicate":{"materials":[{"uri":"pkg:docker/a@b"}]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s := string(b)
		parseIDs(s, true)
		parseShadow(strings.NewReader(s))
		noPasswd(strings.NewReader(s))
		parseAPK(strings.NewReader(s))
		parseDpkg(strings.NewReader(s))
		parseOSRelease(s)
		DecodeCaps(b)
		provenanceMaterials(b)
	})
}
