// Package fstree indexes the files of an image: one list of entries per
// layer, and the squashed view of the final filesystem computed from them
// with whiteouts and opaque directories applied. Entries that a later layer
// deleted or replaced stay in their layer's list, marked with their fate.
package fstree

import (
	"io/fs"
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
// can hold millions, so the struct is kept to 56 bytes: the rare link
// target and capability live out of line (Linkname, Capability), owners
// in 32 bits and layer numbers in 16 (MaxLayers).
type Entry struct {
	// Path is absolute and clean ("/etc/passwd"). For a whiteout it is the
	// path it deletes; for an opaque marker, the directory it makes opaque.
	Path string
	Size int64
	// UID and GID are the owner, truncated to 32 bits as extraction
	// (chown) would.
	UID, GID uint32
	// more holds the link target and the capability xattr, when set.
	more *more
	Mode fs.FileMode
	// Layer is the 1-based layer index this entry belongs to (at most
	// MaxLayers).
	Layer uint16
	// RemovedIn is the layer whose whiteout deleted this entry (0: none).
	RemovedIn uint16
	// OverwrittenIn is the layer that replaced this path (0: none).
	OverwrittenIn uint16
	Type          Type
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
	return e.RemovedIn == 0 && e.OverwrittenIn == 0 && e.Type != Whiteout && e.Type != Opaque
}

// IsFile reports whether the entry carries file content.
func (e *Entry) IsFile() bool { return e.Type == Regular }

// MaxLayers is the most layers an image's index can number. Docker builds
// at most 127; an image with more is refused before it is read.
const MaxLayers = math.MaxUint16

// Layer is the index of one layer's entries, in archive order.
type Layer struct {
	Index   int      `json:"index"`
	Entries []*Entry `json:"entries"`
	// Bytes is the total size of regular files in the layer.
	Bytes int64 `json:"bytes"`
	// Sorted says that Entries are known to be in the order Squash sorts
	// them (by path, a layer's whiteouts and opaque markers first):
	// ReadLayer learns it while decoding, and Squash then skips checking.
	// False only means unknown.
	Sorted bool `json:"-"`
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
