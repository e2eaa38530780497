// Package compress recognises and undoes the compressions container
// images use for layers and archives — gzip and zstd — in one place, so
// that every reader of image blobs agrees on what a blob is.
package compress

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"
)

// Kind is a blob's compression.
type Kind string

// Kinds.
const (
	None Kind = "none"
	Gzip Kind = "gzip"
	Zstd Kind = "zstd"
)

var zstdMagic = []byte{0x28, 0xb5, 0x2f, 0xfd}

// Sniff tells the compression from a blob's first four bytes.
func Sniff(magic []byte) Kind {
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		return Gzip
	case bytes.HasPrefix(magic, zstdMagic):
		return Zstd
	}
	return None
}

// Peek tells the compression of the stream br reads, without consuming it.
func Peek(br *bufio.Reader) Kind {
	magic, _ := br.Peek(4)
	return Sniff(magic)
}

// Options tune decompression.
type Options struct {
	// Readahead decompresses gzip in a goroutine of its own, this many
	// chunks of ChunkSize ahead of the reader (0: in the reader's
	// goroutine).
	Readahead, ChunkSize int
	// ZstdConcurrency is the number of zstd decoder goroutines (0: 1).
	ZstdConcurrency int
	// ZstdMaxWindow bounds the memory a zstd frame may ask for
	// (0: 64 MiB): a hostile frame cannot make the reader allocate more.
	ZstdMaxWindow uint64
}

// NewReader undoes compression k on r. Closing the result releases the
// decoder, not r.
func NewReader(k Kind, r io.Reader, o Options) (io.ReadCloser, error) {
	switch k {
	case Gzip:
		if o.Readahead > 0 {
			size := o.ChunkSize
			if size <= 0 {
				size = 1 << 20
			}
			zr, err := pgzip.NewReaderN(r, size, o.Readahead)
			if err != nil {
				return nil, fmt.Errorf("gzip: %w", err)
			}
			return zr, nil
		}
		zr, err := gzip.NewReader(r)
		if err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return zr, nil
	case Zstd:
		window := o.ZstdMaxWindow
		if window == 0 {
			window = 64 << 20
		}
		zr, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(max(o.ZstdConcurrency, 1)),
			zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(window), zstd.WithDecoderMaxMemory(1<<30))
		if err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return zr.IOReadCloser(), nil
	}
	return io.NopCloser(r), nil
}
