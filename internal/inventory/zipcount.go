package inventory

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// maxZipEntries bounds the entries of a zip archive (jar, war, wheel, egg)
// handed to an extractor. archive/zip holds its whole central directory,
// about 250 bytes an entry, and the extractors walk it all: a 280 MB jar
// of three million empty entries cost 770 MB and a minute. The largest
// real jars (the AWS SDK bundle, Spark's and Hadoop's shaded jars) hold
// well under 200,000.
const maxZipEntries = 1 << 19

// Zip record signatures and fixed sizes (APPNOTE.TXT 4.3).
const (
	zipDirHeaderSig   = 0x02014b50
	zipDirEndSig      = 0x06054b50
	zip64LocatorSig   = 0x07064b50
	zip64DirEndSig    = 0x06064b50
	zipDirHeaderLen   = 46
	zipDirEndLen      = 22
	zip64LocatorLen   = 20
	zip64DirEndLen    = 56
	zipMaxCommentLen  = 1<<16 - 1
	zipDirEndMaxSpan  = zipDirEndLen + zipMaxCommentLen
	zipCountReadAhead = 64 << 10
)

// errZipEntries is the error of an archive with too many entries.
var errZipEntries = fmt.Errorf("more than %d entries: larger than the limit for an archive, not read", maxZipEntries)

// checkZipEntries returns errZipEntries when the zip archive in r holds,
// or declares, more than maxZipEntries entries. What is not a zip archive
// passes: the extractor says what it is.
func checkZipEntries(r io.ReaderAt, size int64) error {
	n, declared, err := zipEntryCount(r, size, maxZipEntries+1)
	switch {
	case err != nil:
		return err
	case n > maxZipEntries || declared > maxZipEntries:
		// archive/zip allocates for the declared count, and checks only
		// its low 16 bits against what it read.
		return errZipEntries
	}
	return nil
}

// zipEntryCount counts, up to limit, the entries archive/zip would read
// from the zip archive in r — from where it starts, header after header
// until one does not start with the signature — without keeping
// anything, and returns the count the end record declares. Not a zip
// archive: 0, 0, nil.
func zipEntryCount(r io.ReaderAt, size int64, limit int) (n int, declared uint64, err error) {
	end, declared, offset, dirSize, ok := zipDirectoryEnd(r, size)
	if !ok {
		return 0, 0, nil
	}
	// archive/zip reads from where the directory must start to end at
	// the end record, or from the declared offset when that is earlier
	// and a header is there (data before the archive, or a wrong offset).
	start := end - int64(dirSize)
	if start > int64(offset) {
		if n, err := countZipHeaders(r, int64(offset), size, 1); err != nil {
			return 0, declared, err
		} else if n > 0 {
			start = int64(offset)
		}
	}
	n, err = countZipHeaders(r, start, size, limit)
	return n, declared, err
}

// zipDirectoryEnd finds the end of central directory record in the last
// 64 KiB of r (a zip64 one when there is one), and returns where it is,
// the entries it declares, and where and how long the directory is.
func zipDirectoryEnd(r io.ReaderAt, size int64) (end int64, entries, offset, dirSize uint64, ok bool) {
	if size < zipDirEndLen {
		return 0, 0, 0, 0, false
	}
	// Most archives have no comment: the record ends the file.
	span := int64(zipDirEndLen)
	buf := make([]byte, span)
	if _, err := r.ReadAt(buf, size-span); err != nil && err != io.EOF {
		return 0, 0, 0, 0, false
	}
	if binary.LittleEndian.Uint32(buf) != zipDirEndSig || binary.LittleEndian.Uint16(buf[20:]) != 0 {
		span = min(size, zipDirEndMaxSpan)
		buf = make([]byte, span)
		if _, err := r.ReadAt(buf, size-span); err != nil && err != io.EOF {
			return 0, 0, 0, 0, false
		}
	}
	// The last signature whose comment fits, as archive/zip finds it.
	i := len(buf) - zipDirEndLen
	for ; i >= 0; i-- {
		if binary.LittleEndian.Uint32(buf[i:]) == zipDirEndSig && i+zipDirEndLen+int(binary.LittleEndian.Uint16(buf[i+20:])) <= len(buf) {
			break
		}
	}
	if i < 0 {
		return 0, 0, 0, 0, false
	}
	rec := buf[i:]
	end = size - span + int64(i)
	entries = uint64(binary.LittleEndian.Uint16(rec[10:]))
	dirSize = uint64(binary.LittleEndian.Uint32(rec[12:]))
	offset = uint64(binary.LittleEndian.Uint32(rec[16:]))
	// As in archive/zip: when a field is saturated, a zip64 locator
	// right before the record points at the zip64 end record, whose
	// fields win.
	if entries != 0xffff && dirSize != 0xffff && offset != 0xffffffff || end < zip64LocatorLen {
		return end, entries, offset, dirSize, true
	}
	var loc [zip64LocatorLen]byte
	if _, err := r.ReadAt(loc[:], end-zip64LocatorLen); err != nil || binary.LittleEndian.Uint32(loc[:]) != zip64LocatorSig {
		return end, entries, offset, dirSize, true
	}
	at := binary.LittleEndian.Uint64(loc[8:])
	var rec64 [zip64DirEndLen]byte
	if at > uint64(size-zip64DirEndLen) {
		return end, entries, offset, dirSize, true
	}
	if _, err := r.ReadAt(rec64[:], int64(at)); err != nil || binary.LittleEndian.Uint32(rec64[:]) != zip64DirEndSig {
		return end, entries, offset, dirSize, true
	}
	return int64(at), binary.LittleEndian.Uint64(rec64[32:]), binary.LittleEndian.Uint64(rec64[48:]), binary.LittleEndian.Uint64(rec64[40:]), true
}

// countZipHeaders counts the central directory headers that follow one
// another from start, up to limit.
func countZipHeaders(r io.ReaderAt, start, size int64, limit int) (int, error) {
	if start < 0 || start >= size {
		return 0, nil
	}
	// Read ahead within the directory (which ends before size).
	ahead := int(min(size-start, zipCountReadAhead))
	br := bufio.NewReaderSize(io.NewSectionReader(r, start, size-start), max(ahead, 16))
	var h [zipDirHeaderLen]byte
	n := 0
	for n < limit {
		if _, err := io.ReadFull(br, h[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return n, nil
			}
			return n, err
		}
		if binary.LittleEndian.Uint32(h[:]) != zipDirHeaderSig {
			return n, nil
		}
		skip := int64(binary.LittleEndian.Uint16(h[28:])) + int64(binary.LittleEndian.Uint16(h[30:])) + int64(binary.LittleEndian.Uint16(h[32:]))
		if _, err := br.Discard(int(skip)); err != nil {
			if errors.Is(err, io.EOF) {
				return n, nil // archive/zip stops at a cut header too
			}
			return n, err
		}
		n++
	}
	return n, nil
}
