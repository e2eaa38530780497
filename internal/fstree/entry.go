// Package fstree indexes the files of an image: one list of entries per
// layer, and the squashed view of the final filesystem computed from them
// with whiteouts and opaque directories applied. Entries that a later layer
// deleted or replaced stay in their layer's list, marked with their fate.
package fstree

import (
	"io/fs"
	"iter"
	"math"
	"path"
	"strings"
	"unicode/utf8"
)

// Type is the kind of an entry.
type Type byte

// Entry types.
const (
	Regular  Type = 'f'
	Dir      Type = 'd'
	Symlink  Type = 'l'
	Hardlink Type = 'h'
	Char     Type = 'c'
	Block    Type = 'b'
	FIFO     Type = 'p'
	Whiteout Type = 'w' // .wh.NAME: deletes NAME from lower layers
	Opaque   Type = 'o' // .wh..wh..opq: hides the directory's lower contents
)

// Entry is one file in one layer, as its tar header described it. An image
// can hold millions, so the struct is kept to 48 bytes: the rare link
// target and capability live out of line (Linkname, Capability), owners
// in 32 bits, the mode in its 12 Unix permission bits (Mode), layer
// numbers in 16 (MaxLayers) and the entry's fate in one of them
// (RemovedIn, OverwrittenIn).
type Entry struct {
	path string
	Size int64
	// UID and GID are the owner, truncated to 32 bits as extraction
	// (chown) would.
	UID, GID uint32
	// more holds the link target and the capability xattr, when set.
	more *more
	// perm is the mode's permission bits with setuid, setgid and sticky,
	// as Unix writes them (0o4755).
	perm uint16
	// Layer is the 1-based layer index this entry belongs to (at most
	// MaxLayers).
	Layer uint16
	// ended is the layer that deleted or replaced this entry (0: none);
	// flags says which.
	ended uint16
	Type  Type
	flags uint8
}

// Path is the entry's path, absolute and clean ("/etc/passwd"). For a
// whiteout it is the path it deletes; for an opaque marker, the directory
// it makes opaque.
func (e *Entry) Path() string { return e.path }

// SetPath sets the entry's path, which must be absolute and clean
// (CleanPath).
func (e *Entry) SetPath(p string) { e.path = p }

// removed is the flag of an entry a whiteout or an opaque directory
// deleted (else a later entry replaced it).
const removed uint8 = 1

// Mode is the entry's mode: permission bits, setuid, setgid and sticky,
// and the type bits of its Type (fs.ModeDir for a directory).
func (e *Entry) Mode() fs.FileMode {
	m := fs.FileMode(e.perm & 0o777)
	if e.perm&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if e.perm&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if e.perm&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	switch e.Type {
	case Dir:
		m |= fs.ModeDir
	case Symlink:
		m |= fs.ModeSymlink
	case Char:
		m |= fs.ModeDevice | fs.ModeCharDevice
	case Block:
		m |= fs.ModeDevice
	case FIFO:
		m |= fs.ModeNamedPipe
	}
	return m
}

// UnixPerm is the mode's permission bits with setuid, setgid and sticky,
// as Unix writes them (0o4755).
func (e *Entry) UnixPerm() uint16 { return e.perm }

// SetMode sets the permission bits, setuid, setgid and sticky from m; its
// type bits are ignored (Type says what the entry is).
func (e *Entry) SetMode(m fs.FileMode) {
	p := uint16(m.Perm())
	if m&fs.ModeSetuid != 0 {
		p |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		p |= 0o1000
	}
	e.perm = p
}

// RemovedIn is the layer whose whiteout (or opaque directory) deleted this
// entry, 0 if none did.
func (e *Entry) RemovedIn() uint16 {
	if e.flags&removed != 0 {
		return e.ended
	}
	return 0
}

// OverwrittenIn is the layer that replaced this path, 0 if none did.
func (e *Entry) OverwrittenIn() uint16 {
	if e.flags&removed == 0 {
		return e.ended
	}
	return 0
}

// end records the layer that ended the entry: deleted it (removed) or
// replaced it; layer 0 clears the entry's fate.
func (e *Entry) end(layer uint16, isRemoved bool) {
	e.ended = layer
	e.flags &^= removed
	if isRemoved && layer != 0 {
		e.flags |= removed
	}
}

type more struct {
	linkname   string
	capability []byte
}

// Linkname is the target of a symlink or hard link ("" for other types).
func (e *Entry) Linkname() string {
	if e.more == nil {
		return ""
	}
	return e.more.linkname
}

// Capability is the raw security.capability xattr, if set.
func (e *Entry) Capability() []byte {
	if e.more == nil {
		return nil
	}
	return e.more.capability
}

// SetLinkname sets the target of a symlink or hard link.
func (e *Entry) SetLinkname(target string) {
	if target == "" && e.more == nil {
		return
	}
	if e.more == nil {
		e.more = &more{}
	}
	e.more.linkname = target
}

// SetCapability sets the raw security.capability xattr.
func (e *Entry) SetCapability(c []byte) {
	if len(c) == 0 && e.more == nil {
		return
	}
	if e.more == nil {
		e.more = &more{}
	}
	e.more.capability = c
}

// InFinal reports whether the entry is what the final filesystem shows.
func (e *Entry) InFinal() bool {
	return e.ended == 0 && e.Type != Whiteout && e.Type != Opaque
}

// IsFile reports whether the entry carries file content.
func (e *Entry) IsFile() bool { return e.Type == Regular }

// MaxLayers is the most layers an image's index can number. Docker builds
// at most 127; an image with more is refused before it is read.
const MaxLayers = math.MaxUint16

// Layer is the index of one layer's entries, in archive order. The
// entries are stored by value, a block at a time: an entry never moves
// once added (its *Entry stays valid) and no pointer per entry is kept.
type Layer struct {
	Index int
	// Bytes is the total size of regular files in the layer.
	Bytes int64
	// Sorted says that the entries are known to be in the order Squash
	// sorts them (by path, a layer's whiteouts and opaque markers first):
	// ReadLayer learns it while decoding, and Squash then skips checking.
	// False only means unknown.
	Sorted bool
	blocks [][]Entry
	n      int
}

// blockBits sets the entries per block of a Layer (1024: 48 KiB).
const blockBits = 10

// NewLayer returns layer number index holding copies of entries.
func NewLayer(index int, entries ...*Entry) *Layer {
	l := &Layer{Index: index}
	for _, e := range entries {
		l.Add(e)
	}
	return l
}

// Len is the number of entries.
func (l *Layer) Len() int { return l.n }

// At returns entry i, 0 <= i < Len(), in archive order.
func (l *Layer) At(i int) *Entry { return &l.blocks[i>>blockBits][i&(1<<blockBits-1)] }

// All yields each entry with its place, in archive order.
func (l *Layer) All() iter.Seq2[int, *Entry] {
	return func(yield func(int, *Entry) bool) {
		for b, block := range l.blocks {
			for j := range block[:min(len(block), l.n-b<<blockBits)] {
				if !yield(b<<blockBits+j, &block[j]) {
					return
				}
			}
		}
	}
}

// Add appends a copy of e and returns the layer's entry.
func (l *Layer) Add(e *Entry) *Entry {
	j := l.n & (1<<blockBits - 1)
	if j == 0 {
		l.blocks = append(l.blocks, make([]Entry, 1<<blockBits))
	}
	stored := &l.blocks[len(l.blocks)-1][j]
	*stored = *e
	l.n++
	return stored
}

// CleanPath turns an archive member name into an absolute clean path inside
// the image root. It reports whether the name tried to leave the root
// (absolute or with ".." components that climb above it): such names are
// clamped to the root, the way a chrooted extraction would place them.
func CleanPath(name string) (p string, escaped bool) {
	if strings.HasPrefix(name, "/") {
		escaped = true
	}
	depth := 0
	for rest, more := name, true; more; {
		var part string
		part, rest, more = strings.Cut(rest, "/")
		switch part {
		case "", ".":
		case "..":
			if depth == 0 {
				escaped = true
			} else {
				depth--
			}
		default:
			depth++
		}
	}
	return path.Clean("/" + name), escaped
}

// IsClean reports whether p is an absolute path that path.Clean would
// return unchanged, as every Entry.Path is.
func IsClean(p string) bool {
	if p == "/" {
		return true
	}
	if len(p) < 2 || p[0] != '/' || p[len(p)-1] == '/' {
		return false
	}
	// One pass over the bytes (this runs once per file of the image): a
	// component that starts after a slash must not be empty, "." or "..".
	for i := 0; i < len(p); i++ {
		if p[i] != '/' {
			continue
		}
		rest := p[i+1:]
		if rest == "" || rest[0] == '/' {
			return false
		}
		if rest[0] == '.' && (len(rest) == 1 || rest[1] == '/' || (rest[1] == '.' && (len(rest) == 2 || rest[2] == '/'))) {
			return false
		}
	}
	return true
}

// Display renders a path for people and JSON: bytes that are not valid
// UTF-8 are written as \xNN escapes instead of being lost.
func Display(p string) string {
	if utf8.ValidString(p) {
		return p
	}
	var b strings.Builder
	for i := 0; i < len(p); {
		r, n := utf8.DecodeRuneInString(p[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteString(`\x`)
			b.WriteByte("0123456789abcdef"[p[i]>>4])
			b.WriteByte("0123456789abcdef"[p[i]&0xf])
		} else {
			b.WriteString(p[i : i+n])
		}
		i += n
	}
	return b.String()
}
