package fstree

// The map-based squash that fstree used before the sorted one: kept as the
// oracle of TestSquashMatchesReference, which must agree with it entry by
// entry on every fate, every final path and every Exists answer.

import (
	"path"
	"sort"
	"strings"
)

// refTree is the squashed, final filesystem of an image.
type refTree struct {
	root   *rnode
	layers []*Layer
}

type rnode struct {
	entry    *Entry // nil for a directory implied by its children
	children map[string]*rnode
}

func (n *rnode) child(name string, create bool) *rnode {
	c := n.children[name]
	if c == nil && create {
		if n.children == nil {
			n.children = map[string]*rnode{}
		}
		c = &rnode{}
		n.children[name] = c
	}
	return c
}

// Squash applies the layers in order and returns the final filesystem. It
// sets RemovedIn and OverwrittenIn on the entries that later layers delete
// or replace. Layers must be given bottom first; their Index fields must be
// 1-based and increasing.
func refSquash(layers []*Layer) *refTree {
	t := &refTree{root: &rnode{}, layers: layers}
	for _, l := range layers {
		// Opaque markers and whiteouts act on lower layers only, so apply
		// them before this layer's own entries.
		for _, e := range l.All() {
			e.Layer = uint16(l.Index)
			switch e.Type {
			case Opaque:
				if n := t.find(e.Path()); n != nil {
					for _, c := range n.children {
						refMarkRemoved(c, uint16(l.Index))
					}
					n.children = nil
				}
			case Whiteout:
				if e.Path() == "/" {
					continue // never delete the root; the walker warns
				}
				dir, name := path.Split(e.Path())
				if p := t.find(path.Clean(dir)); p != nil {
					if c := p.children[name]; c != nil {
						refMarkRemoved(c, uint16(l.Index))
						delete(p.children, name)
					}
				}
			}
		}
		for _, e := range l.All() {
			if e.Type == Whiteout || e.Type == Opaque {
				continue
			}
			t.put(e, uint16(l.Index))
		}
	}
	return t
}

func refMarkRemoved(n *rnode, layer uint16) {
	if n.entry != nil && n.entry.ended == 0 {
		n.entry.end(layer, true)
	}
	for _, c := range n.children {
		refMarkRemoved(c, layer)
	}
}

func (t *refTree) put(e *Entry, layer uint16) {
	if e.Path() == "/" {
		if t.root.entry != nil && t.root.entry != e {
			t.root.entry.end(layer, false)
		}
		t.root.entry = e
		return
	}
	n := t.root
	// The components are walked without splitting the path: Squash runs
	// once per entry of the image, and the names are substrings of the
	// entry's path, so the tree costs no string of its own.
	rest := e.Path()[1:]
	for rest != "" {
		part, tail, more := strings.Cut(rest, "/")
		rest = tail
		last := !more
		c := n.child(part, true)
		if !last && c.entry != nil && c.entry.Type != Dir {
			// A file stood where this entry needs a directory: the
			// directory replaces it.
			c.entry.end(layer, false)
			c.entry = nil
		}
		n = c
	}
	if old := n.entry; old != nil && old != e {
		old.end(layer, false)
	}
	if e.Type != Dir {
		// A non-directory replaces a whole subtree.
		for _, c := range n.children {
			refMarkOverwritten(c, layer)
		}
		n.children = nil
	}
	n.entry = e
}

func refMarkOverwritten(n *rnode, layer uint16) {
	if n.entry != nil && n.entry.ended == 0 {
		n.entry.end(layer, false)
	}
	for _, c := range n.children {
		refMarkOverwritten(c, layer)
	}
}

func (t *refTree) find(p string) *rnode {
	if p == "/" || p == "" {
		return t.root
	}
	n := t.root
	rest := strings.TrimPrefix(p, "/")
	for {
		part, tail, more := strings.Cut(rest, "/")
		if n = n.children[part]; n == nil {
			return nil
		}
		if !more {
			return n
		}
		rest = tail
	}
}

// Lookup returns the final entry at p, without following symlinks. It
// returns nil when nothing is there or only an implied directory is.
func (t *refTree) Lookup(p string) *Entry {
	n := t.find(path.Clean("/" + p))
	if n == nil {
		return nil
	}
	return n.entry
}

// Exists reports whether p exists in the final filesystem (as an entry or as
// an implied directory), without following symlinks.
func (t *refTree) Exists(p string) bool { return t.find(path.Clean("/"+p)) != nil }

// Walk calls fn for every final entry in path order.
func (t *refTree) Walk(fn func(e *Entry) error) error {
	var rec func(n *rnode) error
	rec = func(n *rnode) error {
		if n.entry != nil {
			if err := fn(n.entry); err != nil {
				return err
			}
		}
		names := make([]string, 0, len(n.children))
		for name := range n.children {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			if err := rec(n.children[name]); err != nil {
				return err
			}
		}
		return nil
	}
	return rec(t.root)
}
