package redact

import (
	"bytes"
	"io"
	"sync"
)

// maxLine bounds what a Writer holds back waiting for the end of a line:
// a longer line is redacted and written in pieces (a value cut in two may
// then show).
const maxLine = 64 << 10

// Writer redacts a text stream line by line — the logs, errors and
// progress a command writes to stderr — before passing it on: each line
// (ended by '\n' or '\r', so that a progress line is not held back) is
// given to find, and every value find returns is replaced in it by its
// redacted form, as in a report. A value is so hidden even when no scan
// has found it yet (a token in a registry URL, a line of a file quoted
// in a debug log). It is safe for concurrent use; Flush writes a last
// line that has no end.
type Writer struct {
	mu   sync.Mutex
	w    io.Writer
	find func(line []byte) []string
	buf  []byte
}

// NewWriter returns a Writer passing redacted lines on to w. find
// returns the secret values in a line (nil when there are none).
func NewWriter(w io.Writer, find func(line []byte) []string) *Writer {
	return &Writer{w: w, find: find}
}

// Write takes p whole; complete lines are redacted and written at once.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	end := bytes.LastIndexAny(w.buf, "\n\r") + 1
	if end == 0 && len(w.buf) > maxLine {
		end = len(w.buf)
	}
	if end == 0 {
		return len(p), nil
	}
	if err := w.emit(w.buf[:end]); err != nil {
		return 0, err
	}
	w.buf = append(w.buf[:0], w.buf[end:]...)
	return len(p), nil
}

// Flush redacts and writes what is held back.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) == 0 {
		return nil
	}
	err := w.emit(w.buf)
	w.buf = w.buf[:0]
	return err
}

// emit writes text, whole lines (or a piece of an overlong one),
// redacted.
func (w *Writer) emit(text []byte) error {
	values := w.find(text)
	if len(values) > 0 {
		text = []byte(New(values...).String(string(text)))
	}
	_, err := w.w.Write(text)
	return err
}
