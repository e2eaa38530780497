package inventory

import (
	"slices"
	"testing"
)

// A DEP-5 copyright file as Debian packages ship them (shortened from
// bash's: Files paragraphs with License short names, a standalone License
// paragraph with the text).
const bashCopyright = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: bash
Source: https://ftp.gnu.org/gnu/bash/

Files: *
Copyright: 1987-2022 Free Software Foundation, Inc.
License: GPL-3+

Files: lib/sh/strtoimax.c
Copyright: 1999-2022 Free Software Foundation, Inc.
License: GPL-3+

Files: examples/loadables/*
Copyright: 2002 The Free Software Foundation
License: BSD-3-clause or Expat
 This is not a licence name: continuation lines are licence text.

License: GPL-3+
 This program is free software; you can redistribute it and/or modify
 it under the terms of the GNU General Public License ...
`

func TestDEP5Licenses(t *testing.T) {
	for _, tt := range []struct {
		name, text string
		want       []string
	}{
		{"bash", bashCopyright, []string{"GPL-3+", "BSD-3-clause or Expat"}},
		{"not DEP-5", "This is the Debian prepackaged version of zlib.\n\nLicense: zlib\n", nil},
		{"empty", "", nil},
		{"header only", "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n", nil},
		{"CRLF-free garbage", "Format: x\n\nFiles\nLicense\n:\n", nil},
	} {
		if got := dep5Licenses(tt.text); !slices.Equal(got, tt.want) {
			t.Errorf("%s: dep5Licenses = %q, want %q", tt.name, got, tt.want)
		}
	}
}
