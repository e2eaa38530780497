package inventory_test

import (
	"slices"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/layertest"
)

// bashCopyright is copyright_test.go's DEP-5 file, seen from outside.
const bashCopyright = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: 1987-2022 Free Software Foundation, Inc.
License: GPL-3+

Files: examples/loadables/*
Copyright: 2002 The Free Software Foundation
License: BSD-3-clause or Expat

License: GPL-3+
 This program is free software ...
`

func TestDebianCopyrightLicences(t *testing.T) {
	status := "Package: bash\nStatus: install ok installed\nArchitecture: amd64\nVersion: 5.2.15-2+b2\n\n" +
		"Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:1.2.13.dfsg-1\n\n" +
		"Package: libgone1\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.0\n\n"
	inv := run(t,
		layertest.Layer{Files: map[string]layertest.File{
			"/etc/os-release":                   {Content: []byte("ID=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n")},
			"/var/lib/dpkg/status":              {Content: []byte(status)},
			"/usr/share/doc/bash/copyright":     {Content: []byte(bashCopyright)},
			"/usr/share/doc/zlib1g/copyright":   {Content: []byte("Not machine-readable.\n")},
			"/usr/share/doc/libgone1/copyright": {Content: []byte(bashCopyright)},
			"/usr/share/doc/nopkg/copyright":    {Content: []byte(bashCopyright)},
			"/usr/share/doc/bash/x/copyright":   {Content: []byte(bashCopyright)},
		}},
		// Slim images delete the docs: the licence goes with them.
		layertest.Layer{Files: map[string]layertest.File{
			"/usr/share/doc/libgone1/copyright": {Whiteout: true},
		}},
	)
	want := map[string][]string{"bash": {"GPL-3+", "BSD-3-clause or Expat"}, "zlib1g": nil, "libgone1": nil}
	if len(inv.Packages) != len(want) {
		t.Fatalf("packages = %+v, want only the dpkg ones", inv.Packages)
	}
	for _, p := range inv.Packages {
		if !slices.Equal(p.Licenses, want[p.Name]) {
			t.Errorf("%s licences = %q, want %q", p.Name, p.Licenses, want[p.Name])
		}
	}
	if len(inv.Removed) != 0 {
		t.Errorf("removed = %+v, want none (a copyright file is not a package)", inv.Removed)
	}
}
