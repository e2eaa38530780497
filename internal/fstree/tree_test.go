package fstree

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func reg(p string, size int64) *Entry { return &Entry{Path: p, Type: Regular, Size: size} }
func dir(p string) *Entry             { return &Entry{Path: p, Type: Dir} }
func wh(p string) *Entry              { return &Entry{Path: p, Type: Whiteout} }
func opq(p string) *Entry             { return &Entry{Path: p, Type: Opaque} }
func sym(p, target string) *Entry     { return withLink(&Entry{Path: p, Type: Symlink}, target) }

func layers(ls ...[]*Entry) []*Layer {
	var out []*Layer
	for i, es := range ls {
		out = append(out, &Layer{Index: i + 1, Entries: es})
	}
	return out
}

func TestSquashFates(t *testing.T) {
	secret := reg("/app/.env", 10)
	keep := reg("/app/main", 100)
	old := reg("/etc/conf", 5)
	newer := reg("/etc/conf", 6)
	inOpaque := reg("/cache/a", 1)
	deepDel := reg("/tmp/build/x/y", 7)
	fileThenDir := reg("/opt/thing", 3)
	dirChild := reg("/srv/d/child", 4)

	tr := Squash(layers(
		[]*Entry{dir("/app"), secret, keep, old, dir("/cache"), inOpaque, deepDel, fileThenDir, dir("/srv/d"), dirChild},
		[]*Entry{wh("/app/.env"), newer, opq("/cache"), reg("/cache/b", 2), wh("/tmp/build")},
		[]*Entry{dir("/opt/thing"), reg("/opt/thing/inner", 1), reg("/srv/d", 9)},
	))

	tests := []struct {
		name        string
		e           *Entry
		removed     uint16
		overwritten uint16
		final       bool
	}{
		{"whiteout deletes file", secret, 2, 0, false},
		{"untouched file stays", keep, 0, 0, true},
		{"overwritten file", old, 0, 2, false},
		{"overwriting file is final", newer, 0, 0, true},
		{"opaque dir hides lower content", inOpaque, 2, 0, false},
		{"whiteout of a dir deletes the subtree", deepDel, 2, 0, false},
		{"dir replaces a file", fileThenDir, 0, 3, false},
		{"file replaces a dir's subtree", dirChild, 0, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.e.RemovedIn != tt.removed || tt.e.OverwrittenIn != tt.overwritten || tt.e.InFinal() != tt.final {
				t.Errorf("%s: removedIn=%d overwrittenIn=%d final=%v; want %d %d %v",
					tt.e.Path, tt.e.RemovedIn, tt.e.OverwrittenIn, tt.e.InFinal(), tt.removed, tt.overwritten, tt.final)
			}
		})
	}
	for p, want := range map[string]bool{"/app/.env": false, "/app/main": true, "/cache/a": false, "/cache/b": true, "/tmp/build": false, "/opt/thing/inner": true, "/srv/d/child": false} {
		if got := tr.Lookup(p) != nil; got != want {
			t.Errorf("Lookup(%s) present=%v, want %v", p, got, want)
		}
	}
	if e := tr.Lookup("/etc/conf"); e != newer {
		t.Errorf("Lookup(/etc/conf) = %+v, want the layer-2 copy", e)
	}
}

func TestResolveStaysInRoot(t *testing.T) {
	tr := Squash(layers([]*Entry{
		dir("/etc"), reg("/etc/passwd", 10),
		sym("/escape", "../../../../etc/passwd"),
		sym("/abs", "/etc/passwd"),
		sym("/dirlink", "/etc"),
		sym("/loop1", "/loop2"), sym("/loop2", "/loop1"),
		sym("/dangling", "/nowhere"),
		sym("/etc/rel", "passwd"),
	}))
	tests := []struct {
		in, want string
		err      error
		exists   bool
	}{
		{"/escape", "/etc/passwd", nil, true},
		{"/abs", "/etc/passwd", nil, true},
		{"/dirlink/passwd", "/etc/passwd", nil, true},
		{"/etc/rel", "/etc/passwd", nil, true},
		{"/dangling", "/nowhere", nil, false},
		{"/loop1", "", ErrLinkLoop, false},
		{"/../../etc/passwd", "/etc/passwd", nil, true},
	}
	for _, tt := range tests {
		got, e, err := tr.Resolve(tt.in)
		if !errors.Is(err, tt.err) {
			t.Errorf("Resolve(%s) err = %v, want %v", tt.in, err, tt.err)
			continue
		}
		if got != tt.want || (e != nil) != tt.exists {
			t.Errorf("Resolve(%s) = %s (exists %v), want %s (exists %v)", tt.in, got, e != nil, tt.want, tt.exists)
		}
	}
}

func TestCleanPath(t *testing.T) {
	tests := []struct {
		in, want string
		escaped  bool
	}{
		{"etc/passwd", "/etc/passwd", false},
		{"./etc/passwd", "/etc/passwd", false},
		{"/etc/passwd", "/etc/passwd", true},
		{"../../etc/passwd", "/etc/passwd", true},
		{"a/../../b", "/b", true},
		{"a/b/../c", "/a/c", false},
		{"", "/", false},
	}
	for _, tt := range tests {
		got, esc := CleanPath(tt.in)
		if got != tt.want || esc != tt.escaped {
			t.Errorf("CleanPath(%q) = %q, %v; want %q, %v", tt.in, got, esc, tt.want, tt.escaped)
		}
	}
}

func TestDisplayKeepsInvalidBytes(t *testing.T) {
	if got := Display("/a\xffb/é"); got != `/a\xffb/é` {
		t.Errorf("Display = %q", got)
	}
}

func TestStringsPath(t *testing.T) {
	var s Strings
	names := []string{"etc/passwd", "./etc/passwd", "/etc/passwd", "../../etc/passwd", "a/b/../c", "", "usr/bin/", "./", ".", "a//b", "./a/./b", strings.Repeat("x", 5000)}
	var got []string
	for _, n := range names {
		p, esc := s.Path(n)
		wp, wesc := CleanPath(n)
		if p != wp || esc != wesc {
			t.Errorf("Path(%q) = %q, %v; want %q, %v", n, p, esc, wp, wesc)
		}
		got = append(got, p)
	}
	// Strings already handed out stay intact as the blocks fill.
	for i := range 20000 {
		s.Join("/dir/", []byte(fmt.Sprint(i)))
	}
	for i, n := range names {
		if wp, _ := CleanPath(n); got[i] != wp {
			t.Errorf("path %d changed to %q, want %q", i, got[i], wp)
		}
	}
}
