package redact

import (
	"strings"
	"testing"
)

func TestURL(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		hidden   []string
	}{
		{in: "https://mirror.example/osv", want: "https://mirror.example/osv"},
		{in: "https://user:pypiPass@pypi.corp.example/simple", want: "https://<redacted>@pypi.corp.example/simple", hidden: []string{"pypiPass", "user"}},
		{in: "https://tok3n@host/x", hidden: []string{"tok3n"}},
		{in: "https://host/kev.json?api_key=k3y&Token=t0k&page=2", want: "https://host/kev.json?Token=<redacted>&api_key=<redacted>&page=2", hidden: []string{"k3y", "t0k"}},
		{in: "/var/mirror/osv", want: "/var/mirror/osv"},
		{in: "file:///srv/osv", want: "file:///srv/osv"},
		{in: "http://us er:p4ss@host:99999999999/%zz", hidden: []string{"p4ss"}},
	} {
		got := URL(tt.in)
		if tt.want != "" && got != tt.want {
			t.Errorf("URL(%q) = %q, want %q", tt.in, got, tt.want)
		}
		for _, h := range tt.hidden {
			if strings.Contains(got, h) {
				t.Errorf("URL(%q) = %q shows %q", tt.in, got, h)
			}
		}
	}
}
