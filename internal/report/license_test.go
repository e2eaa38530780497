package report

import (
	"reflect"
	"testing"
)

func TestReadLicense(t *testing.T) {
	for _, tt := range []struct {
		in   string
		kind licenseKind
		want string
	}{
		{"MIT", licenseID, "MIT"},
		{"mit", licenseID, "MIT"},
		{" Apache-2.0 ", licenseID, "Apache-2.0"},
		{"bsd-3-clause", licenseID, "BSD-3-Clause"},
		{"GPL-2.0-or-later", licenseID, "GPL-2.0-or-later"},
		{"GPL-2.0+", licenseID, "GPL-2.0+"}, // deprecated, still an id of the list
		{"Unicode-3.0", licenseID, "Unicode-3.0"},
		{"LicenseRef-Proprietary", licenseID, "LicenseRef-Proprietary"},
		// Debian copyright-file (DEP-5) short names.
		{"Expat", licenseID, "MIT"},
		{"GPL-2", licenseID, "GPL-2.0-only"},
		{"GPL-2+", licenseID, "GPL-2.0-or-later"},
		{"LGPL-2.1+", licenseID, "LGPL-2.1-or-later"},
		{"GPL-3+", licenseID, "GPL-3.0-or-later"},
		{"BSD-3-clause", licenseID, "BSD-3-Clause"},
		// DEP-5 expressions: lower-case operators, Debian names.
		{"BSD-3-clause or Expat", licenseExpression, "BSD-3-Clause OR MIT"},
		{"GPL-2+ and LGPL-2.1+ and Expat", licenseExpression, "GPL-2.0-or-later AND LGPL-2.1-or-later AND MIT"},
		{"GPL-1+ or Artistic", licenseName, "GPL-1+ or Artistic"}, // Artistic: no exact id
		{"GPL-2+ or MIT and Expat", licenseName, "GPL-2+ or MIT and Expat"},
		{"GPL-2+ or MIT, and Expat", licenseName, "GPL-2+ or MIT, and Expat"},
		{"GPL-2+ with OpenSSL exception", licenseName, "GPL-2+ with OpenSSL exception"},
		// Expressions.
		{"MIT OR Apache-2.0", licenseExpression, "MIT OR Apache-2.0"},
		{"(MIT OR Apache-2.0)", licenseExpression, "MIT OR Apache-2.0"},
		{"mit or apache-2.0", licenseExpression, "MIT OR Apache-2.0"}, // read as DEP-5
		{"Apache-2.0 WITH LLVM-exception", licenseExpression, "Apache-2.0 WITH LLVM-exception"},
		{"(MIT OR Apache-2.0) AND BSD-3-Clause", licenseExpression, "(MIT OR Apache-2.0) AND BSD-3-Clause"},
		// Not SPDX: names.
		{"SEE LICENSE IN LICENSE.md", licenseName, "SEE LICENSE IN LICENSE.md"},
		{"MIT License", licenseName, "MIT License"},
		{"Apache 2.0", licenseName, "Apache 2.0"},
		{"Artistic", licenseName, "Artistic"}, // Debian's: no exact SPDX id
		{"public-domain", licenseName, "public-domain"},
		{"GPLv2+", licenseName, "GPLv2+"},
		{"MIT OR", licenseName, "MIT OR"},
		{"NOASSERTION", licenseName, "NOASSERTION"},
	} {
		got := readLicense(tt.in)
		if got.kind != tt.kind || got.text != tt.want {
			t.Errorf("readLicense(%q) = %v %q, want %v %q", tt.in, got.kind, got.text, tt.kind, tt.want)
		}
	}
}

func TestCDXLicenses(t *testing.T) {
	for _, tt := range []struct {
		in   []string
		want []cdxLicense
	}{
		{nil, nil},
		{[]string{"", " "}, nil},
		{[]string{"MIT"}, []cdxLicense{{id: "MIT"}}},
		{[]string{"MIT", "Expat"}, []cdxLicense{{id: "MIT"}, {id: "MIT"}}},
		{[]string{"MIT", "custom"}, []cdxLicense{{id: "MIT"}, {name: "custom"}}},
		{[]string{"MIT OR Apache-2.0"}, []cdxLicense{{expression: "MIT OR Apache-2.0"}}},
		// CycloneDX allows one expression or licences, not both.
		{[]string{"MIT OR Apache-2.0", "BSD-2-Clause"}, []cdxLicense{{expression: "(MIT OR Apache-2.0) AND BSD-2-Clause"}}},
		{[]string{"MIT OR Apache-2.0", "custom"}, []cdxLicense{{name: "MIT OR Apache-2.0"}, {name: "custom"}}},
		// An id newer than CycloneDX 1.6's enumeration is a valid
		// expression, not an id the schema rejects.
		{[]string{"Unicode-3.0"}, []cdxLicense{{expression: "Unicode-3.0"}}},
		{[]string{"LicenseRef-Proprietary"}, []cdxLicense{{expression: "LicenseRef-Proprietary"}}},
	} {
		if got := cdxLicenses(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("cdxLicenses(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestCDXLicenseIDsLoaded(t *testing.T) {
	if ids := cdxIDs(); len(ids) < 500 || !ids["Apache-2.0"] {
		t.Fatalf("CycloneDX licence ids: %d loaded", len(ids))
	}
}
