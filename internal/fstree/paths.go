package fstree

import (
	"strings"
	"unsafe"
)

// parent is a directory as the entries in it refer to it, and the block of
// names theirs are in.
type parent struct {
	// prefix is the directory's path with a trailing slash ("/etc/"), the
	// root's "/": an entry's path is prefix + name.
	prefix string
	// names is the start of the block of names.
	names *byte
	// nameLen is the length of the name of an entry whose block is its
	// own (Entry.nlen longName).
	nameLen int
}

// splitPath splits a clean absolute path into its directory's prefix
// ("/etc/") and its name ("passwd"); the root is "/" and "".
func splitPath[S string | []byte](p S) (prefix, name S) {
	i := len(p) - 1
	for i >= 0 && p[i] != '/' {
		i--
	}
	if i < 0 {
		return p[:0], p
	}
	return p[:i+1], p[i+1:]
}

// Paths sets the paths of one layer's entries, storing each directory
// once and each name in a shared block of names: a million paths then
// cost their names' bytes, where whole paths cost their directories' bytes
// again for every file in them ("/usr/share/doc/..."), each string
// tracked by the garbage collector. A block lives as long as any entry
// whose name is in it, so one Paths serves one layer's index. The zero
// value is ready to use; it is not safe for concurrent use.
type Paths struct {
	// dirs are the directories met, by path without the leading slash
	// ("usr/bin", "" for the root), so that an archive name's directory
	// is looked up without building a string.
	dirs map[string]*parent
	last *parent // the directory of the previous entry (archives are in walk order)
	// block is the current block of names: bytes are appended within its
	// capacity, never moved, and never changed once an entry refers to
	// them.
	block []byte
}

// nameBlock is the size of a block of names; a name longer than a
// sixteenth of it gets a block of its own.
const nameBlock = 64 << 10

// Member sets e's path from an archive member name, cleaned as CleanPath
// cleans it, and reports whether the name tried to leave the image root.
// Names that are already clean (the usual "usr/bin/" or "./usr/bin/ls")
// are stored without building any string but their directory's, once.
func (ps *Paths) Member(e *Entry, name string) (escaped bool) {
	rel := strings.TrimSuffix(strings.TrimPrefix(name, "./"), "/")
	if !cleanRel(rel) {
		p, escaped := CleanPath(name)
		ps.Set(e, p)
		return escaped
	}
	i := strings.LastIndexByte(rel, '/')
	if i < 0 {
		ps.set(e, "", rel)
	} else {
		ps.set(e, rel[:i], rel[i+1:])
	}
	return false
}

// Set sets e's path, which must be absolute and clean (CleanPath).
func (ps *Paths) Set(e *Entry, p string) { setPath(ps, e, p) }

// SetBytes is Set with the path in a buffer, which it does not keep.
func (ps *Paths) SetBytes(e *Entry, p []byte) { setPath(ps, e, p) }

func setPath[S string | []byte](ps *Paths, e *Entry, p S) {
	prefix, name := splitPath(p)
	if len(prefix) == 1 { // "/": the root or in it
		set(ps, e, prefix[:0], name)
		return
	}
	if len(prefix) == 0 || p[0] != '/' {
		e.SetPath(string(p)) // not absolute: kept byte for byte
		return
	}
	rel := prefix[1 : len(prefix)-1]
	if len(rel) == 0 || rel[0] == '/' || rel[len(rel)-1] == '/' {
		// Not clean ("//a", "/a//b"): kept byte for byte.
		e.SetPath(string(p))
		return
	}
	set(ps, e, rel, name)
}

func (ps *Paths) set(e *Entry, rel, name string) { set(ps, e, rel, name) }

// set sets e's path to the directory rel (its path without the leading
// slash, "" for the root) and name, "" for the root itself.
func set[S string | []byte](ps *Paths, e *Entry, rel, name S) {
	if e.perm&hasMore != 0 {
		// The link target and capability follow the old name: they
		// follow the new one.
		link, c := e.more()
		e.perm &^= hasMore
		defer ps.SetMore(e, link, c)
	}
	d := ps.last
	if d == nil || string(d.rel()) != string(rel) {
		if ps.dirs == nil {
			ps.dirs = make(map[string]*parent)
		}
		d = ps.dirs[string(rel)] // the conversion in a map index builds no string
		if d == nil {
			prefix := "/"
			if len(rel) > 0 {
				prefix = "/" + string(rel) + "/"
			}
			d = &parent{prefix: prefix}
			ps.dirs[d.rel()] = d
		}
		ps.last = d
	}
	if len(name) > nameBlock/16 {
		// A long name gets a block of its own, and so a parent.
		e.rehome(d.prefix, string(name), "", nil)
		return
	}
	e.dir, e.name, e.nlen = d, 0, uint16(len(name))
	if len(name) == 0 {
		return
	}
	if cap(ps.block)-len(ps.block) < len(name) {
		ps.block = make([]byte, 0, nameBlock)
	}
	base := unsafe.SliceData(ps.block)
	if d.names != base {
		if d.names != nil {
			// The directory's names so far are in an earlier block: the
			// entries from here on refer to it through a new parent.
			d = &parent{prefix: d.prefix}
			ps.dirs[d.rel()] = d
			ps.last = d
		}
		d.names = base
	}
	e.dir, e.name = d, uint32(len(ps.block))
	ps.block = append(ps.block, name...)
}

// SetMore sets e's link target and capability. They are stored right
// after its name when the name is the last one stored (the walk and the
// decoder set them as soon as the path), else in a block of the entry's
// own.
func (ps *Paths) SetMore(e *Entry, link string, c []byte) {
	if link == "" && len(c) == 0 && e.perm&hasMore == 0 {
		return
	}
	if e.perm&hasMore == 0 && e.nlen > 0 && e.nlen != longName && e.dir.names == unsafe.SliceData(ps.block) &&
		int(e.name)+int(e.nlen) == len(ps.block) && cap(ps.block)-len(ps.block) >= moreLen(link, c) {
		ps.block = appendMore(ps.block, link, c)
		e.perm |= hasMore
		return
	}
	e.rehome(e.prefix(), e.Name(), link, c)
}

// rel is the directory's path without the leading slash, "" for the root.
func (d *parent) rel() string {
	if len(d.prefix) <= 1 {
		return ""
	}
	return d.prefix[1 : len(d.prefix)-1]
}

// cleanRel reports whether rel is a non-empty relative path that cleaning
// would not change: no empty, "." or ".." components.
func cleanRel(rel string) bool {
	if rel == "" {
		return false
	}
	for rest, more := rel, true; more; {
		var part string
		part, rest, more = strings.Cut(rest, "/")
		if part == "" || part == "." || part == ".." {
			return false
		}
	}
	return true
}
