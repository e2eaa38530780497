package compress

import (
	"bufio"
	"bytes"
	stdgzip "compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"syscall"
	"testing"

	kgzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/pgzip"
)

// gzipBlob is the blob the inflate benchmarks read: SHIPSHAPE_BENCH_GZIP
// (a gzip layer blob, e.g. the biggest one of bench/run.sh's OCI layout)
// when set, else 64 MiB of generated text-like data compressed here.
func gzipBlob(b *testing.B) []byte {
	b.Helper()
	if p := os.Getenv("SHIPSHAPE_BENCH_GZIP"); p != "" {
		blob, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		return blob
	}
	rng := rand.New(rand.NewPCG(1, 2))
	words := []string{"usr", "lib", "share", "doc", "python3", "import", "return", "const", "0x1f", "\x00\x00\x00", "ELF", "function"}
	var raw bytes.Buffer
	for raw.Len() < 64<<20 {
		raw.WriteString(words[rng.IntN(len(words))])
		if rng.IntN(4) == 0 {
			fmt.Fprintf(&raw, "%d", rng.Uint32())
		}
		raw.WriteByte(" \n/"[rng.IntN(3)])
	}
	var gz bytes.Buffer
	zw := stdgzip.NewWriter(&gz)
	zw.Write(raw.Bytes())
	zw.Close()
	return gz.Bytes()
}

// drain reads r to the end in 1 MiB reads, the way the walker's read-ahead
// does (io.Copy would let a reader with WriteTo skip a copy the walker
// cannot skip).
func drain(r io.Reader) (int64, error) {
	buf := make([]byte, 1<<20)
	var n int64
	for {
		m, err := io.ReadFull(r, buf)
		n += int64(m)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

// cpuSeconds is the user+system CPU time this process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// BenchmarkInflate compares the gzip readers usable without cgo on one
// blob: the standard library's, klauspost/compress's, and pgzip's
// read-ahead (klauspost's inflate in a goroutine of its own), the latter
// also with the blob's SHA-256 computed in the inflating goroutine (what a
// digest check on the compressed stream costs there). Bytes/s are
// uncompressed bytes.
func BenchmarkInflate(b *testing.B) {
	blob := gzipBlob(b)
	type opener func(r io.Reader) (io.ReadCloser, error)
	for _, tt := range []struct {
		name string
		open opener
		hash bool
	}{
		{"stdlib", func(r io.Reader) (io.ReadCloser, error) { return stdgzip.NewReader(r) }, false},
		{"klauspost", func(r io.Reader) (io.ReadCloser, error) { return kgzip.NewReader(r) }, false},
		{"pgzip", func(r io.Reader) (io.ReadCloser, error) { return pgzip.NewReaderN(r, 1<<20, 4) }, false},
		{"pgzip+sha256", func(r io.Reader) (io.ReadCloser, error) { return pgzip.NewReaderN(r, 1<<20, 4) }, true},
	} {
		b.Run(tt.name, func(b *testing.B) {
			var n int64
			cpu0 := cpuSeconds()
			for b.Loop() {
				var r io.Reader = bufio.NewReaderSize(bytes.NewReader(blob), 1<<20)
				if tt.hash {
					r = io.TeeReader(r, sha256.New())
				}
				zr, err := tt.open(r)
				if err != nil {
					b.Fatal(err)
				}
				n, err = drain(zr)
				if err != nil {
					b.Fatal(err)
				}
				zr.Close()
			}
			b.SetBytes(n)
			// CPU time is steadier than wall time on a busy machine.
			b.ReportMetric((cpuSeconds()-cpu0)/float64(b.N), "cpu-s/op")
		})
	}
}
