package analyze

import (
	"bufio"
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

// factsWriter is a LayerScanner that writes its facts as it encodes them
// (facts.Collector): they need not be held whole to be set aside.
type factsWriter interface {
	WriteFacts(w io.Writer) error
	// Size is about the size of the facts, before they are written.
	Size() int64
}

// writeFacts has fw write its facts: held in memory while the budget
// allows (f), moved to a new file once it does not (its path p). Facts
// that would not fit by their size go to the file from the start: they
// are not gathered in memory first.
func (s *spill) writeFacts(fw factsWriter) (f []byte, p string, err error) {
	w := &spillWriter{s: s}
	if n := fw.Size(); s.hold(n) {
		s.release(n) // held as they are written
		// In a buffer of about their size: grown by doubling, the
		// copies left behind would be the scan's peak.
		w.buf = make([]byte, 0, n)
	} else if err := w.toFile(); err != nil {
		return nil, "", err
	}
	err = fw.WriteFacts(w)
	if w.f != nil {
		if ferr := w.bw.Flush(); err == nil {
			err = ferr
		}
		p, err := closed(w.f, err)
		return nil, p, err
	}
	if err != nil {
		s.release(int64(len(w.buf)))
		return nil, "", err
	}
	return w.buf, "", nil
}

// spillWriter holds what is written while the budget allows and, once it
// does not, moves it to a file and writes the rest there.
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
