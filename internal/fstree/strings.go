package fstree

import "strings"

// Strings copies short strings into shared blocks: a million paths then
// cost their bytes and no more, where a million separate strings are each
// rounded up to an allocation size class and tracked by the garbage
// collector one by one. Strings are never freed on their own: a block
// lives as long as any string in it, so one Strings serves one layer's
// index. The zero value is ready to use; it is not safe for concurrent use.
type Strings struct {
	b strings.Builder
}

// stringBlock is the size of a block; longer strings get their own.
const stringBlock = 64 << 10

// room makes room for n more bytes in the current block and reports
// whether the string fits in a block at all.
func (s *Strings) room(n int) bool {
	if n > stringBlock/16 {
		return false
	}
	if s.b.Cap()-s.b.Len() < n {
		s.b = strings.Builder{}
		s.b.Grow(stringBlock)
	}
	return true
}

// Join returns a+b, stored in the block. A Builder never changes bytes it
// has written and the block never grows past the capacity it was given,
// so the strings returned before stay valid.
func (s *Strings) Join(a string, b []byte) string {
	if !s.room(len(a) + len(b)) {
		return a + string(b)
	}
	start := s.b.Len()
	s.b.WriteString(a)
	s.b.Write(b)
	return s.b.String()[start:]
}

// Path is CleanPath, its result stored in the block. Names that are
// already clean (the usual "usr/bin/" or "./usr/bin/ls") are copied once
// without the intermediate strings cleaning makes.
func (s *Strings) Path(name string) (p string, escaped bool) {
	rel := strings.TrimSuffix(strings.TrimPrefix(name, "./"), "/")
	if !cleanRel(rel) || !s.room(1+len(rel)) {
		p, escaped = CleanPath(name)
		if s.room(len(p)) {
			start := s.b.Len()
			s.b.WriteString(p)
			p = s.b.String()[start:]
		}
		return p, escaped
	}
	start := s.b.Len()
	s.b.WriteByte('/')
	s.b.WriteString(rel)
	return s.b.String()[start:], false
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
