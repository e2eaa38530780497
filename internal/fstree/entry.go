// Package fstree indexes the files of an image: one list of entries per
// layer, and the squashed view of the final filesystem computed from them
// with whiteouts and opaque directories applied. Entries that a later layer
// deleted or replaced stay in their layer's list, marked with their fate.
package fstree

import (
	"encoding/binary"
	"io/fs"
	"iter"
	"math"
	"path"
	"strings"
	"unicode/utf8"
	"unsafe"
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
// can hold millions, so the struct is kept to 40 bytes with one pointer:
// the path is its directory, shared by every entry of the layer in it
// (Paths), and its name, kept in a block of names with the rare link
// target and capability right after it (Linkname, Capability); owners in
// 32 bits, the mode in its 12 Unix permission bits (Mode), layer numbers
// in 16 (MaxLayers) and the entry's fate in one of them (RemovedIn,
// OverwrittenIn).
type Entry struct {
	// dir is the directory the entry is in, and the block its name is
	// in: the name is nlen bytes at offset name of dir.names.
	dir  *parent
	Size int64
	// UID and GID are the owner, truncated to 32 bits as extraction
	// (chown) would.
	UID, GID uint32
	// name is the offset of the name in its block.
	name uint32
	// nlen is the name's length; longName: dir.nameLen is (a block of
	// its own).
	nlen uint16
	// perm is the mode's permission bits with setuid, setgid and sticky,
	// as Unix writes them (0o4755), and hasMore.
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

// longName is the nlen of a name whose length its parent holds.
const longName = math.MaxUint16

// Path is the entry's path, absolute and clean ("/etc/passwd"). For a
// whiteout it is the path it deletes; for an opaque marker, the directory
// it makes opaque. The string is built on each call (the entry keeps its
// directory and its name apart): a loop that needs it several times reads
// it once, and code that needs only the name or the directory reads Name
// or Dir, which cost nothing.
func (e *Entry) Path() string {
	if e.dir == nil {
		return ""
	}
	if e.nlen == 0 {
		return e.dir.prefix
	}
	return e.dir.prefix + e.Name()
}

// nameLen is the length of the entry's name.
func (e *Entry) nameLen() int {
	if e.nlen == longName {
		return e.dir.nameLen
	}
	return int(e.nlen)
}

// AppendPath appends the entry's path to b.
func (e *Entry) AppendPath(b []byte) []byte {
	if e.dir == nil {
		return b
	}
	return append(append(b, e.dir.prefix...), e.Name()...)
}

// Name is the last element of the entry's path ("passwd" for
// "/etc/passwd"), "" for the root.
func (e *Entry) Name() string {
	if e.nlen == 0 {
		return ""
	}
	return unsafe.String((*byte)(unsafe.Add(unsafe.Pointer(e.dir.names), e.name)), e.nameLen())
}

// Dir is the directory the entry is in ("/etc" for "/etc/passwd"), as
// path.Dir would return it; the root's is "/".
func (e *Entry) Dir() string {
	if e.dir == nil {
		return ""
	}
	if p := e.dir.prefix; len(p) > 1 {
		return p[:len(p)-1]
	}
	return "/"
}

// HasPathPrefix reports whether the entry's path begins with prefix, as
// strings.HasPrefix(e.Path(), prefix) would, without building the path.
func (e *Entry) HasPathPrefix(prefix string) bool {
	if e.dir == nil {
		return prefix == ""
	}
	d := e.dir.prefix
	if len(prefix) <= len(d) {
		return d[:len(prefix)] == prefix
	}
	return prefix[:len(d)] == d && strings.HasPrefix(e.Name(), prefix[len(d):])
}

// PathIs reports whether the entry's path is p, without building it.
func (e *Entry) PathIs(p string) bool {
	if e.dir == nil {
		return p == ""
	}
	d := e.dir.prefix
	return len(p) == len(d)+e.nameLen() && p[:len(d)] == d && p[len(d):] == e.Name()
}

// SetPath sets the entry's path, which must be absolute and clean
// (CleanPath). The entry gets a block of its own for its name (and its
// link target and capability, kept): a layer's index sets its entries'
// paths through one Paths, which shares directories and blocks.
func (e *Entry) SetPath(p string) {
	link, c := e.more()
	prefix, name := splitPath(p)
	e.rehome(prefix, name, link, c)
}

// rehome gives the entry a block of its own, holding its name and, if
// set, its link target and capability.
func (e *Entry) rehome(prefix, name, link string, c []byte) {
	b := make([]byte, 0, len(name)+moreLen(link, c))
	b = append(b, name...)
	e.perm &^= hasMore
	if link != "" || len(c) > 0 {
		b = appendMore(b, link, c)
		e.perm |= hasMore
	}
	e.dir = &parent{prefix: prefix, nameLen: len(name)}
	if len(b) > 0 {
		e.dir.names = unsafe.SliceData(b)
	}
	e.name, e.nlen = 0, uint16(min(len(name), longName))
}

// samePath reports whether a and b have the same path.
func samePath(a, b *Entry) bool {
	if a.dir == nil || b.dir == nil {
		return a.Path() == b.Path()
	}
	return (a.dir == b.dir || a.dir.prefix == b.dir.prefix) && a.Name() == b.Name()
}

// removed is the flag of an entry a whiteout or an opaque directory
// deleted (else a later entry replaced it).
const removed uint8 = 1

// hasMore is the bit of Entry.perm, above the 12 Unix bits, that says a
// link target and a capability follow the name in its block: uvarint
// length, bytes, uvarint length, bytes. It is not in flags: Squash
// writes flags while other goroutines read the link targets.
const hasMore uint16 = 1 << 15

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
func (e *Entry) UnixPerm() uint16 { return e.perm & 0o7777 }

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
	e.perm = p | e.perm&hasMore
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

// more returns the link target and the capability stored after the name.
func (e *Entry) more() (link string, c []byte) {
	if e.perm&hasMore == 0 {
		return "", nil
	}
	p := unsafe.Add(unsafe.Pointer(e.dir.names), int(e.name)+e.nameLen())
	next := func() (unsafe.Pointer, int) {
		// A uvarint, written by appendMore: at most 10 bytes.
		var v uint64
		for shift := 0; ; shift += 7 {
			b := *(*byte)(p)
			p = unsafe.Add(p, 1)
			v |= uint64(b&0x7f) << shift
			if b < 0x80 {
				return p, int(v)
			}
		}
	}
	at, n := next()
	if n > 0 {
		link = unsafe.String((*byte)(at), n)
		p = unsafe.Add(at, n)
	}
	at, n = next()
	if n > 0 {
		c = unsafe.Slice((*byte)(at), n)[:n:n]
	}
	return link, c
}

// moreLen is the size of a link target and a capability in a block.
func moreLen(link string, c []byte) int {
	return 2*binary.MaxVarintLen64 + len(link) + len(c)
}

// appendMore appends a link target and a capability as more reads them.
func appendMore(b []byte, link string, c []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(link)))
	b = append(b, link...)
	b = binary.AppendUvarint(b, uint64(len(c)))
	return append(b, c...)
}

// Linkname is the target of a symlink or hard link ("" for other types).
func (e *Entry) Linkname() string {
	link, _ := e.more()
	return link
}

// Capability is the raw security.capability xattr, if set. The bytes are
// the index's own: they must not be changed.
func (e *Entry) Capability() []byte {
	_, c := e.more()
	return c
}

// SetLinkname sets the target of a symlink or hard link. A layer's index
// sets it through Paths.SetMore, which stores it beside the name.
func (e *Entry) SetLinkname(target string) {
	_, c := e.more()
	e.rehome(e.prefix(), e.Name(), target, c)
}

// SetCapability sets the raw security.capability xattr.
func (e *Entry) SetCapability(c []byte) {
	link, _ := e.more()
	e.rehome(e.prefix(), e.Name(), link, c)
}

// prefix is the entry's directory's prefix ("/etc/").
func (e *Entry) prefix() string {
	if e.dir == nil {
		return ""
	}
	return e.dir.prefix
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
	// order, when set, is the entries' places in the order Squash sorts
	// them, as the cache stored it (a permutation, checked by ReadLayer);
	// Squash checks that it sorts them before it uses it.
	order  []uint32
	blocks [][]Entry
	n      int
}

// blockBits sets the entries per block of a Layer (1024: 40 KiB).
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
	b, j := l.n>>blockBits, l.n&(1<<blockBits-1)
	if b == len(l.blocks) { // else a block given by grow
		l.blocks = append(l.blocks, make([]Entry, 1<<blockBits))
	}
	stored := &l.blocks[b][j]
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
func IsClean[P string | []byte](p P) bool {
	if len(p) == 1 && p[0] == '/' {
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
		if len(rest) == 0 || rest[0] == '/' {
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
