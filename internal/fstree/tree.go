package fstree

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
)

// Tree is the squashed, final filesystem of an image.
type Tree struct {
	root   *node
	layers []*Layer
}

type node struct {
	entry    *Entry // nil for a directory implied by its children
	children map[string]*node
}

func (n *node) child(name string, create bool) *node {
	c := n.children[name]
	if c == nil && create {
		if n.children == nil {
			n.children = map[string]*node{}
		}
		c = &node{}
		n.children[name] = c
	}
	return c
}

// Squash applies the layers in order and returns the final filesystem. It
// sets RemovedIn and OverwrittenIn on the entries that later layers delete
// or replace. Layers must be given bottom first; their Index fields must be
// 1-based and increasing.
func Squash(layers []*Layer) *Tree {
	t := &Tree{root: &node{}, layers: layers}
	for _, l := range layers {
		// Opaque markers and whiteouts act on lower layers only, so apply
		// them before this layer's own entries.
		for _, e := range l.Entries {
			e.Layer = int32(l.Index)
			switch e.Type {
			case Opaque:
				if n := t.find(e.Path); n != nil {
					for _, c := range n.children {
						markRemoved(c, int32(l.Index))
					}
					n.children = nil
				}
			case Whiteout:
				if e.Path == "/" {
					continue // never delete the root; the walker warns
				}
				dir, name := path.Split(e.Path)
				if p := t.find(path.Clean(dir)); p != nil {
					if c := p.children[name]; c != nil {
						markRemoved(c, int32(l.Index))
						delete(p.children, name)
					}
				}
			}
		}
		for _, e := range l.Entries {
			if e.Type == Whiteout || e.Type == Opaque {
				continue
			}
			t.put(e, int32(l.Index))
		}
	}
	return t
}

func markRemoved(n *node, layer int32) {
	if n.entry != nil && n.entry.RemovedIn == 0 && n.entry.OverwrittenIn == 0 {
		n.entry.RemovedIn = layer
	}
	for _, c := range n.children {
		markRemoved(c, layer)
	}
}

func (t *Tree) put(e *Entry, layer int32) {
	if e.Path == "/" {
		if t.root.entry != nil && t.root.entry != e {
			t.root.entry.OverwrittenIn = layer
		}
		t.root.entry = e
		return
	}
	n := t.root
	// The components are walked without splitting the path: Squash runs
	// once per entry of the image, and the names are substrings of the
	// entry's path, so the tree costs no string of its own.
	rest := e.Path[1:]
	for rest != "" {
		part, tail, more := strings.Cut(rest, "/")
		rest = tail
		last := !more
		c := n.child(part, true)
		if !last && c.entry != nil && c.entry.Type != Dir {
			// A file stood where this entry needs a directory: the
			// directory replaces it.
			c.entry.OverwrittenIn = layer
			c.entry = nil
		}
		n = c
	}
	if old := n.entry; old != nil && old != e {
		old.OverwrittenIn = layer
	}
	if e.Type != Dir {
		// A non-directory replaces a whole subtree.
		for _, c := range n.children {
			markOverwritten(c, layer)
		}
		n.children = nil
	}
	n.entry = e
}

func markOverwritten(n *node, layer int32) {
	if n.entry != nil && n.entry.RemovedIn == 0 && n.entry.OverwrittenIn == 0 {
		n.entry.OverwrittenIn = layer
	}
	for _, c := range n.children {
		markOverwritten(c, layer)
	}
}

func (t *Tree) find(p string) *node {
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

// Layers returns the per-layer indexes the tree was built from.
func (t *Tree) Layers() []*Layer { return t.layers }

// Lookup returns the final entry at p, without following symlinks. It
// returns nil when nothing is there or only an implied directory is.
func (t *Tree) Lookup(p string) *Entry {
	n := t.find(path.Clean("/" + p))
	if n == nil {
		return nil
	}
	return n.entry
}

// Exists reports whether p exists in the final filesystem (as an entry or as
// an implied directory), without following symlinks.
func (t *Tree) Exists(p string) bool { return t.find(path.Clean("/"+p)) != nil }

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

// Walk calls fn for every final entry in path order.
func (t *Tree) Walk(fn func(e *Entry) error) error {
	var rec func(n *node) error
	rec = func(n *node) error {
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
