package image

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path"
	"strings"
	"time"

	"github.com/shipshape-dev/shipshape/internal/compress"
)

// maxMetadataBytes bounds manifest, index and config blobs: they are JSON
// documents of a few kilobytes, never hundreds of megabytes.
const maxMetadataBytes = 16 << 20

// archiveStore is a blobStore of an archive's members.
type archiveStore interface {
	blobStore
	has(name string) bool
}

// blobStore reads named files of an image container: a directory or an
// indexed tar archive.
type blobStore interface {
	// open returns the named file's content and size.
	open(name string) (io.ReadCloser, int64, error)
	// size returns the named file's size without reading it.
	size(name string) (int64, error)
	// where names the store in error messages.
	where() string
}

// dirStore reads files below a directory, refusing names that leave it.
type dirStore struct{ dir string }

func (d dirStore) where() string { return d.dir }

func (d dirStore) size(name string) (int64, error) {
	rc, n, err := d.open(name)
	if err != nil {
		return 0, err
	}
	return n, rc.Close()
}

func (d dirStore) open(name string) (io.ReadCloser, int64, error) {
	clean := path.Clean("/" + name)
	if clean != "/"+strings.TrimPrefix(name, "./") && clean != "/"+name {
		return nil, 0, fmt.Errorf("%s: path %q leaves the layout", d.dir, name)
	}
	root, err := os.OpenRoot(d.dir)
	if err != nil {
		return nil, 0, err
	}
	defer root.Close()
	// Stat before opening: opening a FIFO blocks until a writer comes.
	if st, err := root.Stat(strings.TrimPrefix(clean, "/")); err != nil {
		return nil, 0, err
	} else if !st.Mode().IsRegular() {
		return nil, 0, fmt.Errorf("%s: %s is not a regular file (%s)", d.dir, name, fileKind(st.Mode()))
	}
	f, err := root.Open(strings.TrimPrefix(clean, "/"))
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, 0, fmt.Errorf("%s: %s is not a regular file", d.dir, name)
	}
	return newFileSection(f, 0, st.Size(), true), st.Size(), nil
}

// regularFile refuses anything but a regular file (after symlinks), with
// the kind of file in the error.
func regularFile(p string) error {
	st, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("not a regular file but %s: give an image archive, an OCI layout directory or dir:ROOTFS", fileKind(st.Mode()))
	}
	return nil
}

// fileKind names a file mode's type for error messages.
func fileKind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&os.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&os.ModeSocket != 0:
		return "a socket"
	case m&os.ModeCharDevice != 0:
		return "a character device"
	case m&os.ModeDevice != 0:
		return "a block device"
	case m&os.ModeSymlink != 0:
		return "a symbolic link"
	}
	return "an irregular file"
}

// tarStore is a tar archive on disk, indexed once so that each member can
// be read as a section of the file without scanning again.
type tarStore struct {
	name    string
	f       *os.File
	members map[string]section
}

type section struct{ off, size int64 }

func (t *tarStore) where() string { return t.name }

// memberName is the name a tar member is indexed under.
func memberName(name string) string { return path.Clean(strings.TrimPrefix(name, "./")) }

func (t *tarStore) has(name string) bool {
	_, ok := t.members[memberName(name)]
	return ok
}

func (t *tarStore) size(name string) (int64, error) {
	s, ok := t.members[memberName(name)]
	if !ok {
		return 0, fmt.Errorf("%s: no member %q: %w", t.name, name, os.ErrNotExist)
	}
	return s.size, nil
}

func (t *tarStore) open(name string) (io.ReadCloser, int64, error) {
	s, ok := t.members[memberName(name)]
	if !ok {
		return nil, 0, fmt.Errorf("%s: no member %q: %w", t.name, name, os.ErrNotExist)
	}
	return newFileSection(t.f, s.off, s.size, false), s.size, nil
}

// countingSeeker tracks the offset of a file read through archive/tar, so
// that each member's data offset is known.
type countingSeeker struct {
	f   *os.File
	pos int64
}

func (c *countingSeeker) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	c.pos += int64(n)
	return n, err
}

func (c *countingSeeker) Seek(off int64, whence int) (int64, error) {
	p, err := c.f.Seek(off, whence)
	if err == nil {
		c.pos = p
	}
	return p, err
}

// indexTar indexes the regular files of an uncompressed tar archive.
func indexTar(ctx context.Context, name string, f *os.File) (*tarStore, error) {
	cs := &countingSeeker{f: f}
	tr := tar.NewReader(cs)
	t := &tarStore{name: name, f: f, members: map[string]section{}}
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: reading archive: %w", name, err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if len(t.members) > 1_000_000 {
			return nil, fmt.Errorf("%s: more than a million members: not an image archive", name)
		}
		t.members[memberName(h.Name)] = section{off: cs.pos, size: h.Size}
	}
	if len(t.members) == 0 {
		return nil, fmt.Errorf("%s: empty or not a tar archive", name)
	}
	return t, nil
}

// openArchiveFile opens a docker-save or OCI archive. A whole-file gzip or
// zstd compression is undone into a temporary file first (bounded by
// MaxArchiveBytes), since members must be read at random: by the gzip
// helper when there is one and the file is big enough.
func openArchiveFile(ctx context.Context, p, selector string, want Transport, opts Options) (*Image, error) {
	// Opening a FIFO or a device would block (or read forever): only
	// regular files are archives.
	if err := regularFile(p); err != nil {
		return nil, fmt.Errorf("archive %s: %w", p, err)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("archive %s: %w", p, err)
	}
	if err := ctx.Err(); err != nil {
		f.Close()
		return nil, fmt.Errorf("archive %s: %w", p, err)
	}
	var closers []func() error
	cleanup := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	closers = append(closers, f.Close)
	magic := make([]byte, 4)
	n, _ := io.ReadFull(f, magic)
	var store archiveStore
	opened := func(*Image) {}
	if kind := compress.Sniff(magic[:n]); kind == compress.None {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			cleanup()
			return nil, fmt.Errorf("archive %s: %w", p, err)
		}
		t, err := indexTar(ctx, p, f)
		if err != nil {
			cleanup()
			return nil, err
		}
		store = t
	} else {
		s, done, closer, err := openCompressed(ctx, p, f, kind, opts)
		if err != nil {
			cleanup()
			return nil, err
		}
		closers = append(closers, closer)
		store, opened = s, done
	}
	var img *Image
	hasManifest, hasIndex := store.has("manifest.json"), store.has("index.json")
	switch {
	case want == OCIArchive || (want == "" && !hasManifest && hasIndex):
		img, err = openLayout(store, selector, opts, OCIArchive)
	case hasManifest:
		img, err = openDockerArchive(store, selector)
	default:
		err = fmt.Errorf("%s: not a docker-save archive (no manifest.json) nor an OCI archive (no index.json)", p)
	}
	if err != nil {
		opened(nil)
		cleanup()
		return nil, err
	}
	opened(img)
	img.closers = append(img.closers, func() error { cleanup(); return nil })
	return img, nil
}

// readJSON reads a small JSON member of a store into v.
func readJSON(s blobStore, name string, v any) ([]byte, error) {
	rc, size, err := s.open(name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if size > maxMetadataBytes {
		return nil, fmt.Errorf("%s: %s is %d bytes, more than the %d allowed for metadata", s.where(), name, size, maxMetadataBytes)
	}
	b, err := io.ReadAll(io.LimitReader(rc, maxMetadataBytes))
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", s.where(), name, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("%s: %s: malformed JSON: %w", s.where(), name, err)
	}
	return b, nil
}

// ctxReader stops a copy when the context is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// decompressArchive undoes the whole-file compression of an archive file
// of size bytes into a new temporary file in opts.TempDir, at its start, bounded by
// opts.MaxArchiveBytes, and says by what (for the debug log). The caller
// closes and removes the file.
func decompressArchive(ctx context.Context, f *os.File, size int64, kind compress.Kind, opts Options) (tmp *os.File, by string, err error) {
	by = "in process"
	if kind == compress.Gzip && opts.GzipHelper != "" && size >= compress.HelperMinBytes {
		tmp, err := inflateByHelper(ctx, f, size, opts)
		if !errors.Is(err, errUnmatchedTrailer) {
			return tmp, opts.GzipHelper, err
		}
		// Several gzip members, or bytes after the last one: the
		// in-process inflater below reads every member, as igzip does,
		// and rejects trailing bytes, as it does without a helper.
		by = "in process (not one gzip member, as " + opts.GzipHelper + " needs)"
	}
	zr, err := compress.NewReader(kind, bufio.NewReaderSize(io.NewSectionReader(f, 0, size), 1<<20), compress.Options{})
	if err != nil {
		return nil, by, err
	}
	defer zr.Close()
	tmp, _, err = writeTemp(ctx, readErrors{zr, "decompressing " + string(kind)}, io.Discard, opts)
	return tmp, by, err
}

// logInflated logs an archive inflated since start into tmp by what
// decompressArchive said.
func logInflated(log *slog.Logger, tmp *os.File, by string, start time.Time) {
	args := []any{"by", by}
	if fi, err := tmp.Stat(); err == nil {
		args = append(args, "bytes", fi.Size())
	}
	log.Debug("archive inflated", append(args, "took", time.Since(start))...)
}

// readErrors says what failed to read: the decompressor's errors are its
// library's, and "unexpected EOF" alone does not tell which stream ended.
type readErrors struct {
	r    io.Reader
	what string
}

func (r readErrors) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: %w", r.what, err)
	}
	return n, err
}

// errUnmatchedTrailer: the gzip helper's output is not the one gzip member
// that ends the file.
var errUnmatchedTrailer = errors.New("gzip trailer does not match the helper's output")

// inflateByHelper inflates a gzip file with the gzip helper (see
// compress.NewHelperReader: the file goes to it by splice) into a
// temporary file. igzip reads concatenated members, as gzip does, but
// silently ignores anything after the last one, which the in-process
// inflater rejects. So the output is kept only when it is the one member
// that ends the file: the file's last eight bytes are a gzip trailer, the
// CRC-32 and size of the whole output. Otherwise the temporary file is
// removed and errUnmatchedTrailer returned.
func inflateByHelper(ctx context.Context, f *os.File, size int64, opts Options) (*os.File, error) {
	hr, err := compress.NewHelperReader(ctx, opts.GzipHelper, io.NewSectionReader(f, 0, size))
	if err != nil {
		return nil, err
	}
	defer hr.Close()
	sum := crc32.NewIEEE()
	tmp, written, err := writeTemp(ctx, hr, sum, opts)
	if err != nil {
		return nil, err
	}
	var trailer [8]byte
	if _, err := f.ReadAt(trailer[:], size-8); err != nil {
		removeTemp(tmp)
		return nil, err
	}
	if binary.LittleEndian.Uint32(trailer[:4]) != sum.Sum32() || binary.LittleEndian.Uint32(trailer[4:]) != uint32(written) {
		removeTemp(tmp)
		return nil, errUnmatchedTrailer
	}
	return tmp, nil
}

// writeTemp copies r into a new temporary file in opts.TempDir and into
// also, within opts.MaxArchiveBytes, and returns the file at its start and
// the bytes written.
func writeTemp(ctx context.Context, r io.Reader, also io.Writer, opts Options) (*os.File, int64, error) {
	tmp, err := os.CreateTemp(opts.TempDir, "shipshape-archive-*.tar")
	if err != nil {
		return nil, 0, err
	}
	// A MultiWriter hides the file's ReadFrom, whose fallback would copy
	// 32 KiB at a time: the buffer here is bigger.
	written, err := io.CopyBuffer(io.MultiWriter(tmp, also), io.LimitReader(ctxReader{ctx, r}, opts.MaxArchiveBytes+1), make([]byte, 1<<20))
	if err == nil && written > opts.MaxArchiveBytes {
		err = fmt.Errorf("decompresses to more than %d bytes (raise --max-archive-bytes)", opts.MaxArchiveBytes)
	}
	if err == nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if err != nil {
		removeTemp(tmp)
		return nil, 0, err
	}
	return tmp, written, nil
}

// removeTemp closes and removes a temporary file.
func removeTemp(f *os.File) error {
	f.Close()
	return os.Remove(f.Name())
}
