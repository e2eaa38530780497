package walk

import (
	"context"
	"hash"
	"io"
	"sync/atomic"
)

// readahead reads a stream in its own goroutine, hashing and counting what
// it reads, and hands the bytes over in chunks. It lets decompression and
// hashing of one layer run on one core while the tar parsing and the
// analyzers run on another.
type readahead struct {
	chunks chan []byte
	free   chan []byte
	done   chan struct{}
	cur    []byte
	buf    []byte
	err    error // set by the producer before closing chunks
	n      atomic.Int64
	closed atomic.Bool
}

// check is called by the producer after each chunk with the running total;
// an error stops the stream.
type check func(total int64) error

func newReadahead(ctx context.Context, r io.Reader, h hash.Hash, size, count int, chk check) *readahead {
	ra := &readahead{
		chunks: make(chan []byte, count),
		free:   make(chan []byte, count),
		done:   make(chan struct{}),
	}
	for i := 0; i < count; i++ {
		ra.free <- make([]byte, size)
	}
	go ra.produce(ctx, r, h, chk)
	return ra
}

func (ra *readahead) produce(ctx context.Context, r io.Reader, h hash.Hash, chk check) {
	defer close(ra.chunks)
	for {
		var buf []byte
		select {
		case buf = <-ra.free:
		case <-ra.done:
			return
		case <-ctx.Done():
			ra.err = ctx.Err()
			return
		}
		n, err := io.ReadFull(r, buf)
		if n > 0 {
			if h != nil {
				h.Write(buf[:n])
			}
			total := ra.n.Add(int64(n))
			if chk != nil {
				if cerr := chk(total); cerr != nil {
					ra.err = cerr
					return
				}
			}
			select {
			case ra.chunks <- buf[:n]:
			case <-ra.done:
				return
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			if err == io.ErrUnexpectedEOF {
				err = nil // a short last chunk
			}
			ra.err = io.EOF
			return
		}
		if err != nil {
			ra.err = err
			return
		}
	}
}

func (ra *readahead) Read(p []byte) (int, error) {
	if ra.closed.Load() {
		return 0, io.ErrClosedPipe
	}
	for len(ra.cur) == 0 {
		if ra.buf != nil {
			ra.free <- ra.buf[:cap(ra.buf)]
			ra.buf = nil
		}
		c, ok := <-ra.chunks
		if !ok {
			return 0, ra.err
		}
		ra.buf, ra.cur = c, c
	}
	n := copy(p, ra.cur)
	ra.cur = ra.cur[n:]
	return n, nil
}

// WriteTo hands w each chunk as it is, rather than through io.Copy's
// buffer: the gzip helper's feeder writes the compressed blob to a pipe
// in whole chunks, one copy and many write calls fewer.
func (ra *readahead) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if len(ra.cur) > 0 {
			n, err := w.Write(ra.cur)
			total += int64(n)
			ra.cur = ra.cur[n:]
			if err != nil {
				return total, err
			}
			continue
		}
		if ra.closed.Load() {
			return total, io.ErrClosedPipe
		}
		if ra.buf != nil {
			ra.free <- ra.buf[:cap(ra.buf)]
			ra.buf = nil
		}
		c, ok := <-ra.chunks
		if !ok {
			if ra.err == io.EOF {
				return total, nil
			}
			return total, ra.err
		}
		ra.buf, ra.cur = c, c
	}
}

// Close stops the producer. It must be called when the consumer stops
// early; it is safe to call more than once.
func (ra *readahead) Close() {
	if ra.closed.CompareAndSwap(false, true) {
		close(ra.done)
		for range ra.chunks {
		}
	}
}

// Count is the number of bytes the producer has read so far.
func (ra *readahead) Count() int64 { return ra.n.Load() }
