package fstree

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"math"
	"path"
	"slices"
	"strings"
)

// Tree is the squashed, final filesystem of an image. It holds the final
// entries in path order and finds them by binary search: eight bytes per
// file on top of the entries themselves (the very array Squash sorted), where a tree of nodes and maps
// took ten times that on a layer of a million files.
type Tree struct {
	layers []*Layer
	ix     *index
	// final are the entries the final filesystem shows, sorted by
	// ComparePaths.
	final []ref
	// emptied are the directories that still exist, implied by entries a
	// later layer deleted, with nothing left in or under them (sorted).
	emptied []string
}

// ComparePaths orders paths the way a directory walk visits them: by
// component, each component byte-wise, so a directory's whole subtree
// comes right after it ("/a", "/a/b", "/a-c"). It returns -1, 0 or +1.
// That is byte order with '/' before every other byte.
func ComparePaths(a, b string) int { return compareJoined(a, "", b, "") }

// compareJoined is ComparePaths(a0+a1, b0+b1), without joining them: an
// entry's path is its directory's prefix and its name.
func compareJoined(a0, a1, b0, b1 string) int {
	for {
		if a0 == "" {
			a0, a1 = a1, ""
		}
		if b0 == "" {
			b0, b1 = b1, ""
		}
		if a0 == "" || b0 == "" {
			return cmp.Compare(len(a0), len(b0))
		}
		n := min(len(a0), len(b0))
		// Paths compared while sorting and searching share long prefixes
		// ("/usr/share/doc/..."): step over them 16 bytes at a time
		// (string equality is one memequal call), then byte by byte.
		i := 0
		for i+16 <= n && a0[i:i+16] == b0[i:i+16] {
			i += 16
		}
		for i < n && a0[i] == b0[i] {
			i++
		}
		switch {
		case i == n:
			a0, b0 = a0[n:], b0[n:]
		case a0[i] == '/':
			return -1
		case b0[i] == '/':
			return 1
		case a0[i] < b0[i]:
			return -1
		default:
			return 1
		}
	}
}

// compareEntries is ComparePaths of a's and b's paths.
func compareEntries(a, b *Entry) int {
	if a.dir == nil || b.dir == nil {
		return ComparePaths(a.Path(), b.Path())
	}
	if a.dir == b.dir || a.dir.prefix == b.dir.prefix {
		// A name holds no '/': byte order is path order.
		return strings.Compare(a.Name(), b.Name())
	}
	return compareJoined(a.dir.prefix, a.Name(), b.dir.prefix, b.Name())
}

// compareEntry is ComparePaths(e.Path(), p).
func compareEntry(e *Entry, p string) int {
	if e.dir == nil {
		return ComparePaths("", p)
	}
	return compareJoined(e.dir.prefix, e.Name(), p, "")
}

// under reports whether p is strictly inside directory dir.
func under[P string | []byte](p, dir P) bool {
	if string(dir) == "/" {
		return string(p) != "/"
	}
	return len(p) > len(dir) && p[len(dir)] == '/' && string(p[:len(dir)]) == string(dir)
}

// item is an entry with the time it acts (index.time).
type item struct {
	e *Entry
	t int64
	r ref
}

const never = math.MaxInt64

// fate is what ends an entry: the earliest event after it was put.
type fate struct {
	t       int64 // never: nothing did
	removed bool  // a whiteout or an opaque directory (else: overwritten)
}

func (f *fate) at(t int64, removed bool) {
	if t < f.t {
		f.t, f.removed = t, removed
	}
}

// frame is one directory level of the sweep: a path and what happened at
// it, in time order.
type frame struct {
	plen  int     // its path is the sweep's current path up to plen bytes
	puts  []item  // entries put at this path (not markers)
	fates []fate  // per put
	final []int   // per put: index in Tree.final, or -1
	wh    []int64 // whiteouts at this path
	opq   []int64 // opaque markers for this directory
	files []int64 // non-directories put here: they replace the subtree (not at the root)
	// del is the latest time this directory was deleted (by a whiteout of
	// it or of a parent, an opaque parent or a file put over a parent);
	// created the latest time an entry was put at or under it.
	del, created int64
	hasFinal     bool // a final entry at or under it
}

func (f *frame) reset(plen int) {
	f.plen = plen
	f.puts, f.fates, f.final = f.puts[:0], f.fates[:0], f.final[:0]
	f.wh, f.opq, f.files = f.wh[:0], f.opq[:0], f.files[:0]
	f.del, f.created, f.hasFinal = -1, -1, false
}

// next returns the first time in ts (sorted) after t, or never.
func next(ts []int64, t int64) int64 {
	if i, _ := slices.BinarySearch(ts, t+1); i < len(ts) {
		return ts[i]
	}
	return never
}

func lastOf(ts []int64) int64 {
	if len(ts) == 0 {
		return -1
	}
	return ts[len(ts)-1]
}

// Squash applies the layers in order and returns the final filesystem. It
// sets RemovedIn and OverwrittenIn on the entries that later layers delete
// or replace. Layers must be given bottom first; their Index fields must be
// 1-based and increasing.
//
// The result is what applying the layers one entry at a time would give
// (whiteouts and opaque markers of a layer first, then its entries in
// archive order): every entry's fate is the earliest later event that ends
// it — the same path put again, a whiteout of it or of a parent, an opaque
// parent, a non-directory put over a parent, or, for a non-directory,
// anything put under it. All entries are sorted by path once and swept
// with a stack of the current directory's parents, so each event is found
// among the few parents that have one.
func Squash(layers []*Layer) *Tree {
	t := &Tree{layers: layers}
	ix := newIndex(layers)
	t.ix = ix
	refs := ix.sorted()
	// The final entries are written over the sorted refs as they are
	// read: at most one final entry per ref read, in the same order.
	t.final = refs[:0]
	s := sweep{t: t, cur: []byte{'/'}}
	s.push(1)
	var g []item
	for i := 0; i < len(refs); {
		first := ix.entry(refs[i])
		g = g[:0]
		for ; i < len(refs) && samePath(ix.entry(refs[i]), first); i++ {
			g = append(g, item{ix.entry(refs[i]), ix.time(refs[i]), refs[i]})
		}
		s.group(g)
	}
	for len(s.stack) > 0 {
		s.pop()
	}
	t.final = slices.DeleteFunc(t.final, func(r ref) bool { return r == replaced })
	slices.SortFunc(t.emptied, ComparePaths)
	return t
}

// ref names an entry by its place among the blocks of entries of all
// layers (Layer keeps its entries in blocks of 1 << blockBits): its
// block's number, counted across the layers, then its place in the
// block. Four bytes, where a pointer and a time take sixteen, for the one
// sort of every entry of the image and the final tree kept from it. An
// image's index can so hold 4G entries, far above the walk's limits.
type ref uint32

// replaced marks a final entry a later entry replaced, in Tree.final
// while Squash runs.
const replaced = ^ref(0)

// index finds the entries refs name.
type index struct {
	layers []*Layer
	first  []ref    // per layer: the number of its first block
	owner  []uint16 // per block: its layer's position in layers
}

func newIndex(layers []*Layer) *index {
	ix := &index{layers: layers, first: make([]ref, len(layers))}
	for k, l := range layers {
		ix.first[k] = ref(len(ix.owner))
		for range l.blocks {
			ix.owner = append(ix.owner, uint16(k))
		}
	}
	return ix
}

// ref returns the ref of entry i of the layer at position k.
func (ix *index) ref(k, i int) ref { return ix.first[k]<<blockBits + ref(i) }

// at returns the position of r's layer and its place in the layer.
func (ix *index) at(r ref) (k, i int) {
	k = int(ix.owner[r>>blockBits])
	return k, int(r - ix.first[k]<<blockBits)
}

func (ix *index) entry(r ref) *Entry {
	k := ix.owner[r>>blockBits]
	return &ix.layers[k].blocks[r>>blockBits-ix.first[k]][r&(1<<blockBits-1)]
}

// time is when an entry acts: its layer's Index in the high half, its
// place in the archive (from 1) in the low half. Whiteouts and opaque
// markers act at place 0, before every entry of their layer: they delete
// from the layers below only.
func (ix *index) time(r ref) int64 {
	k, i := ix.at(r)
	t := int64(ix.layers[k].Index) << 32
	if e := ix.entry(r); e.Type != Whiteout && e.Type != Opaque {
		t |= int64(i) + 1
	}
	return t
}

func (ix *index) compare(a, b ref) int {
	if c := compareEntries(ix.entry(a), ix.entry(b)); c != 0 {
		return c
	}
	return cmp.Compare(ix.time(a), ix.time(b))
}

// sorted returns a ref to every entry of every layer, sorted by path then
// time. A layer is sorted on its own (archives are mostly in walk order
// already), then the layers are merged pairwise.
func (ix *index) sorted() []ref {
	var runs [][]ref
	total := 0
	for _, l := range ix.layers {
		total += l.Len()
	}
	all := make([]ref, 0, total)
	for k, l := range ix.layers {
		start := len(all)
		for i, e := range l.All() {
			e.Layer = uint16(l.Index)
			e.end(0, false)
			all = append(all, ix.ref(k, i))
		}
		run := all[start:]
		if !l.Sorted && !ix.ordered(k, run, l.order) && !slices.IsSortedFunc(run, ix.compare) {
			slices.SortFunc(run, ix.compare)
		}
		if len(run) > 0 {
			runs = append(runs, run)
		}
	}
	for len(runs) > 1 {
		merged := make([]ref, 0, total)
		var next [][]ref
		for i := 0; i < len(runs); i += 2 {
			start := len(merged)
			if i+1 == len(runs) {
				merged = append(merged, runs[i]...)
				next = append(next, merged[start:])
				continue
			}
			a, b := runs[i], runs[i+1]
			for len(a) > 0 && len(b) > 0 {
				if ix.compare(a[0], b[0]) <= 0 {
					merged, a = append(merged, a[0]), a[1:]
				} else {
					merged, b = append(merged, b[0]), b[1:]
				}
			}
			merged = append(append(merged, a...), b...)
			next = append(next, merged[start:])
		}
		runs = next
	}
	if len(runs) == 0 {
		return nil
	}
	return runs[0]
}

// ordered puts run, the refs of the layer at position k in archive order,
// in the order the cache stored for it and reports whether that sorts
// them (one comparison per entry, where sorting takes a dozen); if not,
// run is left as it was.
func (ix *index) ordered(k int, run []ref, order []uint32) bool {
	if len(order) != len(run) {
		return false
	}
	for j, i := range order {
		run[j] = ix.ref(k, int(i))
	}
	if slices.IsSortedFunc(run, ix.compare) {
		return true
	}
	for i := range run {
		run[i] = ix.ref(k, i)
	}
	return false
}

// sweep walks the sorted entries with the stack of the current path's
// parents.
type sweep struct {
	t *Tree
	// cur is the path of the frame on top of the stack: every frame's
	// path is a prefix of it, so frames keep only their length and no
	// path is built as a string but the emptied directories'.
	cur   []byte
	next  []byte // the next group's path
	stack []*frame
	pool  []*frame // frames reused by depth
	// eventful are the frames on the stack with a whiteout, an opaque
	// marker or a non-directory, bottom first: only they can end an entry
	// under them, so an entry looks at these few, not at every parent.
	eventful []*frame
	// withFiles are the frames on the stack with a non-directory put.
	withFiles []*frame
}

// popIf returns fs without f, if f is on top.
func popIf(fs []*frame, f *frame) []*frame {
	if n := len(fs); n > 0 && fs[n-1] == f {
		return fs[:n-1]
	}
	return fs
}

// push puts a frame for the current path's first plen bytes on the stack.
func (s *sweep) push(plen int) *frame {
	d := len(s.stack)
	if d == len(s.pool) {
		s.pool = append(s.pool, &frame{})
	}
	f := s.pool[d]
	f.reset(plen)
	if d > 0 {
		parent := s.stack[d-1]
		// The root's files are not recorded: a root entry never replaces
		// the tree under it.
		f.del = max(parent.del, lastOf(parent.opq), lastOf(parent.files))
	}
	s.stack = append(s.stack, f)
	return f
}

func (s *sweep) pop() {
	d := len(s.stack) - 1
	f := s.stack[d]
	s.stack = s.stack[:d]
	s.eventful = popIf(s.eventful, f)
	s.withFiles = popIf(s.withFiles, f)
	for i, it := range f.puts {
		ft := f.fates[i]
		if ft.t == never {
			f.hasFinal = true
			continue
		}
		it.e.end(uint16(ft.t>>32), ft.removed)
		if f.final[i] >= 0 {
			s.t.final[f.final[i]] = replaced // a later entry under it did
		}
	}
	if d == 0 {
		return
	}
	parent := s.stack[d-1]
	parent.created = max(parent.created, f.created)
	parent.hasFinal = parent.hasFinal || f.hasFinal
	if f.created > f.del && !f.hasFinal {
		s.t.emptied = append(s.t.emptied, string(s.cur[:f.plen]))
	}
}

// holds reports whether p is under the path of f, a frame on the stack
// (the root's is "/" whatever the current path begins with).
func (s *sweep) holds(f *frame, p []byte) bool {
	if f == s.stack[0] {
		return string(p) != "/"
	}
	return under(p, s.cur[:f.plen])
}

// group handles all entries at one path, in time order.
func (s *sweep) group(g []item) {
	s.next = g[0].e.AppendPath(s.next[:0])
	p := s.next
	root := string(p) == "/"
	var f *frame
	if root {
		f = s.stack[0]
	} else {
		for top := s.stack[len(s.stack)-1]; !s.holds(top, p); top = s.stack[len(s.stack)-1] {
			s.pop()
		}
		// The frames left are p's parents: p becomes the current path.
		s.cur = append(s.cur[:0], p...)
		// Directories implied between the nearest parent on the stack and p.
		for top := s.stack[len(s.stack)-1].plen; ; {
			rest := p[top:]
			if len(s.stack) > 1 { // past the parent's path and its slash
				rest = rest[1:]
			}
			slash := bytes.IndexByte(rest, '/')
			if slash < 0 {
				break
			}
			top = len(p) - len(rest) + slash
			s.push(top)
		}
		f = s.push(len(p))
	}
	for _, it := range g {
		switch it.e.Type {
		case Whiteout:
			if !root {
				f.wh = append(f.wh, it.t)
				f.del = max(f.del, it.t)
			}
		case Opaque:
			f.opq = append(f.opq, it.t)
		default:
			f.puts = append(f.puts, it)
			f.created = max(f.created, it.t)
			if it.e.Type != Dir && !root {
				f.files = append(f.files, it.t)
			}
		}
	}
	// A path's entries are one group: its frame gains its events here,
	// once.
	if len(f.wh) > 0 || len(f.opq) > 0 || len(f.files) > 0 {
		s.eventful = append(s.eventful, f)
	}
	if len(f.files) > 0 {
		s.withFiles = append(s.withFiles, f)
	}
	eventful, withFiles := popIf(s.eventful, f), popIf(s.withFiles, f) // the parents'
	for i, it := range f.puts {
		ft := fate{t: never}
		if i+1 < len(f.puts) {
			ft.at(f.puts[i+1].t, false) // the same path put again
		}
		ft.at(next(f.wh, it.t), true)
		for _, a := range eventful {
			ft.at(next(a.wh, it.t), true)
			ft.at(next(a.opq, it.t), true)
			ft.at(next(a.files, it.t), false)
		}
		// A put under a non-directory replaces it with a directory.
		for _, a := range withFiles {
			k, _ := slices.BinarySearchFunc(a.puts, it.t, func(x item, t int64) int { return cmp.Compare(x.t, t) })
			if k--; k >= 0 && a.puts[k].e.Type != Dir {
				a.fates[k].at(it.t, false)
			}
		}
		f.fates = append(f.fates, ft)
		at := -1
		if ft.t == never {
			at = len(s.t.final)
			s.t.final = append(s.t.final, it.r)
		}
		f.final = append(f.final, at)
	}
}

func (t *Tree) search(p string) (int, bool) {
	return slices.BinarySearchFunc(t.final, p, func(r ref, p string) int { return compareEntry(t.at(r), p) })
}

// at returns the entry r names.
func (t *Tree) at(r ref) *Entry { return t.ix.entry(r) }

// Layers returns the per-layer indexes the tree was built from.
func (t *Tree) Layers() []*Layer { return t.layers }

// Lookup returns the final entry at p, without following symlinks. It
// returns nil when nothing is there or only an implied directory is.
func (t *Tree) Lookup(p string) *Entry {
	if i, ok := t.search(path.Clean("/" + p)); ok {
		return t.at(t.final[i])
	}
	return nil
}

// Exists reports whether p exists in the final filesystem (as an entry or as
// an implied directory), without following symlinks.
func (t *Tree) Exists(p string) bool {
	p = path.Clean("/" + p)
	if p == "/" {
		return true
	}
	i, ok := t.search(p)
	if ok || (i < len(t.final) && under(t.at(t.final[i]).Path(), p)) {
		return true
	}
	j, ok := slices.BinarySearchFunc(t.emptied, p, ComparePaths)
	return ok || (j < len(t.emptied) && under(t.emptied[j], p))
}

// ErrLinkLoop is returned when resolving a path meets too many symlinks.
var ErrLinkLoop = errors.New("too many levels of symbolic links")

// maxLinks bounds symlink resolution, as Linux's ELOOP does.
const maxLinks = 40

// Resolve follows symlinks in p (in every component) inside the image
// root, never outside it: ".." at the root stays at the root and absolute
// link targets are taken relative to the root. It returns the resolved path
// and its entry (nil if it does not exist).
func (t *Tree) Resolve(p string) (string, *Entry, error) {
	links := 0
	var walk func(p string) (string, error)
	walk = func(p string) (string, error) {
		cur := "/"
		rest := strings.Split(strings.TrimPrefix(path.Clean("/"+p), "/"), "/")
		for i := 0; i < len(rest); i++ {
			part := rest[i]
			if part == "" || part == "." {
				continue
			}
			if part == ".." {
				cur = path.Dir(cur)
				continue
			}
			next := path.Join(cur, part)
			e := t.Lookup(next)
			if e != nil && e.Type == Symlink {
				links++
				if links > maxLinks {
					return "", fmt.Errorf("resolve %s: %w", Display(p), ErrLinkLoop)
				}
				target := e.Linkname()
				if !strings.HasPrefix(target, "/") {
					target = path.Join(cur, target)
				}
				resolved, err := walk(target)
				if err != nil {
					return "", err
				}
				cur = resolved
				continue
			}
			cur = next
		}
		return cur, nil
	}
	r, err := walk(p)
	if err != nil {
		return "", nil, err
	}
	return r, t.Lookup(r), nil
}

// Walk calls fn for every final entry in path order (ComparePaths).
func (t *Tree) Walk(fn func(e *Entry) error) error { return t.WalkRange(0, t.Len(), fn) }

// WalkRange calls fn, in path order, for the final entries lo (counted
// from 0) up to but not including hi, so that parts of the tree can be
// walked in parallel. The bounds are clamped to [0, Len()].
func (t *Tree) WalkRange(lo, hi int, fn func(e *Entry) error) error {
	hi = max(min(hi, len(t.final)), 0)
	for _, r := range t.final[min(max(lo, 0), hi):hi] {
		if err := fn(t.at(r)); err != nil {
			return err
		}
	}
	return nil
}

// Len is the number of final entries.
func (t *Tree) Len() int { return len(t.final) }
