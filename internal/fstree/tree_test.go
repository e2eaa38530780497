package fstree

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
)

func reg(p string, size int64) *Entry { return &Entry{path: p, Type: Regular, Size: size} }
func dir(p string) *Entry             { return &Entry{path: p, Type: Dir} }
func wh(p string) *Entry              { return &Entry{path: p, Type: Whiteout} }
func opq(p string) *Entry             { return &Entry{path: p, Type: Opaque} }
func sym(p, target string) *Entry     { return withLink(&Entry{path: p, Type: Symlink}, target) }

func layers(ls ...[]*Entry) []*Layer {
	out, _ := layersOf(ls...)
	return out
}

// layersOf copies each list into a layer (numbered from 1) and maps each
// given entry to the layer's copy of it.
func layersOf(ls ...[]*Entry) ([]*Layer, map[*Entry]*Entry) {
	var out []*Layer
	copyOf := map[*Entry]*Entry{}
	for i, es := range ls {
		l := &Layer{Index: i + 1}
		for _, e := range es {
			copyOf[e] = l.Add(e)
		}
		out = append(out, l)
	}
	return out, copyOf
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

	ls, copyOf := layersOf(
		[]*Entry{dir("/app"), secret, keep, old, dir("/cache"), inOpaque, deepDel, fileThenDir, dir("/srv/d"), dirChild},
		[]*Entry{wh("/app/.env"), newer, opq("/cache"), reg("/cache/b", 2), wh("/tmp/build")},
		[]*Entry{dir("/opt/thing"), reg("/opt/thing/inner", 1), reg("/srv/d", 9)},
	)
	tr := Squash(ls)

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
			e := copyOf[tt.e]
			if e.RemovedIn() != tt.removed || e.OverwrittenIn() != tt.overwritten || e.InFinal() != tt.final {
				t.Errorf("%s: removedIn=%d overwrittenIn=%d final=%v; want %d %d %v",
					e.Path(), e.RemovedIn(), e.OverwrittenIn(), e.InFinal(), tt.removed, tt.overwritten, tt.final)
			}
		})
	}
	for p, want := range map[string]bool{"/app/.env": false, "/app/main": true, "/cache/a": false, "/cache/b": true, "/tmp/build": false, "/opt/thing/inner": true, "/srv/d/child": false} {
		if got := tr.Lookup(p) != nil; got != want {
			t.Errorf("Lookup(%s) present=%v, want %v", p, got, want)
		}
	}
	if e := tr.Lookup("/etc/conf"); e != copyOf[newer] {
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

func TestEntryMode(t *testing.T) {
	for _, tt := range []struct {
		typ  Type
		set  fs.FileMode
		want fs.FileMode
	}{
		{Regular, 0o644, 0o644},
		{Regular, 0o4755 | fs.ModeSetuid, 0o755 | fs.ModeSetuid},
		{Regular, 0o755 | fs.ModeSetuid | fs.ModeSetgid, 0o755 | fs.ModeSetuid | fs.ModeSetgid},
		{Dir, 0o777 | fs.ModeSticky | fs.ModeDir, 0o777 | fs.ModeSticky | fs.ModeDir},
		{Dir, 0o755, 0o755 | fs.ModeDir}, // the type bits come from Type
		{Symlink, 0o777 | fs.ModeSymlink, 0o777 | fs.ModeSymlink},
		{Char, 0o666, 0o666 | fs.ModeDevice | fs.ModeCharDevice},
		{Block, 0o660 | fs.ModeDevice, 0o660 | fs.ModeDevice},
		{FIFO, 0o644, 0o644 | fs.ModeNamedPipe},
		{Regular, 0o644 | fs.ModeDir, 0o644}, // a header's stray type bits are not kept
		{Hardlink, 0o2755 | fs.ModeSetgid, 0o755 | fs.ModeSetgid},
	} {
		e := &Entry{Type: tt.typ}
		e.SetMode(tt.set)
		if got := e.Mode(); got != tt.want {
			t.Errorf("%c: SetMode(%v).Mode() = %v, want %v", tt.typ, tt.set, got, tt.want)
		}
	}
	e := &Entry{Type: Regular}
	e.SetMode(0o755 | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	if got := e.UnixPerm(); got != 0o7755 {
		t.Errorf("UnixPerm = %#o, want 07755", got)
	}
}

func TestEntryFate(t *testing.T) {
	e := &Entry{Type: Regular}
	e.end(3, true)
	if e.RemovedIn() != 3 || e.OverwrittenIn() != 0 || e.InFinal() {
		t.Errorf("removed in 3: RemovedIn %d OverwrittenIn %d InFinal %v", e.RemovedIn(), e.OverwrittenIn(), e.InFinal())
	}
	e.end(4, false)
	if e.RemovedIn() != 0 || e.OverwrittenIn() != 4 || e.InFinal() {
		t.Errorf("overwritten in 4: RemovedIn %d OverwrittenIn %d InFinal %v", e.RemovedIn(), e.OverwrittenIn(), e.InFinal())
	}
	e.end(0, true)
	if e.RemovedIn() != 0 || e.OverwrittenIn() != 0 || !e.InFinal() {
		t.Errorf("cleared: RemovedIn %d OverwrittenIn %d InFinal %v", e.RemovedIn(), e.OverwrittenIn(), e.InFinal())
	}
}

// TestLayerStorage: entries keep their place and their address across
// blocks, and All yields each once, in order, stopping when told.
func TestLayerStorage(t *testing.T) {
	l := &Layer{Index: 1}
	const n = 3<<blockBits + 5
	var added []*Entry
	for i := range n {
		added = append(added, l.Add(&Entry{path: fmt.Sprintf("/f%d", i), Size: int64(i)}))
	}
	if l.Len() != n {
		t.Fatalf("Len = %d, want %d", l.Len(), n)
	}
	seen := 0
	for i, e := range l.All() {
		if i != seen || e != added[i] || e != l.At(i) || e.Size != int64(i) || e.Path() != fmt.Sprintf("/f%d", i) {
			t.Fatalf("All yielded %d: %+v (at %p), want entry %d at %p", i, e, e, seen, added[seen])
		}
		seen++
	}
	if seen != n {
		t.Fatalf("All yielded %d entries, want %d", seen, n)
	}
	stop := 0
	for range l.All() {
		if stop++; stop == 1<<blockBits+1 {
			break
		}
	}
	if stop != 1<<blockBits+1 {
		t.Errorf("All went on after break: %d", stop)
	}
	if empty := (&Layer{}); empty.Len() != 0 {
		t.Errorf("empty Len = %d", empty.Len())
	} else {
		for range empty.All() {
			t.Fatal("empty layer yielded an entry")
		}
	}
}
