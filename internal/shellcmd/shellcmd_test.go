package shellcmd

import (
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	s, err := Parse(`set -eux; apt-get update && DEBIAN_FRONTEND=x sudo -E apt-get install -y --no-install-recommends "curl" 'git' \
  && curl -fsSL https://x/install.sh | bash -s -- $VERSION && rm -rf /var/lib/apt/lists/*
if true; then apk upgrade; fi; echo $(wget -qO- http://y | sh)`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range s.Commands {
		names = append(names, c.Name())
	}
	want := []string{"set", "apt-get", "apt-get", "curl", "bash", "rm", "true", "apk", "echo", "wget", "sh"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("names %v, want %v", names, want)
	}
	inst := s.Find("apt-get")[1]
	if inst.Sub() != "install" || !inst.Has("--no-install-recommends") || inst.Has("--no-cache") {
		t.Errorf("install: sub %q args %v", inst.Sub(), inst.Unwrapped())
	}
	if got := inst.Unwrapped(); !reflect.DeepEqual(got[len(got)-2:], []string{"curl", "git"}) {
		t.Errorf("quoted words: %v", got)
	}
	if p := s.PipedToShell(); len(p) != 2 || p[0].Name() != "curl" || p[1].Name() != "wget" {
		t.Errorf("PipedToShell: %+v", p)
	}
	if u := s.Upgrades(); len(u) != 1 || u[0].Name() != "apk" {
		t.Errorf("Upgrades: %+v", u)
	}
	if _, err := Parse("echo 'unterminated"); err == nil {
		t.Error("no error for a bad script")
	}
}

func TestPipeNotShell(t *testing.T) {
	s, _ := Parse("curl -o x https://x && sh x; wget -O- http://z | tar xz")
	if p := s.PipedToShell(); len(p) != 0 {
		t.Errorf("PipedToShell: %+v", p)
	}
}

func TestHistory(t *testing.T) {
	for _, tc := range []struct{ in, instr, arg string }{
		{"/bin/sh -c #(nop)  USER app", "USER", "app"},
		{"/bin/sh -c #(nop) COPY file:abc in /f ", "COPY", "file:abc in /f"},
		{"/bin/sh -c adduser -D app", "RUN", "adduser -D app"},
		{"|2 A=1 B=2 /bin/sh -c make all", "RUN", "make all"},
		{"RUN /bin/sh -c apk add x # buildkit", "RUN", "apk add x"},
		{"RUN |1 TOKEN=x /bin/sh -c make # buildkit", "RUN", "make"},
		{"COPY f /f # buildkit", "COPY", "f /f"},
		{"USER app", "USER", "app"},
		{"EXPOSE map[22/tcp:{}]", "EXPOSE", "map[22/tcp:{}]"},
	} {
		i, a := History(tc.in)
		if i != tc.instr || a != tc.arg {
			t.Errorf("History(%q) = %q, %q; want %q, %q", tc.in, i, a, tc.instr, tc.arg)
		}
	}
}
