package analyze_test

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/cache"
)

// TestDamagedCacheIsAMiss: a cache entry that is truncated, garbled or
// claims absurd sizes is a miss — the layer is walked again, with the same
// result — never an error or a panic.
func TestDamagedCacheIsAMiss(t *testing.T) {
	for _, tt := range []struct {
		name    string
		content func(orig []byte) []byte
	}{
		{"truncated", func(orig []byte) []byte { return orig[:len(orig)/2] }},
		{"magic only", func(orig []byte) []byte { return orig[:18] }},
		{"huge header", func(orig []byte) []byte { return append(append([]byte{}, orig[:18]...), 0xff, 0xff, 0xff, 0xff, 0x0f) }},
		{"garbled entries", func(orig []byte) []byte {
			b := append([]byte{}, orig...)
			for i := len(b) - 40; i < len(b); i++ {
				b[i] ^= 0x5a
			}
			return b
		}},
		{"not zstd", func([]byte) []byte { return []byte("plain text") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			img := testImage(t)
			whole := &recorder{name: "whole", prefix: "/app/"}
			dir := t.TempDir()
			c, err := cache.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			res1, err := analyze.Run(context.Background(), img, []analyze.Analyzer{whole}, analyze.Options{Cache: c})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() || !strings.HasSuffix(p, ".zst") {
					return err
				}
				raw, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				dec, _ := zstd.NewReader(nil)
				orig, err := dec.DecodeAll(raw, nil)
				dec.Close()
				if err != nil {
					t.Fatal(err)
				}
				out := tt.content(orig)
				if tt.name != "not zstd" {
					enc, _ := zstd.NewWriter(nil)
					out = enc.EncodeAll(out, nil)
					enc.Close()
				}
				n++
				return os.WriteFile(p, out, 0o600)
			})
			if n == 0 {
				t.Fatal("nothing was cached")
			}
			// Read with every layer's shared facts set aside as the entry
			// is read: a damaged one is still a miss.
			res2, err := analyze.Run(context.Background(), img, []analyze.Analyzer{whole}, analyze.Options{Cache: c, TempDir: t.TempDir(), FactsInMemory: -1})
			if err != nil {
				t.Fatal(err)
			}
			for i, st := range res2.Layers {
				if st.Cached {
					t.Errorf("layer %d read from a damaged entry", i+1)
				}
				if st.Files != res1.Layers[i].Files {
					t.Errorf("layer %d: %d files, want %d", i+1, st.Files, res1.Layers[i].Files)
				}
			}
			if len(res2.Findings) != len(res1.Findings) {
				t.Errorf("%d findings, want %d", len(res2.Findings), len(res1.Findings))
			}
		})
	}
}

// slowStore is a shared cache whose writes take a while; it records, per
// key, the order of Put and of the release of the key's claim.
type slowStore struct {
	mu     sync.Mutex
	m      map[string][]byte
	events []string
}

func (s *slowStore) Get(key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[key]
	return v, ok
}

func (s *slowStore) Put(key string, v []byte) error {
	time.Sleep(50 * time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[key] = v
	s.events = append(s.events, "put "+key)
	return nil
}

func (s *slowStore) Claim(_ context.Context, key string) ([]byte, bool, func()) {
	return nil, false, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.events = append(s.events, "release "+key)
	}
}

// TestCacheWrittenBeforeRunReturns: layers are written to the cache while
// the scan goes on, but Run returns only once every layer is written, and
// a shared cache's claim on a layer is let go only after its write (the
// processes waiting on it then find the entry). A second Run is all hits.
func TestCacheWrittenBeforeRunReturns(t *testing.T) {
	img := testImage(t)
	s := &slowStore{m: map[string][]byte{}}
	whole := &recorder{name: "whole", prefix: "/app/"}
	if _, err := analyze.Run(context.Background(), img, []analyze.Analyzer{whole}, analyze.Options{Cache: s}); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	events := slices.Clone(s.events)
	s.mu.Unlock()
	if len(events) != 2*len(img.Layers) {
		t.Fatalf("events when Run returned: %q; want a put and a release per layer (%d layers)", events, len(img.Layers))
	}
	for i, ev := range events {
		if key, ok := strings.CutPrefix(ev, "release "); ok && !slices.Contains(events[:i], "put "+key) {
			t.Errorf("claim on %s released before its write: %q", key, events)
		}
	}
	res, err := analyze.Run(context.Background(), img, []analyze.Analyzer{whole}, analyze.Options{Cache: s})
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range res.Layers {
		if !st.Cached {
			t.Errorf("layer %d: not read from the cache on the second run", i+1)
		}
	}
}

// panicStore is a cache whose writes panic.
type panicStore struct{}

func (panicStore) Get(string) ([]byte, bool) { return nil, false }
func (panicStore) Put(string, []byte) error  { panic("disk on fire") }

// TestCacheWritePanic: the cache is best effort, and its writes run beside
// the scan: a write that panics is a logged warning naming the layer, not
// a failed scan or a crash.
func TestCacheWritePanic(t *testing.T) {
	img := testImage(t)
	var log strings.Builder
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &log}, nil))
	whole := &recorder{name: "whole", prefix: "/app/"}
	res, err := analyze.Run(context.Background(), img, []analyze.Analyzer{whole}, analyze.Options{Cache: panicStore{}, Logger: logger})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if len(res.Layers) != len(img.Layers) {
		t.Fatalf("%d layers in the result, want %d", len(res.Layers), len(img.Layers))
	}
	mu.Lock()
	defer mu.Unlock()
	for i := range img.Layers {
		if want := fmt.Sprintf("cache write of layer %d: internal error: disk on fire", i+1); !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}
