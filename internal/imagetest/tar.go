package imagetest

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// WriteTar writes the layer's uncompressed tar to w: the entries of Files
// then Generate, or, for Raw layers, Raw decompressed per Compression (Raw
// itself when that fails).
func (l Layer) WriteTar(w io.Writer) error {
	if l.Raw != nil {
		_, err := w.Write(rawTar(l.Raw, l.Compression))
		return err
	}
	tw := tar.NewWriter(w)
	for f := range l.entries() {
		if err := writeEntry(tw, w, f); err != nil {
			return fmt.Errorf("entry %q: %w", f.Name, err)
		}
	}
	return tw.Close()
}

// WriteBlob writes the layer blob to w, as it is stored in an image:
// compressed per Compression, or Raw verbatim.
func (l Layer) WriteBlob(w io.Writer) error {
	if l.Raw != nil {
		_, err := w.Write(l.Raw)
		return err
	}
	cw, err := compressor(w, l.Compression)
	if err != nil {
		return err
	}
	if err := l.WriteTar(cw); err != nil {
		return err
	}
	return cw.Close()
}

// Tar returns the layer's uncompressed tar (see WriteTar). It panics if the
// layer cannot be built.
func (l Layer) Tar() []byte {
	var b bytes.Buffer
	if err := l.WriteTar(&b); err != nil {
		panic("imagetest: " + err.Error())
	}
	return b.Bytes()
}

// Blob returns the layer blob (see WriteBlob), e.g. to truncate it into a
// Raw layer: Layer{Raw: l.Blob()[:100], Compression: l.Compression}. It
// panics if the layer cannot be built.
func (l Layer) Blob() []byte {
	var b bytes.Buffer
	if err := l.WriteBlob(&b); err != nil {
		panic("imagetest: " + err.Error())
	}
	return b.Bytes()
}

// entries yields Files then Generate's entries.
func (l Layer) entries() func(func(File) bool) {
	return func(yield func(File) bool) {
		for _, f := range l.Files {
			if !yield(f) {
				return
			}
		}
		if l.Generate != nil {
			l.Generate(yield)
		}
	}
}

// rawTar decompresses a Raw layer per c, or returns raw when that fails.
func rawTar(raw []byte, c Compression) []byte {
	var r io.Reader
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			return raw
		}
		r = zr
	case Zstd:
		zr, err := zstd.NewReader(bytes.NewReader(raw), zstd.WithDecoderConcurrency(1))
		if err != nil {
			return raw
		}
		defer zr.Close()
		r = zr
	default:
		return raw
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return raw
	}
	return b
}

// compressor wraps w in c's compressor, with fixed settings so that the
// output is reproducible.
func compressor(w io.Writer, c Compression) (io.WriteCloser, error) {
	switch c {
	case Uncompressed:
		return nopWriteCloser{w}, nil
	case Gzip:
		return gzip.NewWriterLevel(w, gzip.DefaultCompression)
	case Zstd:
		return zstd.NewWriter(w, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
	}
	return nil, fmt.Errorf("unknown compression %d", int(c))
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// hasData reports whether entries of type typ carry data in a tar archive.
func hasData(typ byte) bool {
	switch typ {
	case tar.TypeLink, tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeDir, tar.TypeFifo:
		return false
	}
	return true
}

func (f File) typ() byte {
	if f.Type == 0 {
		return tar.TypeReg
	}
	return f.Type
}

func (f File) mode() int64 {
	switch {
	case f.Mode == ModeZero:
		return 0
	case f.Mode != 0:
		return f.Mode
	case f.typ() == tar.TypeDir:
		return 0o755
	case f.typ() == tar.TypeSymlink:
		return 0o777
	}
	return 0o644
}

func (f File) modTime() time.Time {
	if f.ModTime.IsZero() {
		return Epoch
	}
	return f.ModTime
}

// size is the file's length: Content, padded with zeros up to Size.
func (f File) size() int64 {
	if !hasData(f.typ()) {
		return 0
	}
	return max(int64(len(f.Content)), f.Size)
}

// writeEntry writes one entry to tw, whose underlying writer is w.
func writeEntry(tw *tar.Writer, w io.Writer, f File) error {
	if f.Sparse {
		if f.typ() != tar.TypeReg {
			return errors.New("only regular files can be sparse")
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		return writeSparse(w, f)
	}
	if f.typ() == tar.TypeXGlobalHeader {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: f.Name, PAXRecords: f.PAX, Format: f.Format})
	}
	hdr := &tar.Header{
		Typeflag:   f.typ(),
		Name:       f.Name,
		Linkname:   f.Linkname,
		Mode:       f.mode(),
		Uid:        f.UID,
		Gid:        f.GID,
		Uname:      f.Uname,
		Gname:      f.Gname,
		Size:       f.size(),
		ModTime:    f.modTime(),
		Devmajor:   f.Devmajor,
		Devminor:   f.Devminor,
		PAXRecords: f.PAX,
		Format:     f.Format,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Size == 0 {
		return nil
	}
	if _, err := tw.Write(f.Content); err != nil {
		return err
	}
	return writeZeros(tw, hdr.Size-int64(len(f.Content)))
}

var zeros [64 << 10]byte

func writeZeros(w io.Writer, n int64) error {
	for n > 0 {
		k := min(n, int64(len(zeros)))
		if _, err := w.Write(zeros[:k]); err != nil {
			return err
		}
		n -= k
	}
	return nil
}

const blockSize = 512

func blockPad(n int64) int64 { return -n & (blockSize - 1) }

// writeSparse writes f in the GNU sparse format 1.0: a PAX extended header
// with GNU.sparse.* records, then a USTAR header whose data is the sparse
// map (decimal numbers, one a line, padded to a block) followed by the data
// regions. Content is the one data region, at offset 0; a final zero-length
// region at the real size marks the trailing hole, as GNU tar writes.
func writeSparse(w io.Writer, f File) error {
	realSize := f.size()
	regions := [][2]int64{}
	if len(f.Content) > 0 {
		regions = append(regions, [2]int64{0, int64(len(f.Content))})
	}
	regions = append(regions, [2]int64{realSize, 0})
	sparseMap := strconv.AppendInt(nil, int64(len(regions)), 10)
	sparseMap = append(sparseMap, '\n')
	for _, r := range regions {
		sparseMap = strconv.AppendInt(sparseMap, r[0], 10)
		sparseMap = append(sparseMap, '\n')
		sparseMap = strconv.AppendInt(sparseMap, r[1], 10)
		sparseMap = append(sparseMap, '\n')
	}
	sparseMap = append(sparseMap, make([]byte, blockPad(int64(len(sparseMap))))...)
	onDisk := int64(len(sparseMap)) + int64(len(f.Content))

	records := map[string]string{}
	for k, v := range f.PAX {
		records[k] = v
	}
	records["GNU.sparse.major"] = "1"
	records["GNU.sparse.minor"] = "0"
	records["GNU.sparse.name"] = f.Name
	records["GNU.sparse.realsize"] = strconv.FormatInt(realSize, 10)
	uid, gid, uname, gname := f.UID, f.GID, f.Uname, f.Gname
	if uid < 0 || uid > 0o7777777 {
		records["uid"], uid = strconv.Itoa(uid), 0
	}
	if gid < 0 || gid > 0o7777777 {
		records["gid"], gid = strconv.Itoa(gid), 0
	}
	if len(uname) > 32 || !isASCII(uname) {
		records["uname"], uname = uname, ""
	}
	if len(gname) > 32 || !isASCII(gname) {
		records["gname"], gname = gname, ""
	}
	var pax []byte
	keys := make([]string, 0, len(records))
	for k := range records {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		pax = append(pax, paxRecord(k, records[k])...)
	}

	dir, base := path.Split(f.Name)
	xhdr, err := ustarBlock(&tar.Header{
		Typeflag: tar.TypeReg, // patched to 'x' below
		Name:     asciiName(path.Join(dir, "PaxHeaders.0", base)),
		Mode:     0o644,
		Size:     int64(len(pax)),
		ModTime:  f.modTime(),
	}, tar.TypeXHeader)
	if err != nil {
		return err
	}
	hdr, err := ustarBlock(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     asciiName(path.Join(dir, "GNUSparseFile.0", base)),
		Mode:     f.mode(),
		Uid:      uid,
		Gid:      gid,
		Uname:    uname,
		Gname:    gname,
		Size:     onDisk,
		ModTime:  f.modTime(),
	}, 0)
	if err != nil {
		return err
	}
	for _, b := range [][]byte{xhdr, pax, make([]byte, blockPad(int64(len(pax)))), hdr, sparseMap, f.Content, make([]byte, blockPad(onDisk))} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// paxRecord formats one PAX record: "<len> <key>=<value>\n", where len
// counts the whole record, its own digits included.
func paxRecord(k, v string) string {
	const padding = 3 // ' ', '=' and '\n'
	size := len(k) + len(v) + padding
	size += len(strconv.Itoa(size))
	rec := strconv.Itoa(size) + " " + k + "=" + v + "\n"
	if len(rec) != size { // the digit count grew
		size = len(rec)
		rec = strconv.Itoa(size) + " " + k + "=" + v + "\n"
	}
	return rec
}

// ustarBlock returns the 512-byte USTAR header block archive/tar writes for
// h, with its type flag replaced by typ (when not 0) and the checksum
// recomputed.
func ustarBlock(h *tar.Header, typ byte) ([]byte, error) {
	h.Format = tar.FormatUSTAR
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(h); err != nil {
		return nil, err
	}
	blk := b.Bytes()[:blockSize]
	if typ != 0 {
		blk[156] = typ
		copy(blk[148:156], "        ")
		sum := 0
		for _, c := range blk {
			sum += int(c)
		}
		copy(blk[148:155], fmt.Sprintf("%06o\x00", sum))
	}
	return blk, nil
}

// asciiName makes a USTAR-safe name: ASCII, no NUL, at most 100 bytes.
func asciiName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == 0 || c >= 0x80 {
			b[i] = '_'
		}
	}
	if len(b) > 100 {
		b = b[:100]
	}
	return string(b)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 || s[i] >= 0x80 {
			return false
		}
	}
	return true
}
