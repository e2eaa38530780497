package fstree

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"slices"
)

// The binary form of a layer's entries, for the layer cache: compact (each
// path is written as the length it shares with the previous path and the
// rest) and read back without reflection. A million entries take about
// 20 MB and decode in a fraction of a second, where JSON took ten times
// that. Layer, RemovedIn and OverwrittenIn are not written: they describe
// the image, not the layer.
//
//	entries := count uvarint, entry*, order
//	entry   := shared uvarint, suffix string, type byte, mode uvarint,
//	           size varint, uid varint, gid varint, linkname string,
//	           capability string
//	string  := length uvarint, bytes
//	order   := 0 uvarint (the entries are in Squash's order) |
//	           count uvarint, step varint*count
//
// The order is the entries' places in the order Squash sorts them (by
// path, then time), each written as its difference from the previous
// place plus one — mostly zeros, as archives are mostly in order. An
// archive written in byte order ("/a.b" before "/a/b", as umoci and many
// tar tools write) is sorted once, when its layer is first read, not on
// every re-scan.

// errCodec marks an encoding that cannot be read (a truncated or damaged
// cache file).
var errCodec = errors.New("bad layer encoding")

// maxCodecString bounds a string read back (paths and link names are
// bounded far lower by the walker).
const maxCodecString = 1 << 20

// WriteLayer writes l's entries in the binary form to w.
func WriteLayer(w *bufio.Writer, l *Layer) error {
	var buf [binary.MaxVarintLen64]byte
	uv := func(v uint64) { w.Write(buf[:binary.PutUvarint(buf[:], v)]) }
	sv := func(v int64) { w.Write(buf[:binary.PutVarint(buf[:], v)]) }
	str := func(s string) { uv(uint64(len(s))); w.WriteString(s) }
	uv(uint64(l.Len()))
	var prev, p []byte // the previous path and this one, in buffers reused
	sorted, prevMarker := true, false
	for i, e := range l.All() {
		p = e.AppendPath(p[:0])
		shared := 0
		for shared < len(prev) && shared < len(p) && prev[shared] == p[shared] {
			shared++
		}
		marker := e.Type == Whiteout || e.Type == Opaque
		if i > 0 && sorted {
			var prevAt byte
			if shared < len(prev) {
				prevAt = prev[shared]
			}
			sorted = inOrder(len(prev), prevAt, p, shared, prevMarker, marker)
		}
		prevMarker = marker
		uv(uint64(shared))
		uv(uint64(len(p) - shared))
		w.Write(p[shared:])
		w.WriteByte(byte(e.Type))
		uv(uint64(e.Mode()))
		sv(e.Size)
		sv(int64(e.UID))
		sv(int64(e.GID))
		str(e.Linkname())
		uv(uint64(len(e.Capability())))
		w.Write(e.Capability())
		prev, p = p, prev
	}
	if sorted {
		uv(0)
		return w.Flush()
	}
	order := sortedOrder(l)
	uv(uint64(len(order)))
	last := int64(-1)
	for _, i := range order {
		sv(int64(i) - last - 1)
		last = int64(i)
	}
	return w.Flush()
}

// sortedOrder returns the places of l's entries in the order Squash sorts
// them.
func sortedOrder(l *Layer) []uint32 {
	ix := newIndex([]*Layer{l})
	refs := make([]ref, l.Len())
	for i := range refs {
		refs[i] = ix.ref(0, i)
	}
	slices.SortFunc(refs, ix.compare)
	order := make([]uint32, len(refs))
	for j, r := range refs {
		_, i := ix.at(r)
		order[j] = uint32(i)
	}
	return order
}

// readOrder reads the order section of a layer of count entries: nil when
// the entries are in order. Anything but a permutation of their places is
// an error.
func (d *decoder) readOrder(count int) ([]uint32, error) {
	n := d.uv()
	switch {
	case d.err != nil:
		return nil, d.err
	case n == 0:
		return nil, nil
	case n != uint64(count):
		return nil, fmt.Errorf("%w: an order of %d places for %d entries", errCodec, n, count)
	}
	order := make([]uint32, count)
	seen := make([]uint64, (count+63)/64)
	last := int64(-1)
	for j := range order {
		i := last + 1 + d.sv()
		if d.err != nil {
			return nil, d.err
		}
		if i < 0 || i >= int64(count) || seen[i/64]&(1<<(i%64)) != 0 {
			return nil, fmt.Errorf("%w: order names place %d of %d entries, or twice", errCodec, i, count)
		}
		seen[i/64] |= 1 << (i % 64)
		order[j], last = uint32(i), i
	}
	return order, nil
}

// decoder reads the binary form straight from a bufio.Reader's buffer:
// a varint or a string that is already buffered (nearly all of them) is
// decoded in place, without a call per byte.
type decoder struct {
	r       *bufio.Reader
	err     error
	scratch []byte
}

func (d *decoder) uv() uint64 {
	if d.err != nil {
		return 0
	}
	if b, _ := d.r.Peek(min(d.r.Buffered(), binary.MaxVarintLen64)); len(b) > 0 {
		if v, n := binary.Uvarint(b); n > 0 {
			d.r.Discard(n)
			return v
		}
	}
	var v uint64
	v, d.err = binary.ReadUvarint(d.r)
	return v
}

func (d *decoder) sv() int64 {
	u := d.uv()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

// bytes returns the next string's bytes, valid until the next call.
func (d *decoder) bytes() []byte {
	n := d.uv()
	if d.err != nil {
		return nil
	}
	if n > maxCodecString {
		d.err = fmt.Errorf("%w: string of %d bytes", errCodec, n)
		return nil
	}
	if int(n) <= d.r.Buffered() {
		b, _ := d.r.Peek(int(n))
		d.r.Discard(int(n))
		return b // bufio keeps these bytes until the next read
	}
	if uint64(cap(d.scratch)) < n {
		d.scratch = make([]byte, n)
	}
	d.scratch = d.scratch[:n]
	_, d.err = io.ReadFull(d.r, d.scratch)
	return d.scratch
}

func (d *decoder) u8() byte {
	if d.err != nil {
		return 0
	}
	var c byte
	c, d.err = d.r.ReadByte()
	return c
}

// ReadLayer reads entries written by WriteLayer as layer number layer
// (set on each entry). It also tells, for free, whether they are in the
// order Squash sorts them (Layer.Sorted): each path is read as the bytes
// it shares with the previous one and the rest, so the first byte that
// differs decides.
func ReadLayer(r *bufio.Reader, layer int) (*Layer, error) {
	d := &decoder{r: r}
	count := d.uv()
	if d.err != nil {
		return nil, fmt.Errorf("%w: %w", errCodec, d.err)
	}
	if count > math.MaxInt32 {
		return nil, fmt.Errorf("%w: %d entries", errCodec, count)
	}
	l := &Layer{Index: layer}
	var ahead *blocksAhead
	if count >= aheadFrom {
		ahead = newBlocksAhead(int((count + 1<<blockBits - 1) >> blockBits))
		defer ahead.stop()
	}
	var (
		e     Entry
		paths Paths
		p     []byte // the path, in place of the previous one
	)
	prevMarker := false
	sorted := true
	var err error
	for i := range count {
		e = Entry{}
		shared := d.uv()
		suffix := d.bytes()
		if d.err == nil && shared > uint64(len(p)) {
			d.err = fmt.Errorf("%w: path shares %d bytes of %d", errCodec, shared, len(p))
		}
		if d.err != nil {
			break
		}
		prevLen, prevAt := len(p), byte(0)
		if shared < uint64(len(p)) {
			prevAt = p[shared]
		}
		p = append(p[:shared], suffix...)
		paths.SetBytes(&e, p)
		e.Type = Type(d.u8())
		mode := d.uv()
		if mode > math.MaxUint32 && d.err == nil {
			d.err = fmt.Errorf("%w: mode %#x", errCodec, mode)
		}
		e.SetMode(fs.FileMode(mode))
		e.Size = d.sv()
		e.UID = uint32(d.sv())
		e.GID = uint32(d.sv())
		linkname := string(d.bytes()) // copied: the next read may reuse the bytes ("" costs nothing)
		paths.SetMore(&e, linkname, d.bytes())
		if d.err != nil {
			break
		}
		e.Layer = uint16(layer)
		if ahead != nil && l.n == len(l.blocks)<<blockBits {
			if b := ahead.next(); b != nil {
				l.grow(b)
			}
		}
		l.Add(&e)
		marker := e.Type == Whiteout || e.Type == Opaque
		if i > 0 && sorted {
			sorted = inOrder(prevLen, prevAt, p, int(shared), prevMarker, marker)
		}
		prevMarker = marker
	}
	err = d.err
	if err == nil {
		l.order, err = d.readOrder(l.Len())
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		if !errors.Is(err, errCodec) {
			err = fmt.Errorf("%w: %w", errCodec, err)
		}
		return nil, err
	}
	l.Sorted = sorted
	return l, nil
}

// inOrder reports whether cur may follow the previous path in Squash's
// order (path, then time: a layer's whiteouts and opaque markers act
// before its entries), given that they share exactly their first k bytes;
// the previous path was prevLen bytes long, prevAt its byte k (if any).
// A k that is not the whole common prefix (a foreign encoder) gives false,
// and Squash then checks the order itself.
func inOrder(prevLen int, prevAt byte, cur []byte, k int, prevMarker, curMarker bool) bool {
	switch {
	case k < prevLen && k < len(cur):
		if prevAt == cur[k] {
			return false
		}
		// ComparePaths at the first byte that differs.
		return prevAt == '/' || (cur[k] != '/' && prevAt < cur[k])
	case k == prevLen && k == len(cur):
		// The same path: a marker after an entry acts before it.
		return prevMarker || !curMarker
	default:
		return k == prevLen // the previous path is a parent of cur, not the reverse
	}
}
