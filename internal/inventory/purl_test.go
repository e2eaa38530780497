package inventory

import "testing"

func TestNormalizePURL(t *testing.T) {
	for _, tt := range []struct {
		in     string
		stdlib bool
		want   string
	}{
		{"pkg:golang/golang.org/x/text@0.3.5", false, "pkg:golang/golang.org/x/text@v0.3.5"},
		{"pkg:golang/golang.org/x/text@v0.3.5", false, "pkg:golang/golang.org/x/text@v0.3.5"},
		{"pkg:golang/stdlib@1.22.1", true, "pkg:golang/stdlib@1.22.1"},
		// A main module built from a checkout: no "v" before "(devel)".
		{"pkg:golang/example.com/app@%28devel%29", false, "pkg:golang/example.com/app@%28devel%29"},
		{"pkg:npm/left-pad@1.1.2?source=PUBLIC_REGISTRY", false, "pkg:npm/left-pad@1.1.2"},
		{"pkg:pypi/requests@2.31.0?source=UNKNOWN", false, "pkg:pypi/requests@2.31.0"},
		{"pkg:deb/debian/openssl@3.0.11-1?arch=amd64&source=UNKNOWN&distro=debian-12", false, "pkg:deb/debian/openssl@3.0.11-1?arch=amd64&distro=debian-12"},
		{"not a purl", false, "not a purl"},
	} {
		if got := normalizePURL(tt.in, tt.stdlib); got != tt.want {
			t.Errorf("normalizePURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
