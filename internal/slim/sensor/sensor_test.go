package sensor

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"syscall"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/testenv"
)

func TestTrace(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the sensor supports linux/amd64")
	}
	cat, err := exec.LookPath("cat")
	testenv.Require(t, "cat", err)
	realCat, _ := filepath.EvalSymlinks(cat)
	rep, err := Trace(Options{
		Argv: []string{"/bin/sh", "-c", "cat /etc/hostname >/dev/null; ls /nonexistent-shipshape 2>/dev/null; cd /etc && cat ./passwd >/dev/null & wait; exit 3"},
		Env:  os.Environ(),
	}, false)
	if errors.Is(err, syscall.EPERM) {
		testenv.Require(t, "ptrace", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if rep.ExitCode != 3 {
		t.Errorf("exit code %d, want 3", rep.ExitCode)
	}
	has := func(list []string, s string) bool {
		for _, x := range list {
			if x == s {
				return true
			}
		}
		return false
	}
	for _, p := range []string{"/etc/hostname", "/etc/./passwd", "/bin/sh"} {
		if !has(rep.Touched, p) {
			t.Errorf("touched lacks %s: %v", p, rep.Touched)
		}
	}
	if !has(rep.Missing, "/nonexistent-shipshape") {
		t.Errorf("near misses lack /nonexistent-shipshape: %v", rep.Missing)
	}
	if !has(rep.Execs, realCat) {
		t.Errorf("execs lack %s: %v", realCat, rep.Execs)
	}
	if rep.Processes < 4 {
		t.Errorf("%d processes traced, want the shell and its children", rep.Processes)
	}
	if !has(rep.Syscalls, "execve") || !has(rep.Syscalls, "exit_group") {
		t.Errorf("syscalls: %v", rep.Syscalls)
	}
}

func TestTraceMissingCommand(t *testing.T) {
	rep, err := Trace(Options{Argv: []string{"no-such-command-shipshape"}, Env: []string{"PATH=/nonexistent"}}, false)
	if err == nil || rep == nil || rep.ExitCode != 127 {
		t.Errorf("rep %+v, err %v; want exit 127 and an error", rep, err)
	}
}

func TestLookupUser(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\nbroken:x:y:z\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\napp:x:1000:\nstaff:x:50:app,other\nweb:x:33:\n"), 0o644)
	for _, tc := range []struct {
		spec string
		want credential
		err  bool
	}{
		{"app", credential{1000, 1000, []uint32{1000, 50}, "/home/app"}, false},
		{"1000", credential{1000, 1000, []uint32{1000, 50}, "/home/app"}, false},
		{"app:web", credential{1000, 33, []uint32{33}, "/home/app"}, false},
		{"app:77", credential{1000, 77, []uint32{77}, "/home/app"}, false},
		{"4242", credential{4242, 4242, []uint32{4242}, "/"}, false},
		{"0", credential{0, 0, []uint32{0}, "/root"}, false},
		{"nobody-here", credential{}, true},
		{"app:nogroup", credential{}, true},
	} {
		got, err := lookupUser(root, tc.spec)
		if (err != nil) != tc.err {
			t.Errorf("%s: err %v", tc.spec, err)
			continue
		}
		if err == nil && !reflect.DeepEqual(*got, tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.spec, *got, tc.want)
		}
	}
}
