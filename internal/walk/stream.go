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
	blobH hash.Hash  // its digest, when checked
	un    *readahead
	diffH hash.Hash
	check bool
}

// Sums are what a finished stream measured.
type Sums struct {
	// RawBytes is the blob's size as stored; Bytes uncompressed.
	RawBytes, Bytes int64
	// DiffID is the digest of the uncompressed tar.
	DiffID v1.Hash
}

// Open starts reading rc, the blob of layer l.
func Open(ctx context.Context, l *image.Layer, rc io.Reader, o Options) (*Stream, error) {
	lim, progress := o.Limits, o.Progress
	if lim == (Limits{}) {
		lim = DefaultLimits
	}
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
	if s.kind == compress.Gzip && o.GzipHelper != "" && l.Size >= HelperMinBytes {
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
	limit := func(total int64) error {
		if total > lim.MaxLayerBytes {
			return fmt.Errorf("uncompressed layer is larger than %d bytes (raise --max-layer-bytes): %w", lim.MaxLayerBytes, ErrLimit)
		}
		if rawN := raw.count(); lim.MaxRatio > 0 && total > lim.RatioFloor && rawN > 0 && total/rawN > lim.MaxRatio {
			return fmt.Errorf("layer expands more than %d× (%d bytes from %d): a decompression bomb? (raise --max-ratio): %w", lim.MaxRatio, total, rawN, ErrLimit)
		}
		return nil
	}
	s.un = newReadahead(ctx, dec, s.diffH, chunkSize, chunkCount, limit)
	return s, nil
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
