package redact

import (
	"bytes"
	"io"
	"sync"
)

// maxLine bounds what a Writer holds back waiting for the end of a line:
// a longer line is redacted and written in pieces, each cut after a space
// or a tab (values have none), and only a run of more than maxLine bytes
// without one is cut anywhere (a value cut in two may then show).
const maxLine = 64 << 10

// lineContext is how much of an overlong line's last piece is given to
// find again with the next piece, so that a rule that needs the words in
// front of a value ("password: …") still finds it after a cut.
const lineContext = 1 << 10

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
	prev []byte // the end of the pieces of an overlong line written so far
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
	if end := bytes.LastIndexAny(w.buf, "\n\r") + 1; end > 0 {
		err := w.emit(w.buf[:end])
		w.prev = w.prev[:0]
		w.buf = append(w.buf[:0], w.buf[end:]...)
		if err != nil {
			return 0, err
		}
	}
	if len(w.buf) > maxLine {
		// What is left is a line without an end yet, too long to hold.
		cut := bytes.LastIndexAny(w.buf, " \t") + 1
		if cut == 0 || len(w.buf)-cut > maxLine {
			cut = len(w.buf)
		}
		err := w.emit(w.buf[:cut])
		w.prev = append(w.prev, w.buf[:cut]...)
		if len(w.prev) > lineContext {
			w.prev = append(w.prev[:0], w.prev[len(w.prev)-lineContext:]...)
		}
		w.buf = append(w.buf[:0], w.buf[cut:]...)
		if err != nil {
			return 0, err
		}
	}
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
	w.prev = w.prev[:0]
	return err
}

// emit writes text, whole lines or a piece of an overlong one, redacted;
// the values are looked for in text after the end of the line's pieces
// already written.
func (w *Writer) emit(text []byte) error {
	scope := text
	if len(w.prev) > 0 {
		scope = append(append([]byte(nil), w.prev...), text...)
	}
	if values := w.find(scope); len(values) > 0 {
		text = []byte(New(values...).String(string(text)))
	}
	_, err := w.w.Write(text)
	return err
}
