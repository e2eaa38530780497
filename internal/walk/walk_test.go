package walk

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/image"
)

type hdr struct {
	name, link string
	typ        byte
	body       string
	pax        map[string]string
}

func mkTar(t testing.TB, hs ...hdr) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, h := range hs {
		typ := h.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		th := &tar.Header{Name: h.name, Linkname: h.link, Typeflag: typ, Mode: 0o644, Size: int64(len(h.body)), PAXRecords: h.pax}
		if typ != tar.TypeReg {
			th.Size = 0
		}
		if err := tw.WriteHeader(th); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			tw.Write([]byte(h.body))
		}
	}
	tw.Close()
	return b.Bytes()
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

func gz(b []byte) []byte {
	var o bytes.Buffer
	w := gzip.NewWriter(&o)
	w.Write(b)
	w.Close()
	return o.Bytes()
}

func zst(b []byte) []byte {
	var o bytes.Buffer
	w, _ := zstd.NewWriter(&o)
	w.Write(b)
	w.Close()
	return o.Bytes()
}

// collect records the content the walk hands out.
type collect struct{ files map[string]string }

func (c *collect) Wants(e *fstree.Entry) bool { return true }
func (c *collect) File(_ context.Context, e *fstree.Entry, r io.Reader) error {
	b, err := io.ReadAll(r)
	c.files[e.Path] = string(b)
	return err
}

func TestCompressionsAndDigests(t *testing.T) {
	plain := mkTar(t, hdr{name: "etc/", typ: tar.TypeDir}, hdr{name: "etc/hosts", body: "127.0.0.1 localhost\n"})
	for _, tc := range []struct {
		name string
		blob []byte
	}{{"none", plain}, {"gzip", gz(plain)}, {"zstd", zst(plain)}} {
		t.Run(tc.name, func(t *testing.T) {
			c := &collect{files: map[string]string{}}
			res, err := Layer(context.Background(), layerOf(tc.blob, digest(plain), digest(tc.blob)), DefaultLimits, c, nil)
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

func TestHostileLayers(t *testing.T) {
	plain := mkTar(t, hdr{name: "a", body: "x"})
	bomb := func() []byte {
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		tw.WriteHeader(&tar.Header{Name: "zeros", Mode: 0o644, Size: 64 << 20, Typeflag: tar.TypeReg})
		tw.Write(make([]byte, 64<<20))
		tw.Close()
		return gz(b.Bytes())
	}()
	tests := []struct {
		name    string
		blob    []byte
		diffID  v1.Hash
		digest  v1.Hash
		limits  func(*Limits)
		wantErr string
		isLimit bool
	}{
		{name: "diffID mismatch", blob: plain, diffID: digest([]byte("other")), wantErr: "diffID mismatch"},
		{name: "digest mismatch", blob: gz(plain), diffID: digest(plain), digest: digest([]byte("other")), wantErr: "digest mismatch"},
		{name: "truncated gzip", blob: gz(plain)[:20], wantErr: "unexpected EOF"},
		{name: "truncated tar", blob: mkTar(t, hdr{name: "big", body: strings.Repeat("x", 4000)})[:1500], wantErr: "unexpected EOF"},
		{name: "truncated at a block boundary", blob: plain[:1024], diffID: digest(plain), wantErr: "diffID mismatch"},
		{name: "garbage", blob: bytes.Repeat([]byte{0xde, 0xad}, 700), wantErr: "reading tar"},
		{name: "gzip bomb", blob: bomb, limits: func(l *Limits) { l.RatioFloor = 1 << 20; l.MaxRatio = 100 }, wantErr: "decompression bomb", isLimit: true},
		{name: "too large", blob: bomb, limits: func(l *Limits) { l.MaxLayerBytes = 1 << 20 }, wantErr: "larger than", isLimit: true},
		{name: "too many entries", blob: mkTar(t, hdr{name: "a"}, hdr{name: "b"}, hdr{name: "c"}), limits: func(l *Limits) { l.MaxEntries = 2 }, wantErr: "more than 2 entries", isLimit: true},
		{name: "long name", blob: mkTar(t, hdr{name: strings.Repeat("a/", 3000) + "b"}), wantErr: "longer than", isLimit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lim := DefaultLimits
			if tt.limits != nil {
				tt.limits(&lim)
			}
			_, err := Layer(context.Background(), layerOf(tt.blob, tt.diffID, tt.digest), lim, &collect{files: map[string]string{}}, nil)
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
	blob := mkTar(t,
		hdr{name: "../../etc/evil", body: "1"},
		hdr{name: "/abs/file", body: "2"},
		hdr{name: "link", typ: tar.TypeSymlink, link: "../../../../etc/shadow"},
		hdr{name: "hard", typ: tar.TypeLink, link: "../../outside"},
		hdr{name: "dup", body: "first"},
		hdr{name: "dup", body: "second"},
		hdr{name: ".wh.", typ: tar.TypeReg},
		hdr{name: "d/.wh..wh..opq"},
		hdr{name: "d/.wh.gone"},
		hdr{name: "bad\xffname", body: "3"},
		hdr{name: "bin/ping", body: "elf", pax: map[string]string{"SCHILY.xattr.security.capability": "\x01\x00\x00\x02"}},
	)
	c := &collect{files: map[string]string{}}
	res, err := Layer(context.Background(), layerOf(blob, digest(blob), v1.Hash{}), DefaultLimits, c, nil)
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]*fstree.Entry{}
	for _, e := range res.Index.Entries {
		byPath[string(e.Type)+e.Path] = e
	}
	for _, want := range []string{"f/etc/evil", "f/abs/file", "l/link", "h/hard", "o/d", "w/d/gone", "f/bad\xffname", "f/bin/ping"} {
		if byPath[want] == nil {
			t.Errorf("no entry %q", want)
		}
	}
	if e := byPath["l/link"]; e != nil && e.Linkname != "../../../../etc/shadow" {
		t.Errorf("symlink target rewritten: %q", e.Linkname)
	}
	if e := byPath["h/hard"]; e != nil && e.Linkname != "/outside" {
		t.Errorf("hardlink target = %q, want clamped /outside", e.Linkname)
	}
	if e := byPath["f/bin/ping"]; e == nil || string(e.Capability) != "\x01\x00\x00\x02" {
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
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	const n = 200_000
	for i := 0; i < n; i++ {
		tw.WriteHeader(&tar.Header{Name: "f/" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "/" + itoa(i), Mode: 0o644, Typeflag: tar.TypeReg})
	}
	tw.Close()
	res, err := Layer(context.Background(), layerOf(gz(b.Bytes()), v1.Hash{}, v1.Hash{}), DefaultLimits, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Index.Entries) != n {
		t.Errorf("entries = %d, want %d", len(res.Index.Entries), n)
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

// paxSparseTar is a tar archive holding one PAX 1.0 sparse file, name, of
// logical size realSize whose only data are the 4 bytes "data" at its
// end: what GNU tar --sparse --format=pax writes for a file of holes.
// archive/tar reads such files but cannot write them, so the blocks are
// built here.
func paxSparseTar(name string, realSize int64) []byte {
	header := func(name string, size int64, typ byte) []byte {
		b := make([]byte, 512)
		copy(b[0:100], name)
		copy(b[100:108], "0000644\x00")
		copy(b[108:116], "0000000\x00")
		copy(b[116:124], "0000000\x00")
		copy(b[124:136], fmt.Sprintf("%011o\x00", size))
		copy(b[136:148], "00000000000\x00")
		b[156] = typ
		copy(b[257:265], "ustar\x0000")
		copy(b[148:156], "        ")
		sum := 0
		for _, c := range b {
			sum += int(c)
		}
		copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
		return b
	}
	record := func(k, v string) string {
		// "LEN key=value\n", LEN counting itself.
		n := len(k) + len(v) + 3
		for l := n + len(fmt.Sprint(n)); ; l++ {
			if len(fmt.Sprint(l))+n == l {
				return fmt.Sprintf("%d %s=%s\n", l, k, v)
			}
		}
	}
	pad := func(b []byte) []byte { return append(b, make([]byte, (512-len(b)%512)%512)...) }
	pax := record("GNU.sparse.major", "1") + record("GNU.sparse.minor", "0") +
		record("GNU.sparse.name", name) + record("GNU.sparse.realsize", fmt.Sprint(realSize))
	sparseMap := pad([]byte(fmt.Sprintf("1\n%d\n4\n", realSize-4)))
	data := append(sparseMap, "data"...)
	var out []byte
	out = append(out, header("PaxHeaders.0/"+name, int64(len(pax)), 'x')...)
	out = append(out, pad([]byte(pax))...)
	out = append(out, header("GNUSparseFile.0/"+name, int64(len(data)), '0')...)
	out = append(out, pad(data)...)
	return append(out, make([]byte, 1024)...)
}

func TestSparseFileIsNotExpandedUnlessRead(t *testing.T) {
	blob := paxSparseTar("sparse", 1<<40)
	// The archive is what it claims: archive/tar reads a 1 TiB file.
	h, err := tar.NewReader(bytes.NewReader(blob)).Next()
	if err != nil || h.Name != "sparse" || h.Size != 1<<40 {
		t.Fatalf("the fixture is not a sparse 1 TiB file: %+v, %v", h, err)
	}
	start := time.Now()
	res, err := Layer(context.Background(), layerOf(blob, v1.Hash{}, v1.Hash{}), DefaultLimits, nil, nil)
	// The walk succeeds without expanding the holes: the entry is listed
	// with its logical size, the stream read is the archive's few blocks,
	// and it finishes at once.
	if err != nil {
		t.Fatalf("walk of a sparse 1 TiB file: %v", err)
	}
	if len(res.Index.Entries) != 1 || res.Index.Entries[0].Path != "/sparse" || res.Index.Entries[0].Size != 1<<40 {
		for _, e := range res.Index.Entries {
			t.Logf("entry %+v", *e)
		}
		t.Fatalf("%d entries, want /sparse of 1 TiB", len(res.Index.Entries))
	}
	if res.Bytes > int64(len(blob)) {
		t.Errorf("read %d bytes of a %d-byte archive", res.Bytes, len(blob))
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the walk took %s", d)
	}
}
