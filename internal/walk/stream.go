package walk

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/shipshape-dev/shipshape/internal/compress"
	"github.com/shipshape-dev/shipshape/internal/image"
)

// Read-ahead sizes: 4 chunks of 1 MiB keep both cores busy on one layer
// without holding much memory.
const (
	chunkSize  = 1 << 20
	chunkCount = 4
	// peekSize is the buffer the compression is sniffed through, smaller
	// than the chunks read through it (chunkSize/4, chunkSize), which bufio
	// then reads straight from the blob.
	peekSize = 4 << 10
)

// Stream is a layer blob read as its uncompressed tar: the compression is
// detected and undone, the uncompressed bytes are hashed (the diffID),
// counted and bounded by the limits (size and decompression ratio) in a
// goroutine ahead of the reader, and the blob digest is checked. Every
// reader of layer content goes through it, so that none escapes the
// limits.
type Stream struct {
	l     *image.Layer
	raw   *counter // the blob as stored
	blob  *counter // the blob after the peek buffer
	kind  compress.Kind
	dec   io.ReadCloser
	ahead *readahead // the compressed blob, read and hashed ahead of the inflater
	// hashed reads and hashes a local blob beside the helper that is
	// given the file (openLocal); nil otherwise.
	hashed *blobHasher
	blobH  hash.Hash // the blob's digest, when checked
	un     *readahead
	diffH  hash.Hash
	check  bool
}

// Sums are what a finished stream measured.
type Sums struct {
	// RawBytes is the blob's size as stored; Bytes uncompressed.
	RawBytes, Bytes int64
	// DiffID is the digest of the uncompressed tar.
	DiffID v1.Hash
}

// Open starts reading rc, the blob of layer l.
//
// A gzip blob of compress.HelperMinBytes or more that rc holds in a local file
// (image.LocalBlob) is given to the gzip helper as the file itself and
// read beside it, from its own section: rc's position is then not used.
func Open(ctx context.Context, l *image.Layer, rc io.Reader, o Options) (*Stream, error) {
	if o.Limits == (Limits{}) {
		o.Limits = DefaultLimits
	}
	if lb, ok := rc.(image.LocalBlob); ok && o.GzipHelper != "" && l.Size >= compress.HelperMinBytes {
		if s, ok, err := openLocal(ctx, l, lb, o); ok || err != nil {
			return s, err
		}
	}
	progress := o.Progress
	// raw counts the blob's bytes (for progress and the ratio limit). The
	// blob digest is hashed above the peek buffer, once the compression is
	// known, so that an uncompressed blob is hashed only once.
	raw := &counter{r: rc, progress: progress, ctx: ctx}
	// The peek buffer is small: once it is drained, bufio hands every read
	// of a chunk straight to raw, so the blob is not copied through it (a
	// 1 MiB buffer cost a copy of every compressed byte: 0.2 s of CPU on
	// the benchmark image's gzip layout).
	br := bufio.NewReaderSize(raw, peekSize)
	s := &Stream{l: l, raw: raw, blob: &counter{r: br, ctx: ctx}, kind: compress.Peek(br), diffH: sha256.New()}
	s.check = l.Digest.Hex != "" && !l.Verified
	var in io.Reader = s.blob
	if s.kind != compress.None {
		// The compressed blob is read (and hashed) in a goroutine of its
		// own: the inflater of the biggest layer is the scan's critical
		// path, and it then does nothing but inflate.
		if s.check {
			s.blobH = sha256.New()
		}
		s.ahead = newReadahead(ctx, s.blob, s.blobH, chunkSize/4, chunkCount, nil)
		in = s.ahead
	}
	var (
		dec io.ReadCloser
		err error
	)
	if s.kind == compress.Gzip && o.GzipHelper != "" && l.Size >= compress.HelperMinBytes {
		dec, err = compress.NewHelperReader(ctx, o.GzipHelper, in)
	} else {
		dec, err = compress.NewReader(s.kind, in, compress.Options{
			// pgzip decompresses in a goroutine of its own, ahead of the reader.
			Readahead: chunkCount, ChunkSize: chunkSize, ZstdConcurrency: 2,
		})
	}
	if err != nil {
		if s.ahead != nil {
			s.ahead.Close()
		}
		return nil, err
	}
	s.dec = dec
	s.un = newReadahead(ctx, dec, s.diffH, chunkSize, chunkCount, s.limit(o.Limits))
	return s, nil
}

// openLocal opens a gzip blob stored in a local file with the gzip helper
// reading the file itself (compress.NewHelperReader splices it), so that
// the compressed bytes are not copied through this process on their way
// to it; the blob is read and hashed beside it, from a section of its own.
// ok is false, with no error, when the blob is not gzip.
func openLocal(ctx context.Context, l *image.Layer, lb image.LocalBlob, o Options) (*Stream, bool, error) {
	sec := lb.Section()
	magic := make([]byte, 4)
	n, _ := io.ReadFull(sec, magic)
	if compress.Sniff(magic[:n]) != compress.Gzip {
		return nil, false, nil
	}
	if _, err := sec.Seek(0, io.SeekStart); err != nil {
		return nil, false, err
	}
	s := &Stream{l: l, kind: compress.Gzip, diffH: sha256.New()}
	s.check = l.Digest.Hex != "" && !l.Verified
	s.raw = &counter{r: lb.Section(), progress: o.Progress, ctx: ctx}
	if s.check {
		s.blobH = sha256.New()
		s.hashed = hashBlob(ctx, s.raw, s.blobH)
	} else {
		// Nothing to verify: the size is all the walk needs of the blob.
		s.raw.n.Store(sec.Size())
		if o.Progress != nil {
			o.Progress(sec.Size())
		}
	}
	dec, err := compress.NewHelperReader(ctx, o.GzipHelper, sec)
	if err != nil {
		if s.hashed != nil {
			s.hashed.Close()
		}
		return nil, true, err
	}
	s.dec = dec
	s.un = newReadahead(ctx, dec, s.diffH, chunkSize, chunkCount, s.limit(o.Limits))
	return s, true, nil
}

// limit checks the uncompressed total against the size and ratio limits.
// With a local blob hashed ahead of the helper, the blob's count runs
// ahead of what the helper inflated: the ratio is then measured against
// more of the blob, never more than all of it, and still bounds a bomb.
func (s *Stream) limit(lim Limits) check {
	return func(total int64) error {
		if total > lim.MaxLayerBytes {
			return fmt.Errorf("uncompressed layer is larger than %d bytes (raise --max-layer-bytes): %w", lim.MaxLayerBytes, ErrLimit)
		}
		if rawN := s.raw.count(); lim.MaxRatio > 0 && total > lim.RatioFloor && rawN > 0 && total/rawN > lim.MaxRatio {
			return fmt.Errorf("layer expands more than %d× (%d bytes from %d): a decompression bomb? (raise --max-ratio): %w", lim.MaxRatio, total, rawN, ErrLimit)
		}
		return nil
	}
}

// blobHasher reads a blob to its end in a goroutine of its own, hashing it.
type blobHasher struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

// hashBlob starts reading r into h; r must stop when ctx ends (a counter).
func hashBlob(ctx context.Context, c *counter, h hash.Hash) *blobHasher {
	ctx, cancel := context.WithCancel(ctx)
	c.ctx = ctx
	b := &blobHasher{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(b.done)
		_, b.err = io.CopyBuffer(h, c, make([]byte, chunkSize))
	}()
	return b
}

// wait returns once the blob was read, with the reading error.
func (b *blobHasher) wait() error {
	<-b.done
	return b.err
}

// Close stops the reading and waits for it.
func (b *blobHasher) Close() {
	b.cancel()
	<-b.done
}

// Compression is the blob's compression.
func (s *Stream) Compression() compress.Kind { return s.kind }

// Read reads the uncompressed tar.
func (s *Stream) Read(p []byte) (int, error) { return s.un.Read(p) }

// Close stops reading; it is safe to call more than once.
func (s *Stream) Close() error {
	s.un.Close()
	err := s.dec.Close()
	if s.ahead != nil {
		s.ahead.Close()
	}
	if s.hashed != nil {
		s.hashed.Close()
	}
	return err
}

// Finish reads what remains of the blob (what follows the tar's
// end-of-archive marker, so that both hashes cover the whole blob) and
// checks the diffID and the blob digest against the layer's.
func (s *Stream) Finish() (Sums, error) {
	if _, err := io.Copy(io.Discard, s.un); err != nil {
		return Sums{}, fmt.Errorf("reading past end of archive: %w", err)
	}
	if s.ahead != nil {
		if _, err := io.Copy(io.Discard, s.ahead); err != nil {
			return Sums{}, fmt.Errorf("reading blob: %w", err)
		}
	}
	if s.hashed != nil {
		if err := s.hashed.wait(); err != nil {
			return Sums{}, fmt.Errorf("reading blob: %w", err)
		}
	}
	sums := Sums{RawBytes: s.raw.count(), Bytes: s.un.Count(), DiffID: sum(s.diffH)}
	if s.l.DiffID.Hex != "" && sums.DiffID != s.l.DiffID {
		return Sums{}, fmt.Errorf("diffID mismatch: the config says %s but the layer content hashes to %s", s.l.DiffID, sums.DiffID)
	}
	if s.check {
		got := sums.DiffID
		if s.blobH != nil {
			got = sum(s.blobH)
		}
		if got != s.l.Digest {
			return Sums{}, fmt.Errorf("digest mismatch: the manifest says %s but the blob hashes to %s", s.l.Digest, got)
		}
	}
	return sums, nil
}
