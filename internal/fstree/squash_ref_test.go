package fstree

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
	"math/rand/v2"
	"path"
	"slices"
	"strings"
	"testing"
)

// randomLayers builds n layers of random entries over a small set of names,
// so that paths collide: files and directories at the same path, entries
// under files, whiteouts and opaque markers of lower content, repeats
// within a layer.
func randomLayers(r *rand.Rand, n int) []*Layer {
	names := []string{"a", "b", "a-b", "a.b", "c"}
	types := []Type{Regular, Regular, Dir, Dir, Symlink, Hardlink, Whiteout, Opaque, FIFO}
	var out []*Layer
	for li := range n {
		l := &Layer{Index: li + 1}
		for range r.IntN(12) {
			p := "/"
			for range 1 + r.IntN(3) {
				p = path.Join(p, names[r.IntN(len(names))])
			}
			ty := types[r.IntN(len(types))]
			if r.IntN(30) == 0 {
				p = "/"
			}
			l.Add(withPath(&Entry{Type: ty, Size: int64(r.IntN(100))}, p))
		}
		out = append(out, l)
	}
	return out
}

func cloneLayers(ls []*Layer) []*Layer {
	var out []*Layer
	for _, l := range ls {
		c := &Layer{Index: l.Index}
		for _, e := range l.All() {
			c.Add(e)
		}
		out = append(out, c)
	}
	return out
}

func describe(ls []*Layer) string {
	s := ""
	for _, l := range ls {
		s += fmt.Sprintf("layer %d:", l.Index)
		for _, e := range l.All() {
			s += fmt.Sprintf(" %c%s", e.Type, e.Path())
		}
		s += "\n"
	}
	return s
}

// TestSquashMatchesReference checks the sorted squash against the
// map-based one it replaced, on many random images full of conflicts:
// the same fate for every entry, the same final entries in the same walk
// order, the same Lookup and Exists answers for every path and parent.
func TestSquashMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 20000 {
		spec := randomLayers(r, 1+r.IntN(4))
		got, want := cloneLayers(spec), cloneLayers(spec)
		if i%2 == 1 {
			// As a warm scan reads them: through the cache's encoding,
			// with the order it stores for a layer not in order.
			got = roundTrip(t, got)
		}
		gt, wt := Squash(got), refSquash(want)
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("case %d:\n%s"+format, append([]any{i, describe(spec)}, args...)...)
		}
		paths := map[string]bool{"/": true}
		for li, l := range got {
			for ei, e := range l.All() {
				w := want[li].At(ei)
				if e.RemovedIn() != w.RemovedIn() || e.OverwrittenIn() != w.OverwrittenIn() || e.Layer != w.Layer {
					fail("layer %d entry %d %c%s: removed %d overwritten %d layer %d; want %d %d %d",
						l.Index, ei, e.Type, e.Path(), e.RemovedIn(), e.OverwrittenIn(), e.Layer, w.RemovedIn(), w.OverwrittenIn(), w.Layer)
				}
				for p := e.Path(); ; p = path.Dir(p) {
					paths[p] = true
					paths[p+"x"] = true
					if p == "/" {
						break
					}
				}
			}
		}
		var gw, ww []string
		gt.Walk(func(e *Entry) error { gw = append(gw, fmt.Sprintf("%c%s@%d", e.Type, e.Path(), e.Layer)); return nil })
		wt.Walk(func(e *Entry) error { ww = append(ww, fmt.Sprintf("%c%s@%d", e.Type, e.Path(), e.Layer)); return nil })
		if !slices.Equal(gw, ww) {
			fail("walk %v\nwant %v", gw, ww)
		}
		for p := range paths {
			if g, w := gt.Exists(p), wt.Exists(p); g != w {
				fail("Exists(%s) = %v, want %v", p, g, w)
			}
			g, w := gt.Lookup(p), wt.Lookup(p)
			if (g == nil) != (w == nil) || (g != nil && (g.Path() != w.Path() || g.Layer != w.Layer || g.Type != w.Type)) {
				fail("Lookup(%s) = %+v, want %+v", p, g, w)
			}
		}
	}
}

func TestComparePaths(t *testing.T) {
	sorted := []string{"/", "/a", "/a/b", "/a/b/c", "/a/c", "/a\x00", "/a-b", "/a.b", "/ab", "/b"}
	for i, a := range sorted {
		for j, b := range sorted {
			if got, want := ComparePaths(a, b), cmp.Compare(i, j); got != want {
				t.Errorf("ComparePaths(%q, %q) = %d, want %d", a, b, got, want)
			}
		}
	}
}

// comparePathsByComponent is ComparePaths' definition, the reference for
// FuzzComparePaths: paths compared component by component, each component
// byte-wise.
func comparePathsByComponent(a, b string) int {
	return slices.Compare(strings.Split(a, "/"), strings.Split(b, "/"))
}

func FuzzComparePaths(f *testing.F) {
	for _, s := range [][2]string{
		{"/usr/share/doc/pkg/copyright", "/usr/share/doc/pkg-2/copyright"},
		{"/usr/share/synth/d0000/file-0000001.txt", "/usr/share/synth/d0000/file-0000010.txt"},
		{"/0123456789abcdef/x", "/0123456789abcdef"},
		{"/0123456789abcdef0123456789abcde/a", "/0123456789abcdef0123456789abcde-a"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if got, want := ComparePaths(a, b), comparePathsByComponent(a, b); got != want {
			t.Errorf("ComparePaths(%q, %q) = %d, want %d", a, b, got, want)
		}
	})
}

// roundTrip returns ls encoded and read back, as the layer cache does.
func roundTrip(t testing.TB, ls []*Layer) []*Layer {
	t.Helper()
	out := make([]*Layer, len(ls))
	for k, l := range ls {
		var b bytes.Buffer
		if err := WriteLayer(bufio.NewWriter(&b), l); err != nil {
			t.Fatal(err)
		}
		rl, err := ReadLayer(bufio.NewReader(&b), l.Index)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = rl
	}
	return out
}
