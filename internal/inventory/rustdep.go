package inventory

import (
	"bytes"
	"compress/zlib"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"errors"
	"fmt"
	"io"
)

// cargo-auditable embeds a binary's crate list as zlib-compressed JSON in
// a section (.dep-v0). The extractor's library inflates it whole into
// memory, and zlib inflates up to a thousand times its size: a 1 MiB
// section could cost a gigabyte. rustDepInfo finds the section the way
// the library does and inflates it once, into nothing, within
// maxRustDepInfo; only a binary that has one within bounds is handed to
// the extractor (one without has nothing for it).

// maxRustDepInfo bounds the inflated crate list (a large program's is a
// few hundred KiB).
const maxRustDepInfo = 16 << 20

// errNoRustDepInfo says the binary has no crate list.
var errNoRustDepInfo = errors.New("no cargo-auditable section")

// rustDepInfo checks the cargo-auditable section of an ELF, PE or Mach-O
// binary (the files skipNonBinaries leaves the extractor):
// errNoRustDepInfo when there is none, an error when it inflates to more
// than maxRustDepInfo.
func rustDepInfo(r io.ReaderAt) (err error) {
	defer func() {
		// debug/elf, pe and macho parse hostile input.
		if p := recover(); p != nil {
			err = fmt.Errorf("cargo-auditable section: panic: %v", p)
		}
	}()
	var head [8]byte
	if _, err := r.ReadAt(head[:], 0); err != nil {
		return errNoRustDepInfo
	}
	var sec io.Reader
	switch {
	case bytes.HasPrefix(head[:], []byte(elf.ELFMAG)):
		f, err := elf.NewFile(r)
		if err != nil {
			return errNoRustDepInfo
		}
		for _, name := range []string{".dep-v0", ".rust-deps-v0"} {
			if s := f.Section(name); s != nil {
				sec = s.Open()
				break
			}
		}
	case bytes.HasPrefix(head[:], []byte("MZ")):
		f, err := pe.NewFile(r)
		if err != nil {
			return errNoRustDepInfo
		}
		for _, name := range []string{".dep-v0", "rdep-v0"} {
			if s := f.Section(name); s != nil {
				sec = s.Open()
				break
			}
		}
	case bytes.HasPrefix(head[:], []byte("\xFE\xED\xFA")) || bytes.HasPrefix(head[1:], []byte("\xFA\xED\xFE")) || bytes.HasPrefix(head[:], []byte("\xCA\xFE\xBA\xBE")):
		sec = machoDepInfo(r)
	}
	if sec == nil {
		return errNoRustDepInfo
	}
	z, err := zlib.NewReader(sec)
	if err != nil {
		return nil // not compressed: the extractor says so
	}
	defer z.Close()
	// A damaged stream is left to the extractor, which says so.
	if n, _ := io.Copy(io.Discard, io.LimitReader(z, maxRustDepInfo+1)); n > maxRustDepInfo {
		return fmt.Errorf("cargo-auditable section inflates to more than %d bytes: not read", maxRustDepInfo)
	}
	return nil
}

// machoDepInfo is the cargo-auditable section of a Mach-O binary (not of
// a universal one, which the library does not read).
func machoDepInfo(r io.ReaderAt) io.Reader {
	f, err := macho.NewFile(r)
	if err != nil {
		return nil
	}
	for _, name := range []string{".dep-v0", "rust-deps-v0"} {
		if s := f.Section(name); s != nil {
			return s.Open()
		}
	}
	return nil
}
