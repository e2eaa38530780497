package fstree

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"
	"unsafe"
)

func encode(t testing.TB, entries []*Entry) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := WriteLayer(bufio.NewWriter(&b), NewLayer(1, entries...)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func withLink(e *Entry, target string) *Entry { e.SetLinkname(target); return e }
func withCap(e *Entry, c []byte) *Entry       { e.SetCapability(c); return e }
func withMode(e *Entry, m fs.FileMode) *Entry { e.SetMode(m); return e }

// view is what an entry says, field by field, for comparing entries
// whose paths are stored apart.
type view struct {
	Path, Name, Dir, Linkname string
	Size                      int64
	UID, GID                  uint32
	Mode                      fs.FileMode
	Layer, RemovedIn, Overwr  uint16
	Type                      Type
	Capability                []byte
}

func views(es []*Entry) []view {
	var vs []view
	for _, e := range es {
		vs = append(vs, view{e.Path(), e.Name(), e.Dir(), e.Linkname(), e.Size, e.UID, e.GID, e.Mode(), e.Layer, e.RemovedIn(), e.OverwrittenIn(), e.Type, e.Capability()})
	}
	return vs
}

func withPath(e *Entry, p string) *Entry { e.SetPath(p); return e }

func TestCodecRoundTrip(t *testing.T) {
	for _, tt := range []struct {
		name    string
		entries []*Entry
	}{
		{"empty", []*Entry{}},
		{"tree", []*Entry{
			withMode(withPath(&Entry{Type: Dir}, "/"), 0o755|fs.ModeDir),
			withMode(withPath(&Entry{Type: Dir}, "/etc"), 0o755),
			withMode(withPath(&Entry{Type: Regular, Size: 1234, UID: 0, GID: 42}, "/etc/passwd"), 0o644),
			withLink(withPath(&Entry{Type: Hardlink, Size: 1234}, "/etc/passwd-"), "/etc/passwd"),
			withCap(withMode(withPath(&Entry{Type: Regular, Size: 1 << 40}, "/bin/ping"), 0o755|fs.ModeSetuid), []byte{1, 0, 0, 2, 0x20}),
			withLink(withPath(&Entry{Type: Symlink, UID: 1 << 30, GID: 1<<32 - 1}, "/lib"), "usr/lib"),
			withPath(&Entry{Type: Opaque}, "/var/cache"),
			withPath(&Entry{Type: Whiteout}, "/var/cache/x"),
			withPath(&Entry{Type: Regular}, "/\xff\xfe"),
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readEntries(bufio.NewReader(bytes.NewReader(encode(t, tt.entries))), 3)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range tt.entries {
				e.Layer = 3
			}
			if g, w := views(got), views(tt.entries); !reflect.DeepEqual(g, w) {
				t.Errorf("got %+v, want %+v", g, w)
			}
		})
	}
}

func TestCodecDamaged(t *testing.T) {
	b := encode(t, []*Entry{withPath(&Entry{Type: Regular, Size: 3}, "/a/b"), withLink(withPath(&Entry{Type: Symlink}, "/a/c"), "b")})
	for i := range len(b) {
		if _, err := readEntries(bufio.NewReader(bytes.NewReader(b[:i])), 1); err == nil {
			t.Errorf("truncated to %d bytes: no error", i)
		}
	}
	for _, bad := range [][]byte{
		{1, 9, 1, 'x'},                       // shares 9 bytes of an empty previous path
		{1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, // a 4 GB path
		{0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // too many entries
	} {
		if _, err := readEntries(bufio.NewReader(bytes.NewReader(bad)), 1); err == nil {
			t.Errorf("%x: no error", bad)
		}
	}
}

// TestCodecOrder: the order a layer not in order is stored with is read
// back; one that is not a permutation of the entries' places is refused,
// and a permutation that does not sort them (a foreign or damaged
// encoder) is checked and not used by Squash.
func TestCodecOrder(t *testing.T) {
	entries := []*Entry{
		withPath(&Entry{Type: Dir}, "/a"),
		withPath(&Entry{Type: Regular}, "/a.b"),
		withPath(&Entry{Type: Dir}, "/a/b"),
		withPath(&Entry{Type: Regular}, "/a/b/c"),
		withPath(&Entry{Type: Whiteout}, "/a/b"),
	}
	b := encode(t, entries)
	l, err := ReadLayer(bufio.NewReader(bytes.NewReader(b)), 1)
	if err != nil {
		t.Fatal(err)
	}
	// /a, /a/b (whiteout, then dir), /a/b/c, /a.b
	if want := []uint32{0, 4, 2, 3, 1}; !slices.Equal(l.order, want) {
		t.Fatalf("order %v, want %v", l.order, want)
	}
	// The order section: its count and five steps of one byte each.
	body := b[:len(b)-6]
	if !bytes.Equal(b[len(b)-6:], []byte{5, 0, 6, 5, 0, 5}) { // steps 0, +3, -3, 0, -3
		t.Fatalf("order section %x", b[len(b)-6:])
	}
	for _, bad := range [][]byte{
		{4, 0, 6, 5, 0},       // 4 places for 5 entries
		{5, 0, 6, 5, 0, 2},    // place 5 of 5
		{5, 0, 6, 5, 0, 9},    // place -1
		{5, 0, 6, 5, 0, 1},    // place 3 twice
		{5, 0, 6, 5, 0, 7},    // place 0 twice
		{5, 0, 6},             // truncated
		{5, 0, 6, 5, 0, 0x80}, // truncated within a varint
	} {
		if _, err := readEntries(bufio.NewReader(bytes.NewReader(append(slices.Clip(body), bad...))), 1); err == nil {
			t.Errorf("order %x: no error", bad)
		}
	}
	if _, err := readEntries(bufio.NewReader(bytes.NewReader(append(slices.Clip(body), 5, 0, 6, 5, 0, 5))), 1); err != nil {
		t.Fatalf("the order as written: %v", err)
	}
	// A permutation that does not sort the layer: Squash sorts it itself.
	l.order = []uint32{4, 3, 2, 1, 0}
	got := Squash([]*Layer{l})
	want := Squash([]*Layer{NewLayer(1, entries...)})
	var gw, ww []string
	got.Walk(func(e *Entry) error { gw = append(gw, fmt.Sprintf("%c%s", e.Type, e.Path())); return nil })
	want.Walk(func(e *Entry) error { ww = append(ww, fmt.Sprintf("%c%s", e.Type, e.Path())); return nil })
	if len(ww) == 0 {
		t.Fatal("nothing to compare")
	}
	if !slices.Equal(gw, ww) {
		t.Errorf("squash with a wrong order: %v, want %v", gw, ww)
	}
}

// FuzzReadEntries checks that any input is read back or refused, never a
// panic, and that what is read back encodes to the same entries.
func FuzzReadEntries(f *testing.F) {
	f.Add(encode(f, []*Entry{withPath(&Entry{Type: Dir}, "/a"), withCap(withPath(&Entry{Type: Regular, Size: 7}, "/a/b"), []byte{1})}))
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := readEntries(bufio.NewReader(bytes.NewReader(b)), 1)
		if err != nil {
			return
		}
		again, err := readEntries(bufio.NewReader(bytes.NewReader(encode(t, got))), 1)
		if err != nil || !reflect.DeepEqual(again, got) {
			t.Fatalf("re-read: %v", err)
		}
	})
}

// TestEntrySize keeps Entry at 40 bytes on 64-bit platforms: an image can
// hold millions.
func TestEntrySize(t *testing.T) {
	if s := unsafe.Sizeof(Entry{}); unsafe.Sizeof(uintptr(0)) == 8 && s > 40 {
		t.Errorf("Entry is %d bytes, want at most 40", s)
	}
}

// TestReadLayerSorted: the order ReadLayer learns while decoding is the
// one Squash would check, on random layers whose paths share prefixes,
// differ at '/', repeat, and mix entries with whiteouts and opaque markers
// at the same paths; half of them are sorted first, so both answers are
// exercised.
func TestReadLayerSorted(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	names := []string{"/a", "/a/b", "/a-b", "/a/b/c", "/a.b", "/ab", "/b", "/a/b-c", "/"}
	types := []Type{Regular, Dir, Whiteout, Opaque, Symlink}
	seen := map[bool]int{}
	for range 5000 {
		var entries []*Entry
		for range 1 + rng.IntN(6) {
			entries = append(entries, withPath(&Entry{Type: types[rng.IntN(len(types))]}, names[rng.IntN(len(names))]))
		}
		ix := newIndex([]*Layer{NewLayer(1, entries...)})
		refs := make([]ref, len(entries))
		for i := range refs {
			refs[i] = ref(i)
		}
		if rng.IntN(2) == 0 {
			slices.SortStableFunc(refs, ix.compare)
			sorted := make([]*Entry, len(refs))
			for i, r := range refs {
				sorted[i] = entries[r]
			}
			entries = sorted
			ix = newIndex([]*Layer{NewLayer(1, entries...)})
			for i := range refs {
				refs[i] = ref(i)
			}
		}
		want := slices.IsSortedFunc(refs, ix.compare)
		got, err := ReadLayer(bufio.NewReader(bytes.NewReader(encode(t, entries))), 1)
		if err != nil {
			t.Fatal(err)
		}
		if got.Sorted != want {
			var ps []string
			for _, e := range entries {
				ps = append(ps, string(e.Type)+e.Path())
			}
			t.Fatalf("ReadLayer(%q).Sorted = %v, want %v", ps, got.Sorted, want)
		}
		// A layer not in order comes with the order that sorts it.
		gix := newIndex([]*Layer{got})
		run := make([]ref, got.Len())
		if (got.order == nil) != want || (!want && !gix.ordered(0, run, got.order)) {
			t.Fatalf("ReadLayer: sorted %v, order %v does not sort the entries", want, got.order)
		}
		seen[want]++
	}
	if seen[true] == 0 || seen[false] == 0 {
		t.Fatalf("only one answer exercised: %v", seen)
	}
}

// readEntries is ReadLayer's entries.
func readEntries(r *bufio.Reader, layer int) ([]*Entry, error) {
	l, err := ReadLayer(r, layer)
	if err != nil {
		return nil, err
	}
	entries := []*Entry{}
	for _, e := range l.All() {
		entries = append(entries, e)
	}
	return entries, nil
}

// TestReadLayerAhead reads a layer big enough for its blocks to be made
// ahead: the same entries come back, and a count that lies costs a few
// blocks, not the count's worth, and leaves no goroutine behind.
func TestReadLayerAhead(t *testing.T) {
	entries := nested(100_000) // 100,100 entries: the last block is part full
	got, err := readEntries(bufio.NewReader(bytes.NewReader(encode(t, entries))), 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		e.Layer = 2
	}
	if g, w := views(got), views(entries); !reflect.DeepEqual(g, w) {
		t.Errorf("%d entries read back, %d written, or they differ", len(g), len(w))
	}

	b := encode(t, entries[:100])
	lying := append(binary.AppendUvarint(nil, 1<<30), b[1:]...) // b[0] is the count, 100
	before := runtime.NumGoroutine()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	if _, err := readEntries(bufio.NewReader(bytes.NewReader(lying)), 1); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("a count of 2^30 over 100 entries: %v, want unexpected EOF", err)
	}
	runtime.ReadMemStats(&m1)
	if n := m1.TotalAlloc - m0.TotalAlloc; n > 4<<20 {
		t.Errorf("a count that lies cost %d bytes", n)
	}
	for i := 0; runtime.NumGoroutine() > before; i++ {
		if i == 100 {
			t.Fatalf("%d goroutines after the read, %d before", runtime.NumGoroutine(), before)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
