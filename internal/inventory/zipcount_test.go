package inventory

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
)

// realZip is an archive archive/zip wrote, of n empty entries (zip64
// past 65,535), after prefix (a self-extracting archive's stub).
func realZip(t *testing.T, n int, prefix string) []byte {
	return commentedZip(t, n, prefix, "")
}

// commentedZip is realZip with an archive comment.
func commentedZip(t *testing.T, n int, prefix, comment string) []byte {
	t.Helper()
	var buf bytes.Buffer
	buf.WriteString(prefix)
	zw := zip.NewWriter(&buf)
	zw.SetOffset(int64(len(prefix)))
	for i := range n {
		if _, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("e%d", i), Method: zip.Store}); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.SetComment(comment); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// directoryOnly is a hostile archive: n central directory headers (no
// files behind them) and an end record that declares `declared` entries.
func directoryOnly(n, declared int) []byte {
	var buf bytes.Buffer
	h := make([]byte, zipDirHeaderLen)
	binary.LittleEndian.PutUint32(h, zipDirHeaderSig)
	binary.LittleEndian.PutUint16(h[28:], 1) // name length
	for range n {
		buf.Write(h)
		buf.WriteByte('a')
	}
	end := make([]byte, zipDirEndLen)
	binary.LittleEndian.PutUint32(end, zipDirEndSig)
	binary.LittleEndian.PutUint16(end[8:], uint16(declared)) // the low 16 bits, as a writer without zip64 would
	binary.LittleEndian.PutUint16(end[10:], uint16(declared))
	binary.LittleEndian.PutUint32(end[12:], uint32(buf.Len()))
	buf.Write(end)
	return buf.Bytes()
}

// TestZipEntryCount: the entries counted are the ones archive/zip reads,
// for the archive shapes it accepts; a directory that understates its
// entries (archive/zip checks only the low 16 bits) or holds more than
// the limit is refused, one at the limit is not.
func TestZipEntryCount(t *testing.T) {
	for _, tt := range []struct {
		name string
		zip  []byte
	}{
		{"empty", realZip(t, 0, "")},
		{"small", realZip(t, 3, "")},
		{"zip64", realZip(t, 70_000, "")},
		{"self-extracting", realZip(t, 10, "#!/bin/sh\nexec java -jar \"$0\"\n")},
		// A stub put before an archive written alone: its offsets are
		// off by the stub's length (archive/zip's base offset).
		{"commented", commentedZip(t, 5, "", "release 1")},
		// A comment that ends like an end record: archive/zip takes it
		// for one (and reads no entries), and so does the count.
		{"end record in the comment", commentedZip(t, 5, "", "release 1\x00PK\x05\x06"+string(make([]byte, 18)))},
		{"prepended", append([]byte("#!/bin/sh\nexec java -jar \"$0\"\n"), realZip(t, 10, "")...)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			zr, err := zip.NewReader(bytes.NewReader(tt.zip), int64(len(tt.zip)))
			if err != nil {
				t.Fatal(err)
			}
			n, _, err := zipEntryCount(bytes.NewReader(tt.zip), int64(len(tt.zip)), maxZipEntries+1)
			if err != nil || n != len(zr.File) {
				t.Errorf("counted %d (%v); archive/zip read %d", n, err, len(zr.File))
			}
			if err := checkZipEntries(bytes.NewReader(tt.zip), int64(len(tt.zip))); err != nil {
				t.Error(err)
			}
		})
	}
	for _, tt := range []struct {
		name   string
		zip    []byte
		refuse bool
	}{
		{"at the limit", directoryOnly(maxZipEntries, maxZipEntries), false},
		{"one more", directoryOnly(maxZipEntries+1, maxZipEntries+1), true},
		{"understated", directoryOnly(maxZipEntries+1+65536, 1), true},
		{"not a zip", []byte("PK\x03\x04 not really a zip"), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := checkZipEntries(bytes.NewReader(tt.zip), int64(len(tt.zip)))
			if (err != nil) != tt.refuse {
				t.Errorf("checkZipEntries = %v; want refused %v", err, tt.refuse)
			}
			if !tt.refuse {
				return
			}
			// What is refused is what archive/zip would have read whole.
			zr, err := zip.NewReader(bytes.NewReader(tt.zip), int64(len(tt.zip)))
			if err != nil || len(zr.File) <= maxZipEntries {
				t.Errorf("archive/zip: %v", err)
			}
		})
	}
}

// DirectoryOnlyZip is directoryOnly, for the package's external tests.
var DirectoryOnlyZip = directoryOnly
