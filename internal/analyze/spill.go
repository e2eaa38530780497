package analyze

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	"github.com/shipshape-dev/shipshape/internal/facts"
)

// DefaultFactsInMemory is how many bytes of the layers' serialised shared
// facts a scan holds in memory at most (Options.FactsInMemory): a Debian
// image's, every file its packages list, are a few megabytes; an image
// whose layers list hundreds of thousands of files each would otherwise
// hold them all until every layer is read.
const DefaultFactsInMemory = 16 << 20

// spill holds the layers' serialised shared facts within a memory budget:
// the facts past it are set aside in files of a directory of the scan's
// own, and read back as a stream when they are decoded. Safe for
// concurrent use.
type spill struct {
	dir    string // "": everything is held in memory
	budget int64
	used   atomic.Int64
}

// hold reports whether n more bytes of facts may be held in memory, and
// counts them if so.
func (s *spill) hold(n int64) bool {
	if s == nil || s.dir == "" {
		return true
	}
	if s.used.Add(n) <= s.budget {
		return true
	}
	s.used.Add(-n)
	return false
}

// release gives back n bytes counted by hold.
func (s *spill) release(n int64) {
	if s != nil && s.dir != "" {
		s.used.Add(-n)
	}
}

// spillWriter holds what is written while the budget allows and, once it
// does not, moves it to a file and writes the rest there: a layer's
// shared facts, written by its facts.Collector as the layer is walked.
type spillWriter struct {
	s   *spill
	buf []byte
	f   *os.File
	bw  *bufio.Writer
}

func (w *spillWriter) Write(p []byte) (int, error) {
	if w.f == nil {
		if w.s.hold(int64(len(p))) {
			w.buf = append(w.buf, p...)
			return len(p), nil
		}
		if err := w.toFile(); err != nil {
			return 0, err
		}
	}
	return w.bw.Write(p)
}

// WriteAt rewrites bytes written before.
func (w *spillWriter) WriteAt(p []byte, off int64) (int, error) {
	if w.f != nil {
		if err := w.bw.Flush(); err != nil {
			return 0, err
		}
		return w.f.WriteAt(p, off)
	}
	if off < 0 || off+int64(len(p)) > int64(len(w.buf)) {
		return 0, fmt.Errorf("write at %d past the %d bytes written", off, len(w.buf))
	}
	return copy(w.buf[off:], p), nil
}

// end returns what was written: the bytes held (b), or the path of the
// file they went to (p).
func (w *spillWriter) end() (b []byte, p string, err error) {
	if w.f == nil {
		return w.buf, "", nil
	}
	err = w.bw.Flush()
	p, err = closed(w.f, err)
	w.f = nil
	return nil, p, err
}

// discard lets go of what was written and not ended: the bytes held, or
// the file.
func (w *spillWriter) discard() {
	if w.f != nil {
		closed(w.f, errDiscarded)
		w.f = nil
	}
	w.s.release(int64(len(w.buf)))
	w.buf = nil
}

var errDiscarded = errors.New("discarded")

// toFile moves what is held to a new file, where the rest is written.
func (w *spillWriter) toFile() error {
	f, err := w.s.create()
	if err != nil {
		return err
	}
	w.f, w.bw = f, bufio.NewWriterSize(f, 64<<10)
	w.s.release(int64(len(w.buf)))
	w.bw.Write(w.buf)
	w.buf = nil
	return nil
}

// copy sets the next n bytes of r aside in a new file and returns its
// path.
func (s *spill) copy(n int64, r io.Reader) (string, error) {
	f, err := s.create()
	if err != nil {
		return "", err
	}
	_, err = io.CopyN(f, r, n)
	return closed(f, err)
}

// create makes a new file in the directory for facts set aside.
func (s *spill) create() (*os.File, error) {
	f, err := os.CreateTemp(s.dir, "facts-*.json")
	if err != nil {
		return nil, fmt.Errorf("setting facts aside: %w", err)
	}
	return f, nil
}

// closed closes f, whose writing ended with err, and returns its path;
// a file not written whole is removed.
func closed(f *os.File, err error) (string, error) {
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("setting facts aside in %s: %w", f.Name(), err)
	}
	return f.Name(), nil
}

// source returns the decoder's view of a layer's facts: held, or in the
// file they were set aside in.
func source(c *cached, name string) facts.Source {
	if p, ok := c.Files[name]; ok {
		return facts.Source{Open: func() (io.ReadCloser, error) { return os.Open(p) }}
	}
	return facts.Source{Raw: c.Facts[name]}
}
