// Package pkgdb trims the package databases of a slimmed image (dpkg's
// status file, apk's installed database) to the packages that still have a
// file in it, so that inventories and vulnerability scanners see what the
// slimmed image really holds: neither every package of the original nor —
// as when the database is simply deleted — nothing at all.
package pkgdb

import (
	"archive/tar"
	"bytes"
	"cmp"
	"fmt"
	"io"

	db "github.com/shipshape-dev/shipshape/internal/pkgdb"
	"github.com/shipshape-dev/shipshape/internal/slim/rootfs"
)

// Result is the trimmed databases.
type Result struct {
	// Files are new contents by path.
	Files map[string][]byte
	// Keep are further paths to keep (dpkg's per-package file lists).
	Keep []string
	// Before and After count installed packages.
	Before, After int
}

// Trim rewrites the package databases of fs for the kept paths. A
// database beyond the bounds of the image scan (internal/pkgdb: its size,
// packages, files owned, a file list's size) is an error naming it: read
// in part, the slimmed image would list packages it does not hold, or
// lose ones it does.
func Trim(fs *rootfs.FS, kept map[string]bool) (*Result, error) {
	res := &Result{Files: map[string][]byte{}}
	if err := trimDpkg(fs, kept, res); err != nil {
		return nil, err
	}
	if err := trimApk(fs, kept, res); err != nil {
		return nil, err
	}
	return res, nil
}

// open returns the content of the regular file p of fs, nil when there is
// none; a file larger than limit is tooLarge's error.
func open(fs *rootfs.FS, p string, limit int64, tooLarge func(int64) error) (io.Reader, error) {
	e := fs.Lookup(p)
	if e == nil || e.Header.Typeflag != tar.TypeReg {
		return nil, nil
	}
	if e.Header.Size > limit {
		return nil, fmt.Errorf("%s: %w", p, tooLarge(e.Header.Size))
	}
	return fs.Open(e), nil
}

// bounds counts a database's packages and owned files against the
// bounds of internal/pkgdb.
type bounds struct {
	path            string
	packages, files int
	err             error
}

// add counts one package owning files more; false when a bound is passed
// (b.err says which).
func (b *bounds) add(files int) bool {
	b.packages++
	b.files += files
	switch {
	case b.packages > db.MaxPackages:
		b.err = fmt.Errorf("%s: more than %d packages: not read as a package database", b.path, db.MaxPackages)
	case b.files > db.MaxOwnedFiles:
		b.err = fmt.Errorf("%s: more than %d files owned: not read as a package database", b.path, db.MaxOwnedFiles)
	}
	return b.err == nil
}

// trimDpkg keeps the status records of installed packages that still
// have a file, with their .list files; records are copied as written.
func trimDpkg(fs *rootfs.FS, kept map[string]bool, res *Result) error {
	r, err := open(fs, db.DpkgStatus, db.MaxDatabaseBytes, db.TooLarge)
	if r == nil {
		return err
	}
	var out bytes.Buffer
	b := bounds{path: db.DpkgStatus}
	err = db.Records(r, func(rec db.Record) bool {
		p, installed := db.DpkgInstalled(rec)
		if !installed {
			return true
		}
		if !b.add(0) {
			return false
		}
		res.Before++
		for _, list := range []string{db.DpkgInfo + p.Name + ".list", db.DpkgInfo + p.Name + ":" + p.Arch + ".list"} {
			lr, err := open(fs, list, db.MaxInfoBytes, db.InfoTooLarge)
			if err != nil {
				b.err = err
				return false
			}
			if lr == nil {
				continue
			}
			files, err := db.ReadDpkgList(lr)
			if err != nil {
				b.err = fmt.Errorf("%s: %w", list, err)
				return false
			}
			if b.files += len(files); b.files > db.MaxOwnedFiles {
				b.err = fmt.Errorf("%s: %w", list, db.ListsTooLong())
				return false
			}
			if !anyKept(fs, kept, files) {
				continue
			}
			out.Write(rec)
			out.WriteString("\n\n")
			res.After++
			res.Keep = append(res.Keep, list)
			break
		}
		return true
	})
	if err := cmp.Or(b.err, err); err != nil {
		return err
	}
	res.Files[db.DpkgStatus] = out.Bytes()
	return nil
}

// trimApk keeps the records of packages that still have a file.
func trimApk(fs *rootfs.FS, kept map[string]bool, res *Result) error {
	r, err := open(fs, db.ApkInstalled, db.MaxDatabaseBytes, db.TooLarge)
	if r == nil {
		return err
	}
	var out bytes.Buffer
	b := bounds{path: db.ApkInstalled}
	err = db.Records(r, func(rec db.Record) bool {
		p, ok := db.ApkPackage(rec)
		if !ok {
			return true
		}
		if !b.add(len(p.Files)) {
			return false
		}
		res.Before++
		if anyKept(fs, kept, p.Files) {
			out.Write(rec)
			out.WriteString("\n\n")
			res.After++
		}
		return true
	})
	if err := cmp.Or(b.err, err); err != nil {
		return err
	}
	res.Files[db.ApkInstalled] = out.Bytes()
	return nil
}

// anyKept reports whether a regular file or link among paths is kept.
func anyKept(fs *rootfs.FS, kept map[string]bool, files []db.File) bool {
	for _, f := range files {
		p := f.Path
		if !kept[p] {
			continue
		}
		if e := fs.Lookup(p); e != nil && e.Header.Typeflag != tar.TypeDir {
			return true
		}
	}
	return false
}
