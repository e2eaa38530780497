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
		e := &fstree.Entry{Path: "/f", Type: fstree.Regular, Size: int64(tt.size)}
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
