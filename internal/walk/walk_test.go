package walk

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/shipshape-dev/shipshape/internal/compress"
	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// tarOf is the uncompressed tar of files.
func tarOf(files ...imagetest.File) []byte { return imagetest.Layer{Files: files}.Tar() }

// blobOf is the layer blob of files compressed with c.
func blobOf(c imagetest.Compression, files ...imagetest.File) []byte {
	return imagetest.Layer{Files: files, Compression: c}.Blob()
}

func digest(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

func layerOf(blob []byte, diffID, dig v1.Hash) *image.Layer {
	l := image.NewLayer(func(context.Context) (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil })
	l.Index, l.DiffID, l.Digest, l.Size = 1, diffID, dig, int64(len(blob))
	return l
}

// localBlob is a blob in a local file, as an OCI layout's or an archive's
// layers are (image.LocalBlob).
type localBlob struct {
	*io.SectionReader
	f *os.File
}

func (b localBlob) Section() *io.SectionReader {
	_, off, n := b.Outer()
	return io.NewSectionReader(b.f, off, n)
}

func (localBlob) Close() error { return nil }

// localLayerOf is layerOf with the blob in a file, between bytes that are
// not the blob's (a gzip member of their own), as in a docker-save archive.
// The blob's own reader is left at its end: a walk given the file must read
// the blob from its sections, not from it.
func localLayerOf(t *testing.T, blob []byte, diffID, dig v1.Hash) *image.Layer {
	t.Helper()
	other := blobOf(imagetest.Gzip, imagetest.Reg("not/this", "layer"))
	f, err := os.Create(filepath.Join(t.TempDir(), "archive"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(slices.Concat(other, blob, other)); err != nil {
		t.Fatal(err)
	}
	l := image.NewLayer(func(context.Context) (io.ReadCloser, error) {
		b := localBlob{io.NewSectionReader(f, int64(len(other)), int64(len(blob))), f}
		_, err := b.Seek(0, io.SeekEnd)
		return b, err
	})
	l.Index, l.DiffID, l.Digest, l.Size = 1, diffID, dig, int64(len(blob))
	return l
}

// collect records the content the walk hands out.
type collect struct{ files map[string]string }

func (c *collect) Wants(e *fstree.Entry) bool { return true }
func (c *collect) File(_ context.Context, e *fstree.Entry, r io.Reader) error {
	b, err := io.ReadAll(r)
	c.files[e.Path()] = string(b)
	return err
}

func TestCompressionsAndDigests(t *testing.T) {
	files := []imagetest.File{imagetest.Dir("etc/"), imagetest.Reg("etc/hosts", "127.0.0.1 localhost\n")}
	plain := tarOf(files...)
	for _, tc := range []struct {
		name string
		blob []byte
	}{{"none", plain}, {"gzip", blobOf(imagetest.Gzip, files...)}, {"zstd", blobOf(imagetest.Zstd, files...)}} {
		t.Run(tc.name, func(t *testing.T) {
			c := &collect{files: map[string]string{}}
			res, err := Layer(context.Background(), layerOf(tc.blob, digest(plain), digest(tc.blob)), c, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Compression != tc.name || res.DiffID != digest(plain) || res.Bytes != int64(len(plain)) {
				t.Errorf("got compression %s diffID %s bytes %d", res.Compression, res.DiffID, res.Bytes)
			}
			if c.files["/etc/hosts"] != "127.0.0.1 localhost\n" {
				t.Errorf("content = %q", c.files["/etc/hosts"])
			}
		})
	}
}

// hostileLayer is a layer blob the walk must refuse, and why.
type hostileLayer struct {
	name    string
	blob    []byte
	diffID  v1.Hash
	digest  v1.Hash
	limits  func(*Limits)
	wantErr string
	isLimit bool
}

func TestHostileLayers(t *testing.T) {
	plain := tarOf(imagetest.Reg("a", "x"))
	plainGz := blobOf(imagetest.Gzip, imagetest.Reg("a", "x"))
	bomb := imagetest.GzipBomb(64 << 20).Blob()
	tests := []hostileLayer{
		{name: "diffID mismatch", blob: plain, diffID: digest([]byte("other")), wantErr: "diffID mismatch"},
		{name: "digest mismatch", blob: plainGz, diffID: digest(plain), digest: digest([]byte("other")), wantErr: "digest mismatch"},
		{name: "truncated gzip", blob: plainGz[:20], wantErr: "unexpected EOF"},
		{name: "truncated tar", blob: tarOf(imagetest.Reg("big", strings.Repeat("x", 4000)))[:1500], wantErr: "unexpected EOF"},
		{name: "truncated at a block boundary", blob: plain[:1024], diffID: digest(plain), wantErr: "diffID mismatch"},
		{name: "garbage", blob: bytes.Repeat([]byte{0xde, 0xad}, 700), wantErr: "reading tar"},
		{name: "gzip bomb", blob: bomb, limits: func(l *Limits) { l.RatioFloor = 1 << 20; l.MaxRatio = 100 }, wantErr: "decompression bomb", isLimit: true},
		{name: "too large", blob: bomb, limits: func(l *Limits) { l.MaxLayerBytes = 1 << 20 }, wantErr: "larger than", isLimit: true},
		{name: "too many entries", blob: tarOf(imagetest.Reg("a", ""), imagetest.Reg("b", ""), imagetest.Reg("c", "")), limits: func(l *Limits) { l.MaxEntries = 2 }, wantErr: "more than 2 entries", isLimit: true},
		{name: "long name", blob: tarOf(imagetest.Reg(strings.Repeat("a/", 3000)+"b", "")), wantErr: "longer than", isLimit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := DefaultLimits
			if tt.limits != nil {
				tt.limits(&lim)
			}
			_, err := Layer(context.Background(), layerOf(tt.blob, tt.diffID, tt.digest), &collect{files: map[string]string{}}, Options{Limits: lim})
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), "layer 1") {
				t.Errorf("error %q does not name the layer", err)
			}
			if errors.Is(err, ErrLimit) != tt.isLimit {
				t.Errorf("errors.Is(err, ErrLimit) = %v, want %v", !tt.isLimit, tt.isLimit)
			}
		})
	}
}

func TestHostileEntries(t *testing.T) {
	blob := tarOf(
		imagetest.Reg("../../etc/evil", "1"),
		imagetest.Reg("/abs/file", "2"),
		imagetest.Symlink("link", "../../../../etc/shadow"),
		imagetest.Hardlink("hard", "../../outside"),
		imagetest.Reg("dup", "first"),
		imagetest.Reg("dup", "second"),
		imagetest.Reg(".wh.", ""),
		imagetest.Opaque("d"),
		imagetest.Whiteout("d/gone"),
		imagetest.Reg("bad\xffname", "3"),
		imagetest.File{Name: "bin/ping", Content: []byte("elf"), PAX: map[string]string{"SCHILY.xattr.security.capability": "\x01\x00\x00\x02"}},
	)
	c := &collect{files: map[string]string{}}
	res, err := Layer(context.Background(), layerOf(blob, digest(blob), v1.Hash{}), c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]*fstree.Entry{}
	for _, e := range res.Index.All() {
		byPath[string(e.Type)+e.Path()] = e
	}
	for _, want := range []string{"f/etc/evil", "f/abs/file", "l/link", "h/hard", "o/d", "w/d/gone", "f/bad\xffname", "f/bin/ping"} {
		if byPath[want] == nil {
			t.Errorf("no entry %q", want)
		}
	}
	if e := byPath["l/link"]; e != nil && e.Linkname() != "../../../../etc/shadow" {
		t.Errorf("symlink target rewritten: %q", e.Linkname())
	}
	if e := byPath["h/hard"]; e != nil && e.Linkname() != "/outside" {
		t.Errorf("hardlink target = %q, want clamped /outside", e.Linkname())
	}
	if e := byPath["f/bin/ping"]; e == nil || string(e.Capability()) != "\x01\x00\x00\x02" {
		t.Errorf("capability xattr lost")
	}
	if c.files["/dup"] != "second" {
		t.Errorf("duplicate entry content = %q, want the later one", c.files["/dup"])
	}
	joined := strings.Join(res.Warnings, "\n")
	for _, w := range []string{`"../../etc/evil" leaves the image root`, `"/abs/file" leaves the image root`, `whiteout ".wh." names no file`, `hardlink /hard points to "../../outside"`} {
		if !strings.Contains(joined, w) {
			t.Errorf("warnings lack %q:\n%s", w, joined)
		}
	}
	// The squashed tree keeps the later duplicate and resolves the escaping
	// symlink inside the root.
	tr := fstree.Squash([]*fstree.Layer{res.Index})
	if p, _, err := tr.Resolve("/link"); err != nil || p != "/etc/shadow" {
		t.Errorf("Resolve(/link) = %q, %v", p, err)
	}
}

func TestManyTinyEntries(t *testing.T) {
	const n = 200_000
	blob := imagetest.Layer{Compression: imagetest.Gzip, Generate: func(yield func(imagetest.File) bool) {
		for i := 0; i < n; i++ {
			if !yield(imagetest.File{Name: "f/" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "/" + itoa(i)}) {
				return
			}
		}
	}}.Blob()
	res, err := Layer(context.Background(), layerOf(blob, v1.Hash{}, v1.Hash{}), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Index.Len() != n {
		t.Errorf("entries = %d, want %d", res.Index.Len(), n)
	}
}

func itoa(i int) string {
	var b [20]byte
	p := len(b)
	for {
		p--
		b[p] = byte('0' + i%10)
		i /= 10
		if i == 0 {
			return string(b[p:])
		}
	}
}

func TestSparseFileIsNotExpandedUnlessRead(t *testing.T) {
	// A GNU sparse 1.0 file (what GNU tar --sparse --format=pax writes): 4
	// bytes of data, then a hole up to 1 TiB.
	blob := tarOf(imagetest.File{Name: "sparse", Content: []byte("data"), Size: 1 << 40, Sparse: true})
	// The archive is what it claims: archive/tar reads a 1 TiB file.
	h, err := tar.NewReader(bytes.NewReader(blob)).Next()
	if err != nil || h.Name != "sparse" || h.Size != 1<<40 {
		t.Fatalf("the fixture is not a sparse 1 TiB file: %+v, %v", h, err)
	}
	start := time.Now()
	res, err := Layer(context.Background(), layerOf(blob, v1.Hash{}, v1.Hash{}), nil, Options{})
	// The walk succeeds without expanding the holes: the entry is listed
	// with its logical size, the stream read is the archive's few blocks,
	// and it finishes at once.
	if err != nil {
		t.Fatalf("walk of a sparse 1 TiB file: %v", err)
	}
	if res.Index.Len() != 1 || res.Index.At(0).Path() != "/sparse" || res.Index.At(0).Size != 1<<40 {
		for _, e := range res.Index.All() {
			t.Logf("entry %+v", *e)
		}
		t.Fatalf("%d entries, want /sparse of 1 TiB", res.Index.Len())
	}
	if res.Bytes > int64(len(blob)) {
		t.Errorf("read %d bytes of a %d-byte archive", res.Bytes, len(blob))
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the walk took %s", d)
	}
}

// TestReadaheadClose checks that a read-ahead stopped by its consumer
// answers later reads with an error, never with (0, nil), which a reader
// above it (the inflater reading the compressed blob) would retry forever.
func TestReadaheadClose(t *testing.T) {
	src := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	ra := newReadahead(context.Background(), bytes.NewReader(src), nil, 4096, 2, nil)
	buf := make([]byte, 100)
	if _, err := io.ReadFull(ra, buf); err != nil || !bytes.Equal(buf, src[:100]) {
		t.Fatalf("first read: %q, %v", buf, err)
	}
	ra.Close()
	ra.Close() // twice is fine
	if n, err := ra.Read(buf); n != 0 || err != io.ErrClosedPipe {
		t.Errorf("read after close: %d, %v; want 0, %v", n, err, io.ErrClosedPipe)
	}
}

// TestGzipHelper reads gzip layers through the real igzip, as a scan does
// when it is on PATH, with a wrapper that records that it ran: content,
// digests and every limit hold as with the in-process inflater.
func TestGzipHelper(t *testing.T) {
	helper, runs := testenv.CountedBinary(t, compress.HelperName) // Debian package isal
	// big gives a layer the size that sends it to the helper.
	big := func(l *image.Layer) *image.Layer { l.Size = compress.HelperMinBytes; return l }

	files := []imagetest.File{imagetest.Dir("etc/"), imagetest.Reg("etc/hosts", "127.0.0.1 localhost\n")}
	plain := tarOf(files...)
	gz := blobOf(imagetest.Gzip, files...)
	// Each layer is read from memory (copied to the helper) and from a
	// file (the helper given the file, the blob hashed beside it).
	sources := []struct {
		name  string
		layer func(t *testing.T, blob []byte, diffID, dig v1.Hash) *image.Layer
	}{
		{"memory", func(_ *testing.T, blob []byte, diffID, dig v1.Hash) *image.Layer { return layerOf(blob, diffID, dig) }},
		{"file", localLayerOf},
	}
	for i, src := range sources {
		c := &collect{files: map[string]string{}}
		res, err := Layer(context.Background(), big(src.layer(t, gz, digest(plain), digest(gz))), c, Options{GzipHelper: helper})
		if err != nil {
			t.Fatalf("%s: %v", src.name, err)
		}
		if runs() != i+1 {
			t.Fatalf("%s: the helper ran %d times, want %d", src.name, runs(), i+1)
		}
		if res.Compression != "gzip" || res.DiffID != digest(plain) || res.Bytes != int64(len(plain)) || res.RawBytes != int64(len(gz)) {
			t.Errorf("%s: got compression %s diffID %s bytes %d raw %d", src.name, res.Compression, res.DiffID, res.Bytes, res.RawBytes)
		}
		if len(c.files) != 1 || c.files["/etc/hosts"] != "127.0.0.1 localhost\n" {
			t.Errorf("%s: content = %q", src.name, c.files)
		}
	}
	c := &collect{files: map[string]string{}}

	// A small layer stays in process.
	if _, err := Layer(context.Background(), layerOf(gz, digest(plain), digest(gz)), c, Options{GzipHelper: helper}); err != nil {
		t.Fatal(err)
	}
	if runs() != 2 {
		t.Errorf("a %d-byte layer went to the helper", len(gz))
	}

	bomb := imagetest.GzipBomb(64 << 20).Blob()
	for _, tt := range []hostileLayer{
		{name: "digest mismatch", blob: gz, diffID: digest(plain), digest: digest([]byte("other")), wantErr: "digest mismatch"},
		{name: "diffID mismatch", blob: gz, diffID: digest([]byte("other")), wantErr: "diffID mismatch"},
		{name: "truncated gzip", blob: gz[:len(gz)/2], wantErr: "igzip-wrapper exit status"},
		{name: "gzip bomb", blob: bomb, limits: func(l *Limits) { l.RatioFloor = 1 << 20; l.MaxRatio = 100 }, wantErr: "decompression bomb", isLimit: true},
		{name: "too large", blob: bomb, limits: func(l *Limits) { l.MaxLayerBytes = 1 << 20 }, wantErr: "larger than", isLimit: true},
	} {
		for _, src := range sources {
			t.Run(tt.name+"/"+src.name, func(t *testing.T) {
				before := runs()
				lim := DefaultLimits
				if tt.limits != nil {
					tt.limits(&lim)
				}
				_, err := Layer(context.Background(), big(src.layer(t, tt.blob, tt.diffID, tt.digest)), &collect{files: map[string]string{}}, Options{Limits: lim, GzipHelper: helper})
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				if errors.Is(err, ErrLimit) != tt.isLimit {
					t.Errorf("errors.Is(err, ErrLimit) = %v, want %v", !tt.isLimit, tt.isLimit)
				}
				if runs() != before+1 {
					t.Errorf("the helper did not run")
				}
			})
		}
	}
}
