package analyze

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/image"
)

// sum is an analyzer that wants every file and hashes what it gets.
type sum struct{ got [][32]byte }

func (s *sum) Name() string                                    { return "sum" }
func (s *sum) Version() string                                 { return "1" }
func (s *sum) Wants(*fstree.Entry) (bool, int64)               { return true, 0 }
func (s *sum) NewLayer(*image.Layer) LayerScanner              { return s }
func (s *sum) Finish(context.Context, *Input) (*Output, error) { return nil, nil }
func (s *sum) Facts() (json.RawMessage, error)                 { return nil, nil }
func (s *sum) File(_ context.Context, _ *fstree.Entry, r io.Reader) error {
	b, err := io.ReadAll(r)
	s.got = append(s.got, sha256.Sum256(b))
	return err
}

// TestDispatcherDropsBigBuffers checks that content wanted by several
// analyzers reaches each of them whole, and that the buffer a big file
// needed is not kept for the rest of the layer.
func TestDispatcherDropsBigBuffers(t *testing.T) {
	a, b := &sum{}, &sum{}
	d := newDispatcher(&image.Layer{Index: 1}, []Analyzer{a, b})
	// The header's size (Size) is what is read; a shorter content (a
	// truncated archive: the walk reports the error) is replayed as it is.
	for _, tt := range []struct{ size, short int }{{100, 0}, {4 << 20, 0}, {200, 0}, {300, 100}, {2 << 20, 1 << 20}, {50, 0}} {
		size := tt.size - tt.short
		content := bytes.Repeat([]byte{byte(size)}, size)
		e := &fstree.Entry{Type: fstree.Regular, Size: int64(tt.size)}
		e.SetPath("/f")
		if !d.Wants(e) {
			t.Fatal("not wanted")
		}
		if err := d.File(context.Background(), e, bytes.NewReader(content)); err != nil {
			t.Fatal(err)
		}
		want := sha256.Sum256(content)
		if a.got[len(a.got)-1] != want || b.got[len(b.got)-1] != want {
			t.Errorf("size %d: an analyzer got other content", size)
		}
		if c := cap(d.buf); c > keepBuffer {
			t.Errorf("after a file of %d bytes the dispatcher keeps a buffer of %d bytes, want at most %d", size, c, keepBuffer)
		}
	}
}

// first is an analyzer that reads the first bytes of a file and stops.
type first struct {
	sum
	n int
}

func (f *first) NewLayer(*image.Layer) LayerScanner { return f }
func (f *first) File(_ context.Context, _ *fstree.Entry, r io.Reader) error {
	b := make([]byte, f.n)
	n, err := io.ReadFull(r, b)
	f.got = append(f.got, sha256.Sum256(b[:n]))
	return err
}

// TestFanOutEarlyStop streams a file too big to buffer to two analyzers,
// one of which stops after a few bytes: the other still gets it whole.
func TestFanOutEarlyStop(t *testing.T) {
	a, b := &first{n: 10}, &sum{}
	d := newDispatcher(&image.Layer{Index: 1}, []Analyzer{a, b})
	content := make([]byte, bufferBelow+3<<20)
	for i := range content {
		content[i] = byte(i * 7)
	}
	e := &fstree.Entry{Type: fstree.Regular, Size: int64(len(content))}
	e.SetPath("/big")
	if !d.Wants(e) {
		t.Fatal("not wanted")
	}
	if err := d.File(context.Background(), e, bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	if a.got[0] != sha256.Sum256(content[:10]) {
		t.Error("the analyzer that stopped got other bytes")
	}
	if b.got[0] != sha256.Sum256(content) {
		t.Error("the analyzer that read everything got other content")
	}
}
