package compress

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"
)

func TestRoundTrip(t *testing.T) {
	want := bytes.Repeat([]byte("layer data "), 1000)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(want)
	zw.Close()
	var zs bytes.Buffer
	ze, _ := zstd.NewWriter(&zs)
	ze.Write(want)
	ze.Close()
	for _, tt := range []struct {
		name string
		blob []byte
		kind Kind
		opts Options
	}{
		{"plain", want, None, Options{}},
		{"gzip", gz.Bytes(), Gzip, Options{}},
		{"gzip readahead", gz.Bytes(), Gzip, Options{Readahead: 2, ChunkSize: 4096}},
		{"zstd", zs.Bytes(), Zstd, Options{ZstdConcurrency: 2}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReader(bytes.NewReader(tt.blob))
			if k := Peek(br); k != tt.kind {
				t.Fatalf("Peek = %s, want %s", k, tt.kind)
			}
			rc, err := NewReader(tt.kind, br, tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("read %d bytes, %v; want %d", len(got), err, len(want))
			}
		})
	}
}

func TestSniffShortAndGarbage(t *testing.T) {
	for _, b := range [][]byte{nil, {0x1f}, {0x28, 0xb5, 0x2f}, []byte("ustar")} {
		if k := Sniff(b); k != None {
			t.Errorf("Sniff(%x) = %s, want none", b, k)
		}
	}
	if _, err := NewReader(Gzip, bytes.NewReader([]byte{0x1f, 0x8b, 0, 0}), Options{}); err == nil {
		t.Error("a broken gzip header was accepted")
	}
}
