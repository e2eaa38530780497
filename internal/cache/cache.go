// Package cache stores per-layer scan results on disk, keyed by layer
// diffID and the versions of the code that produced them. Each entry is one
// file written to a temporary name and renamed into place, so any number of
// shipshape processes can read and write the same cache at once without a
// lock: readers see a whole entry or none.
package cache

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
)

// Cache is a directory of cached layer results. The zero value and a nil
// *Cache are valid caches that store nothing.
type Cache struct {
	dir string
}

// maxEntryBytes bounds a cached entry once decompressed.
const maxEntryBytes = 1 << 30

// Open opens (creating if needed) the cache in dir.
func Open(dir string) (*Cache, error) {
	if err := os.MkdirAll(filepath.Join(dir, "layers"), 0o700); err != nil {
		return nil, fmt.Errorf("cache %s: %w", dir, err)
	}
	return &Cache{dir: dir}, nil
}

// DefaultDir is the cache directory under the user cache directory.
func DefaultDir() (string, error) {
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("cache: %w", err)
	}
	return filepath.Join(d, "shipshape"), nil
}

// Dir is the cache's directory ("" for a disabled cache).
func (c *Cache) Dir() string {
	if c == nil {
		return ""
	}
	return c.dir
}

// Key derives a cache key from its parts.
func Key(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s;", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (c *Cache) path(key string) string {
	return filepath.Join(c.dir, "layers", key[:2], key+".zst")
}

// Get returns the entry stored under key. A missing or unreadable entry is
// a miss, never an error: the layer is then simply scanned again.
func (c *Cache) Get(key string) ([]byte, bool) {
	rc, ok := c.Reader(key)
	if !ok {
		return nil, false
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxEntryBytes))
	if err != nil {
		return nil, false
	}
	return b, true
}

// Reader opens the entry stored under key for streaming, decompressed and
// bounded to maxEntryBytes. A missing entry is a miss; a damaged one makes
// the reader fail, which the caller treats as a miss too.
func (c *Cache) Reader(key string) (io.ReadCloser, bool) {
	if c == nil || c.dir == "" {
		return nil, false
	}
	f, err := os.Open(c.path(key))
	if err != nil {
		return nil, false
	}
	zr, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
	if err != nil {
		f.Close()
		return nil, false
	}
	return &entryReader{Reader: io.LimitReader(zr, maxEntryBytes), zr: zr, f: f}, true
}

type entryReader struct {
	io.Reader
	zr *zstd.Decoder
	f  *os.File
}

func (r *entryReader) Close() error {
	r.zr.Close()
	return r.f.Close()
}

// Put stores value under key atomically.
func (c *Cache) Put(key string, value []byte) error {
	return c.Write(key, func(w io.Writer) error {
		_, err := w.Write(value)
		return err
	})
}

// Write stores what write writes under key atomically, streaming it to the
// cache file: an entry need not fit in memory. Nothing is stored when write
// fails.
func (c *Cache) Write(key string, write func(w io.Writer) error) error {
	if c == nil || c.dir == "" {
		return nil
	}
	p := c.path(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".tmp-*")
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	// A 1 MiB window: a layer's index is written while the scan's heap is
	// at its largest, and a larger window's history (4 MiB) buys next to
	// nothing on an index whose paths repeat within a few entries.
	zw, err := zstd.NewWriter(tmp, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1), zstd.WithLowerEncoderMem(true), zstd.WithWindowSize(1<<20))
	if err != nil {
		tmp.Close()
		return fmt.Errorf("cache: %w", err)
	}
	if err := write(zw); err != nil {
		zw.Close()
		tmp.Close()
		return fmt.Errorf("cache: %w", err)
	}
	if err := zw.Close(); err != nil {
		tmp.Close()
		return fmt.Errorf("cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	return nil
}

// Clear removes every cached layer result.
func (c *Cache) Clear() error {
	if c == nil || c.dir == "" {
		return nil
	}
	err := os.RemoveAll(filepath.Join(c.dir, "layers"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cache: %w", err)
	}
	return os.MkdirAll(filepath.Join(c.dir, "layers"), 0o700)
}
