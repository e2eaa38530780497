package imagetest

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"iter"
)

// ReadTar returns the entries of the uncompressed tar stream r as Files, for
// [Layer.Generate]: a real root filesystem (a minirootfs, a debootstrap
// tree) becomes the base of a test layer, with the test's own files after
// it. Each File keeps its entry's header (type, mode, owner, link, times,
// device numbers, PAX records, format) and content; entries are read one at
// a time, so only one file's content is in memory.
//
// The sequence reads r and can be ranged over once. It ends at the end of
// the archive or at the first error, which err then returns.
func ReadTar(r io.Reader) (files iter.Seq[File], err func() error) {
	var readErr error
	seq := func(yield func(File) bool) {
		tr := tar.NewReader(r)
		for {
			h, e := tr.Next()
			if errors.Is(e, io.EOF) {
				return
			}
			if e != nil {
				readErr = e
				return
			}
			content, e := io.ReadAll(tr)
			if e != nil {
				readErr = fmt.Errorf("entry %q: %w", h.Name, e)
				return
			}
			if !yield(FileOf(h, content)) {
				return
			}
		}
	}
	return seq, func() error { return readErr }
}

// FileOf returns the File that writes the tar header h with content.
func FileOf(h *tar.Header, content []byte) File {
	mode := h.Mode
	if mode == 0 {
		mode = ModeZero
	}
	return File{
		Name:     h.Name,
		Type:     h.Typeflag,
		Mode:     mode,
		UID:      h.Uid,
		GID:      h.Gid,
		Uname:    h.Uname,
		Gname:    h.Gname,
		Linkname: h.Linkname,
		Content:  content,
		PAX:      h.PAXRecords,
		ModTime:  h.ModTime,
		Devmajor: h.Devmajor,
		Devminor: h.Devminor,
		Format:   h.Format,
	}
}
