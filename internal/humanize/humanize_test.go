package humanize

import "testing"

func TestHumanize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 3 << 20: "3.0 MiB", 1536 << 20: "1.5 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
	if got := Digest("sha256:0123456789abcdef"); got != "sha256:0123456789ab" {
		t.Errorf("Digest = %q", got)
	}
	if got := Line("RUN  apt-get\n\tinstall é", 14); got != "RUN apt-get i…" {
		t.Errorf("Line = %q", got)
	}
}

func TestCount(t *testing.T) {
	for _, tt := range []struct {
		got, want string
	}{
		{Count(1, "layer"), "1 layer"},
		{Count(0, "file"), "0 files"},
		{Count(3, "file"), "3 files"},
		{Count(1, "vulnerability", "vulnerabilities"), "1 vulnerability"},
		{Count(2, "vulnerability", "vulnerabilities"), "2 vulnerabilities"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
