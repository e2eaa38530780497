// Package rootfs indexes a flattened container filesystem (the tar stream
// of "docker export") kept in a temporary file, so that files can be looked
// up, resolved through symbolic links inside the root and read at random
// without unpacking anything onto the host.
package rootfs

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

// Limits bound what an index accepts from a hostile stream.
const (
	MaxEntries  = 2_000_000
	maxLinks    = 40
	maxPathSize = 4096
)

// Entry is one file of the filesystem.
type Entry struct {
	Path   string // absolute, cleaned
	Header *tar.Header
	offset int64 // of the content in the backing file
}

// FS is an indexed filesystem backed by a temporary file.
type FS struct {
	file    *os.File
	entries map[string]*Entry
	sorted  []string
	bytes   int64
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Load copies a tar stream into a temporary file under tmpDir and indexes
// it. Hard links become regular entries sharing their target's content.
func Load(r io.Reader, tmpDir string) (*FS, error) {
	fs, err := newFS(tmpDir)
	if err != nil {
		return nil, err
	}
	if err := fs.add(r, false); err != nil {
		fs.Close()
		return nil, err
	}
	fs.finish()
	return fs, nil
}

// LoadLayers squashes uncompressed layer tar streams, lowest first,
// applying whiteouts (".wh.NAME") and opaque directories (".wh..wh..opq").
func LoadLayers(layers []func() (io.ReadCloser, error), tmpDir string) (*FS, error) {
	fs, err := newFS(tmpDir)
	if err != nil {
		return nil, err
	}
	for i, open := range layers {
		rc, err := open()
		if err == nil {
			err = fs.add(rc, true)
			rc.Close()
		}
		if err != nil {
			fs.Close()
			return nil, fmt.Errorf("layer %d: %w", i+1, err)
		}
	}
	fs.finish()
	return fs, nil
}

func newFS(tmpDir string) (*FS, error) {
	f, err := os.CreateTemp(tmpDir, "shipshape-rootfs-*.tar")
	if err != nil {
		return nil, fmt.Errorf("rootfs: %w", err)
	}
	os.Remove(f.Name()) // unlinked: gone when closed
	return &FS{file: f, entries: map[string]*Entry{}}, nil
}

// add indexes one tar stream appended to the backing file.
func (fs *FS) add(r io.Reader, layered bool) error {
	start, err := fs.file.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("rootfs: %w", err)
	}
	cr := &countingReader{r: io.TeeReader(r, fs.file), n: start}
	tr := tar.NewReader(cr)
	var pending []*Entry
	deleted := map[string]bool{} // whiteouts: these paths and below
	opaque := map[string]bool{}  // opaque dirs: everything below
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("rootfs: reading tar after %d entries: %w", len(fs.entries)+len(pending), err)
		}
		if len(fs.entries)+len(pending) >= MaxEntries {
			return fmt.Errorf("rootfs: more than %d entries", MaxEntries)
		}
		p := Clean(h.Name)
		if p == "" || len(p) > maxPathSize {
			continue
		}
		off := cr.n
		if _, err := io.Copy(io.Discard, tr); err != nil {
			return fmt.Errorf("rootfs: %s: %w", p, err)
		}
		base := path.Base(p)
		if layered && strings.HasPrefix(base, ".wh.") {
			if base == ".wh..wh..opq" {
				opaque[path.Dir(p)] = true
			} else {
				deleted[path.Join(path.Dir(p), strings.TrimPrefix(base, ".wh."))] = true
			}
			continue
		}
		pending = append(pending, &Entry{Path: p, Header: h, offset: off})
	}
	if len(deleted) > 0 || len(opaque) > 0 {
		for p := range fs.entries {
			for d := p; d != "/"; d = path.Dir(d) {
				if deleted[d] || (d != p && opaque[d]) {
					delete(fs.entries, p)
					break
				}
			}
		}
	}
	for _, e := range pending {
		h := e.Header
		if h.Typeflag == tar.TypeLink {
			t := fs.entries[Clean(h.Linkname)]
			if t == nil || t.Header.Typeflag != tar.TypeReg {
				continue // dangling hard link: nothing to share
			}
			hh := *t.Header
			hh.Name, hh.Mode, hh.Uid, hh.Gid = h.Name, t.Header.Mode, t.Header.Uid, t.Header.Gid
			e = &Entry{Path: e.Path, Header: &hh, offset: t.offset}
		}
		if old := fs.entries[e.Path]; old != nil && old.Header.Typeflag == tar.TypeDir && e.Header.Typeflag != tar.TypeDir {
			for p := range fs.entries {
				if strings.HasPrefix(p, e.Path+"/") {
					delete(fs.entries, p)
				}
			}
		}
		fs.entries[e.Path] = e
	}
	return nil
}

// finish adds missing parents and sorts the paths.
func (fs *FS) finish() {
	if _, ok := fs.entries["/"]; !ok {
		fs.entries["/"] = &Entry{Path: "/", Header: &tar.Header{Name: "./", Typeflag: tar.TypeDir, Mode: 0o755}}
	}
	// Archives may omit parent directories; the kernel would need them.
	for p := range fs.entries {
		for d := path.Dir(p); d != "/"; d = path.Dir(d) {
			if _, ok := fs.entries[d]; ok {
				break
			}
			fs.entries[d] = &Entry{Path: d, Header: &tar.Header{Name: d[1:] + "/", Typeflag: tar.TypeDir, Mode: 0o755}}
		}
	}
	fs.sorted = fs.sorted[:0]
	fs.bytes = 0
	for p, e := range fs.entries {
		fs.sorted = append(fs.sorted, p)
		if e.Header.Typeflag == tar.TypeReg {
			fs.bytes += e.Header.Size
		}
	}
	sort.Strings(fs.sorted)
}

// Close releases the backing file.
func (fs *FS) Close() error { return fs.file.Close() }

// Clean makes a tar name an absolute clean path; "" for the root's parent.
func Clean(name string) string {
	p := path.Clean("/" + strings.TrimPrefix(name, "./"))
	return p
}

// Lookup returns the entry at p without following links.
func (fs *FS) Lookup(p string) *Entry { return fs.entries[Clean(p)] }

// Len is the number of entries.
func (fs *FS) Len() int { return len(fs.entries) }

// Bytes is the total size of regular files.
func (fs *FS) Bytes() int64 { return fs.bytes }

// Paths returns every path in sorted order.
func (fs *FS) Paths() []string { return fs.sorted }

// Under returns the paths strictly below dir, in sorted order.
func (fs *FS) Under(dir string) []string {
	dir = Clean(dir)
	prefix := dir + "/"
	if dir == "/" {
		prefix = "/"
	}
	i := sort.SearchStrings(fs.sorted, prefix)
	var out []string
	for ; i < len(fs.sorted) && strings.HasPrefix(fs.sorted[i], prefix); i++ {
		if fs.sorted[i] != dir {
			out = append(out, fs.sorted[i])
		}
	}
	return out
}

// Open returns a reader for a regular file's content.
func (fs *FS) Open(e *Entry) *io.SectionReader {
	return io.NewSectionReader(fs.file, e.offset, e.Header.Size)
}

// Resolve follows p component by component inside the root, the way the
// kernel would for a process chrooted there: ".." never leaves the root and
// absolute link targets restart at the root. visit is called with every
// existing entry crossed on the way — directories and the symbolic links
// themselves. It returns the final path and entry (nil when it does not
// exist; the path then names the first missing component's full path).
func (fs *FS) Resolve(p string, visit func(*Entry)) (string, *Entry, error) {
	links := 0
	cur := "/"
	rest := strings.Split(strings.Trim(p, "/"), "/")
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, c)
		e := fs.entries[next]
		if e == nil {
			return path.Join(append([]string{next}, rest...)...), nil, nil
		}
		if visit != nil {
			visit(e)
		}
		if e.Header.Typeflag == tar.TypeSymlink {
			links++
			if links > maxLinks {
				return next, nil, fmt.Errorf("%s: too many levels of symbolic links", p)
			}
			target := e.Header.Linkname
			if strings.HasPrefix(target, "/") {
				cur = "/"
			}
			rest = append(strings.Split(strings.Trim(target, "/"), "/"), rest...)
			continue
		}
		if len(rest) > 0 && e.Header.Typeflag != tar.TypeDir {
			return path.Join(append([]string{next}, rest...)...), nil, nil
		}
		cur = next
	}
	return cur, fs.entries[cur], nil
}
