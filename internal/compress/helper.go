package compress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// A gzip helper is a program that undoes gzip faster than the in-process
// inflater: igzip, from Intel's ISA-L (Debian package isal), inflates a
// layer about 2.5 times as fast as klauspost's inflater, the fastest in Go,
// and in a process of its own, which the operating system schedules beside
// the scan's goroutines. It reads the compressed stream on stdin and writes
// the uncompressed one on stdout, checking each member's CRC-32 and size
// (`igzip -d -c`). containerd runs unpigz the same way.
//
// The output is only as trusted as the in-process inflater's: the caller
// hashes it and checks the diffID. One difference: igzip ignores bytes
// after the last gzip member, which the in-process inflater rejects; the
// blob digest still covers them.

// Helper specs: HelperAuto finds igzip on PATH, HelperNone inflates in
// process; anything else is the helper's path.
const (
	HelperAuto = "auto"
	HelperNone = "none"
)

// HelperName is the program HelperAuto looks for.
const HelperName = "igzip"

// HelperMinBytes is the smallest gzip stream worth a helper: below it,
// starting a process costs more than the faster inflate saves.
const HelperMinBytes = 16 << 20

// LookHelper resolves a helper spec to the helper's absolute path, or ""
// to inflate in process: HelperAuto when igzip is not on PATH, HelperNone,
// and "". A path that names no executable is an error.
func LookHelper(spec string) (string, error) {
	switch spec {
	case "", HelperNone:
		return "", nil
	case HelperAuto:
		p, err := exec.LookPath(HelperName)
		if err != nil {
			return "", nil
		}
		return filepath.Abs(p)
	}
	p, err := exec.LookPath(spec)
	if err != nil {
		return "", fmt.Errorf("gzip helper: %w", err)
	}
	return filepath.Abs(p)
}

// maxHelperStderr bounds what is kept of the helper's stderr for an error.
const maxHelperStderr = 4 << 10

// helperReader is the stdout of a running helper that r feeds.
type helperReader struct {
	cmd    *exec.Cmd
	out    *os.File
	stderr *boundedBuffer
	fed    chan error // the feeder's result, once
	once   sync.Once
	err    error // the outcome, set once the output ended
	done   bool
}

// NewHelperReader starts the gzip helper at path (see LookHelper) reading r
// and returns its output. Close stops the helper, kills it if it still
// runs, and releases it; it does not close r. The helper is killed when
// ctx ends.
//
// When r is an io.SectionReader of an *os.File (a blob in a local file),
// its bytes go from the file to the helper inside the kernel (splice(2)
// on Linux) rather than through this process: the compressed layer is
// then never copied here, and the section's offset is left as it was.
func NewHelperReader(ctx context.Context, path string, r io.Reader) (io.ReadCloser, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("gzip helper: %w", err)
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, fmt.Errorf("gzip helper: %w", err)
	}
	// Bigger pipes: fewer switches between the helper and the scan.
	growPipe(inW)
	growPipe(outW)
	cmd := exec.CommandContext(ctx, path, "-d", "-c")
	cmd.Stdin, cmd.Stdout = inR, outW
	stderr := &boundedBuffer{max: maxHelperStderr}
	cmd.Stderr = stderr
	cmd.Env = []string{} // it needs none of ours
	// Should the helper leave a child holding stderr open, Wait gives up
	// on it rather than hang.
	cmd.WaitDelay = 5 * time.Second
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("gzip helper: %w", err)
	}
	h := &helperReader{cmd: cmd, out: outR, stderr: stderr, fed: make(chan error, 1)}
	go func() {
		err := feed(inW, r)
		if cerr := inW.Close(); err == nil {
			err = cerr
		}
		h.fed <- err
	}()
	return h, nil
}

// feed writes r to the helper's stdin: what is left of a section of a
// local file by splice where the system can, anything else by copying.
func feed(w *os.File, r io.Reader) error {
	f, off, n, ok := fileRange(r)
	if !ok {
		_, err := io.Copy(w, r)
		return err
	}
	moved, err := spliceFile(w, f, off, n)
	if !errors.Is(err, errors.ErrUnsupported) {
		return err
	}
	// The kernel would not splice (another system, a file system
	// without it): copy what is left.
	_, err = io.Copy(w, io.NewSectionReader(f, off+moved, n-moved))
	return err
}

// fileRange is the part of a file that r has left to read, when r is a
// section of one.
func fileRange(r io.Reader) (f *os.File, off, n int64, ok bool) {
	sr, ok := r.(*io.SectionReader)
	if !ok {
		return nil, 0, 0, false
	}
	ra, off, n := sr.Outer()
	if f, ok = ra.(*os.File); !ok {
		return nil, 0, 0, false
	}
	pos, err := sr.Seek(0, io.SeekCurrent) // where the section is, from its start
	if err != nil {
		return nil, 0, 0, false
	}
	return f, off + pos, n - pos, true
}

func (h *helperReader) Read(p []byte) (int, error) {
	if h.done {
		return 0, h.err
	}
	n, err := h.out.Read(p)
	if err == io.EOF {
		h.done, h.err = true, h.finish()
		if h.err == nil {
			h.err = io.EOF
		}
		return n, h.err
	}
	if err != nil {
		return n, fmt.Errorf("gzip helper: %w", err)
	}
	return n, nil
}

// finish waits for the feeder and the helper once the output ended.
func (h *helperReader) finish() error {
	var err error
	h.once.Do(func() {
		ferr := <-h.fed
		werr := h.cmd.Wait()
		h.out.Close()
		switch {
		case werr != nil:
			err = fmt.Errorf("gzip: %s %w%s", filepath.Base(h.cmd.Path), werr, h.stderr.suffix())
		case ferr != nil:
			// The helper ended well but could not take all of the blob:
			// something other than the compressed stream failed to read.
			err = fmt.Errorf("gzip: reading blob: %w", ferr)
		}
	})
	return err
}

// Close stops the helper if it still runs and waits for it.
func (h *helperReader) Close() error {
	if !h.done {
		h.done, h.err = true, io.ErrClosedPipe
		h.cmd.Process.Kill()
		// The killed helper closed both pipes' far ends: the feeder's
		// write fails and it returns; its error is expected.
		h.once.Do(func() {
			h.out.Close()
			<-h.fed
			h.cmd.Wait()
		})
	}
	return nil
}

// boundedBuffer keeps the first max bytes written to it.
type boundedBuffer struct {
	mu  sync.Mutex
	b   []byte
	max int
}

func (b *boundedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - len(b.b); room > 0 {
		b.b = append(b.b, p[:min(len(p), room)]...)
	}
	return len(p), nil
}

// suffix is ": " and the helper's last stderr line, if it wrote any.
func (b *boundedBuffer) suffix() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := strings.TrimSpace(string(b.b))
	if s == "" {
		return ""
	}
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return ": " + s
}
