// Package atomicfile writes output files so that a reader (or the user
// after Ctrl-C) sees either the old file or the complete new one, never a
// truncated mix: the content goes to a temporary file in the same
// directory, which is renamed over the destination only on Commit.
package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// File is an output being written. Write to it, then call Commit to put it
// in place or Abort to discard it; Abort after Commit does nothing, so
// `defer f.Abort()` is always safe.
type File struct {
	*os.File
	dest string
	perm os.FileMode
	done bool
	// direct is set when dest is not a regular file (a device such as
	// /dev/null or /dev/stdout, a fifo): it is written in place, since
	// renaming over it would replace the device with a file.
	direct bool
}

// Create starts writing dest. The directory must exist; the file gets perm
// exactly (no umask) on Commit.
//
// A destination that exists and is not a regular file (a character
// device such as /dev/null, a fifo, a socket) is opened and written in
// place: Commit closes it and Abort cannot undo what was written. A
// directory is an error.
func Create(dest string, perm os.FileMode) (*File, error) {
	if fi, err := os.Stat(dest); err == nil && !fi.Mode().IsRegular() {
		if fi.IsDir() {
			return nil, fmt.Errorf("%s: is a directory", dest)
		}
		f, err := os.OpenFile(dest, os.O_WRONLY, 0)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", dest, err)
		}
		return &File{File: f, dest: dest, perm: perm, direct: true}, nil
	}
	dir, base := filepath.Split(dest)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dest, err)
	}
	return &File{File: f, dest: dest, perm: perm}, nil
}

// Commit flushes the content to disk and renames it over the destination.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("%s: already committed or aborted", f.dest)
	}
	f.done = true
	if f.direct {
		if err := f.File.Close(); err != nil {
			return fmt.Errorf("%s: %w", f.dest, err)
		}
		return nil
	}
	err := f.File.Sync()
	if cerr := f.File.Chmod(f.perm); err == nil {
		err = cerr
	}
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.File.Name(), f.dest)
	}
	if err != nil {
		os.Remove(f.File.Name())
		return fmt.Errorf("%s: %w", f.dest, err)
	}
	return nil
}

// Abort discards what was written; the destination is left as it was.
func (f *File) Abort() error {
	if f.done {
		return nil
	}
	f.done = true
	if f.direct {
		return f.File.Close()
	}
	return errors.Join(f.File.Close(), os.Remove(f.File.Name()))
}

// WriteFile writes b to dest atomically, creating the directory (0o755)
// when it is missing.
func WriteFile(dest string, b []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	f, err := Create(dest, perm)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(b); err != nil {
		return fmt.Errorf("%s: %w", dest, err)
	}
	return f.Commit()
}
