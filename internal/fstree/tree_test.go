package fstree

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"testing"
)

func reg(p string, size int64) *Entry { return withPath(&Entry{Type: Regular, Size: size}, p) }
func dir(p string) *Entry             { return withPath(&Entry{Type: Dir}, p) }
func wh(p string) *Entry              { return withPath(&Entry{Type: Whiteout}, p) }
func opq(p string) *Entry             { return withPath(&Entry{Type: Opaque}, p) }
func sym(p, target string) *Entry     { return withLink(withPath(&Entry{Type: Symlink}, p), target) }

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

func TestPathsMember(t *testing.T) {
	var ps Paths
	names := []string{"etc/passwd", "./etc/passwd", "/etc/passwd", "../../etc/passwd", "a/b/../c", "", "usr/bin/", "./", ".", "a//b", "./a/./b", "etc", "etc/" + strings.Repeat("x", 5000), "/\xff/\xfe"}
	var entries []*Entry
	for _, n := range names {
		e := &Entry{}
		esc := ps.Member(e, n)
		wp, wesc := CleanPath(n)
		if e.Path() != wp || esc != wesc {
			t.Errorf("Member(%q) = %q, %v; want %q, %v", n, e.Path(), esc, wp, wesc)
		}
		if e.Name() != path.Base(wp) && wp != "/" || e.Dir() != path.Dir(wp) {
			t.Errorf("Member(%q): Dir, Name = %q, %q; want %q, %q", n, e.Dir(), e.Name(), path.Dir(wp), path.Base(wp))
		}
		entries = append(entries, e)
	}
	// Names already stored stay intact as blocks fill and directories
	// move to new blocks; paths set from a reused buffer are copied.
	var buf []byte
	for i := range 20000 {
		e := &Entry{}
		buf = fmt.Appendf(buf[:0], "/dir%d/name-%d", i%7, i)
		ps.SetBytes(e, buf)
		entries = append(entries, e)
	}
	for i, n := range names {
		if wp, _ := CleanPath(n); entries[i].Path() != wp {
			t.Errorf("path %d changed to %q, want %q", i, entries[i].Path(), wp)
		}
	}
	for i, e := range entries[len(names):] {
		if want := fmt.Sprintf("/dir%d/name-%d", i%7, i); e.Path() != want {
			t.Fatalf("path %d is %q, want %q", i, e.Path(), want)
		}
	}
	// One directory is stored once per block of names, not once per entry.
	if a, b := entries[len(names)], entries[len(names)+7]; a.dir != b.dir {
		t.Errorf("entries of /dir0 do not share their directory")
	}
}

// TestPathsKeepBytes: a path that is not clean (a damaged cache file)
// reads back byte for byte.
func TestPathsKeepBytes(t *testing.T) {
	var ps Paths
	for _, p := range []string{"/", "/a", "/a/b", "//a", "/a//b", "/a/", "a/b", "a", "", "/a/b/", "//"} {
		e := &Entry{}
		ps.Set(e, p)
		if e.Path() != p {
			t.Errorf("Set(%q): Path = %q", p, e.Path())
		}
		e2 := &Entry{}
		ps.SetBytes(e2, []byte(p))
		if e2.Path() != p {
			t.Errorf("SetBytes(%q): Path = %q", p, e2.Path())
		}
		e3 := &Entry{}
		e3.SetPath(p)
		if e3.Path() != p || string(e3.AppendPath([]byte("x"))) != "x"+p {
			t.Errorf("SetPath(%q): Path = %q", p, e3.Path())
		}
	}
}

// TestPathsNoAllocs: an archive's names and a decoder's buffer are
// stored without building a string per entry.
func TestPathsNoAllocs(t *testing.T) {
	var ps Paths
	e := &Entry{}
	ps.Member(e, "./usr/share/doc/x")
	buf := []byte("/usr/share/doc/y")
	ps.SetBytes(e, buf)
	if n := testing.AllocsPerRun(1000, func() {
		ps.Member(e, "./usr/share/doc/z")
		ps.Member(e, "usr/share/doc/")
		ps.SetBytes(e, buf)
		ps.Set(e, "/usr/share/doc/w")
	}); n > 0.1 { // a new block of names every few thousand runs
		t.Errorf("%v allocations per run", n)
	}
	var es []*Entry
	for _, p := range []string{"/usr/share/doc/a", "/usr/share/doc/b", "/usr/share", "/"} {
		e := &Entry{}
		ps.Set(e, p)
		es = append(es, e)
	}
	if n := testing.AllocsPerRun(100, func() {
		for _, a := range es {
			for _, b := range es {
				compareEntries(a, b)
				samePath(a, b)
				a.HasPathPrefix("/usr/share/d")
				a.PathIs("/usr/share/doc/a")
			}
			_ = a.Name()
			_ = a.Dir()
		}
	}); n != 0 {
		t.Errorf("comparing entries: %v allocations per run", n)
	}
}

// TestSquashAllocs holds Squash to a number of allocations that does not
// grow with the entries: the sweep keeps the current path in one buffer,
// not a string per path (a million of them on a warm re-scan).
func TestSquashAllocs(t *testing.T) {
	small, big := NewLayer(1, nested(2_000)...), NewLayer(1, nested(20_000)...)
	a := testing.AllocsPerRun(3, func() { Squash([]*Layer{small}) })
	b := testing.AllocsPerRun(3, func() { Squash([]*Layer{big}) })
	if b > a+20 {
		t.Errorf("Squash allocates %v times for 2,000 files and %v for 20,000: a cost per entry", a, b)
	}
}

func TestPathPrefixAndIs(t *testing.T) {
	var ps Paths
	paths := []string{"/", "/etc", "/etc/passwd", "/etc/passwd-", "/usr/share/doc/x"}
	probes := []string{"", "/", "/e", "/etc", "/etc/", "/etc/p", "/etc/passwd", "/etc/passwd-", "/etc/passwd--", "/usr/share/", "/usr/share/doc/x", "/usr/share/doc/xy", "x"}
	for _, p := range paths {
		e := &Entry{}
		ps.Set(e, p)
		for _, q := range probes {
			if got, want := e.HasPathPrefix(q), strings.HasPrefix(p, q); got != want {
				t.Errorf("%q.HasPathPrefix(%q) = %v, want %v", p, q, got, want)
			}
			if got, want := e.PathIs(q), p == q; got != want {
				t.Errorf("%q.PathIs(%q) = %v, want %v", p, q, got, want)
			}
		}
	}
	var zero Entry
	if !zero.HasPathPrefix("") || zero.HasPathPrefix("/") || !zero.PathIs("") {
		t.Error("an entry without a path has the empty path")
	}
}

func TestCompareEntries(t *testing.T) {
	paths := []string{"/", "/a", "/a/b", "/a/b/c", "/a-c", "/a.b", "/a0", "/ab", "/b", "/usr/share/doc", "/usr/share/doc/x", "/usr/share/doc-base", "/usr/share/docs"}
	var ps Paths
	var es []*Entry
	for _, p := range paths {
		e := &Entry{}
		ps.Set(e, p)
		es = append(es, e)
	}
	for i, a := range es {
		for j, b := range es {
			want := ComparePaths(paths[i], paths[j])
			if got := compareEntries(a, b); got != want {
				t.Errorf("compareEntries(%q, %q) = %d, want %d", paths[i], paths[j], got, want)
			}
			if got := compareEntry(a, paths[j]); got != want {
				t.Errorf("compareEntry(%q, %q) = %d, want %d", paths[i], paths[j], got, want)
			}
			if got := samePath(a, b); got != (i == j) {
				t.Errorf("samePath(%q, %q) = %v", paths[i], paths[j], got)
			}
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
		added = append(added, l.Add(withPath(&Entry{Size: int64(i)}, fmt.Sprintf("/f%d", i))))
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

// TestEntryMore: link targets and capabilities are stored after the name
// (in place when the name was the last one stored, else in a block of the
// entry's own) and survive everything that moves a name.
func TestEntryMore(t *testing.T) {
	var ps Paths
	long := strings.Repeat("n", 70000)
	type want struct {
		path, link string
		c          []byte
	}
	var (
		entries []*Entry
		wants   []want
	)
	add := func(p, link string, c []byte) *Entry {
		e := &Entry{}
		ps.Member(e, p)
		ps.SetMore(e, link, c)
		entries = append(entries, e)
		wants = append(wants, want{"/" + strings.TrimPrefix(p, "./"), link, c})
		return e
	}
	a := add("./usr/lib/a", "b", nil)
	b := add("./usr/lib/b", "", []byte{1, 0, 0, 2})
	add("./usr/lib/c", "", nil)
	add("./usr/lib/d", strings.Repeat("t", 4000), []byte{9})
	add("usr/lib/"+long, "../x", []byte{7, 7})
	if a.dir != b.dir {
		t.Error("a link target moved its entry out of the shared block")
	}
	for i := range 5000 { // fill blocks after them
		add(fmt.Sprintf("usr/share/f%d", i), fmt.Sprint("target", i), nil)
	}
	root := &Entry{}
	ps.Member(root, "./")
	ps.SetMore(root, "", []byte{3})
	entries, wants = append(entries, root), append(wants, want{"/", "", []byte{3}})
	for i, e := range entries {
		w := wants[i]
		if e.Path() != w.path || e.Linkname() != w.link || string(e.Capability()) != string(w.c) {
			t.Fatalf("entry %d: %.40q %q %v, want %.40q %q %v", i, e.Path(), e.Linkname(), e.Capability(), w.path, w.link, w.c)
		}
	}
	// Moving the path keeps them; so does changing one of the two.
	ps.Set(a, "/etc/a")
	a.SetCapability([]byte{5})
	if a.Path() != "/etc/a" || a.Linkname() != "b" || string(a.Capability()) != "\x05" {
		t.Errorf("after Set and SetCapability: %q %q %v", a.Path(), a.Linkname(), a.Capability())
	}
	b.SetPath("/etc/b")
	b.SetLinkname("c")
	if b.Path() != "/etc/b" || b.Linkname() != "c" || string(b.Capability()) != "\x01\x00\x00\x02" {
		t.Errorf("after SetPath and SetLinkname: %q %q %v", b.Path(), b.Linkname(), b.Capability())
	}
	// The mode is set apart from them.
	b.SetMode(0o755 | fs.ModeSetuid)
	if b.Linkname() != "c" || b.UnixPerm() != 0o4755 || b.Mode() != 0o755|fs.ModeSetuid {
		t.Errorf("after SetMode: %q %o %v", b.Linkname(), b.UnixPerm(), b.Mode())
	}
	ps.SetMore(b, "", nil)
	if b.Path() != "/etc/b" || b.Linkname() != "" || b.Capability() != nil {
		t.Errorf("after clearing: %q %q %v", b.Path(), b.Linkname(), b.Capability())
	}
	var zero Entry
	zero.SetLinkname("x")
	if zero.Path() != "" || zero.Linkname() != "x" {
		t.Errorf("entry without a path: %q %q", zero.Path(), zero.Linkname())
	}
}

// TestWalkRange holds WalkRange to the slice of Walk's order it names,
// with its bounds clamped.
func TestWalkRange(t *testing.T) {
	tree := Squash([]*Layer{NewLayer(1, nested(50)...)})
	var all []string
	tree.Walk(func(e *Entry) error { all = append(all, e.Path()); return nil })
	if len(all) != tree.Len() || len(all) != 51 {
		t.Fatalf("Walk gave %d entries, Len %d", len(all), tree.Len())
	}
	for _, tt := range []struct{ lo, hi, from, to int }{
		{0, 51, 0, 51}, {10, 20, 10, 20}, {-5, 3, 0, 3}, {40, 100, 40, 51}, {20, 10, 10, 10}, {60, 70, 51, 51}, {-3, -1, 0, 0},
	} {
		var got []string
		tree.WalkRange(tt.lo, tt.hi, func(e *Entry) error { got = append(got, e.Path()); return nil })
		if !slices.Equal(got, all[tt.from:tt.to]) {
			t.Errorf("WalkRange(%d, %d) = %v, want entries %d to %d", tt.lo, tt.hi, got, tt.from, tt.to)
		}
	}
}
