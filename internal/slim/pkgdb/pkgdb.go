// Package pkgdb trims the package databases of a slimmed image (dpkg's
// status file, apk's installed database) to the packages that still have a
// file in it, so that inventories and vulnerability scanners see what the
// slimmed image really holds: neither every package of the original nor —
// as when the database is simply deleted — nothing at all.
package pkgdb

import (
	"archive/tar"
	"bytes"
	"io"

	db "github.com/shipshape-dev/shipshape/internal/pkgdb"
	"github.com/shipshape-dev/shipshape/internal/slim/rootfs"
)

// maxDB bounds a package database read into memory.
const maxDB = 256 << 20

// Result is the trimmed databases.
type Result struct {
	// Files are new contents by path.
	Files map[string][]byte
	// Keep are further paths to keep (dpkg's per-package file lists).
	Keep []string
	// Before and After count installed packages.
	Before, After int
}

// Trim rewrites the package databases of fs for the kept paths.
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

// open returns the content of a regular file of fs, bounded by maxDB.
func open(fs *rootfs.FS, p string) (io.Reader, bool) {
	e := fs.Lookup(p)
	if e == nil || e.Header.Typeflag != tar.TypeReg {
		return nil, false
	}
	return io.LimitReader(fs.Open(e), maxDB), true
}

// trimDpkg keeps the status records of installed packages that still
// have a file, with their .list files; records are copied as written.
func trimDpkg(fs *rootfs.FS, kept map[string]bool, res *Result) error {
	r, ok := open(fs, db.DpkgStatus)
	if !ok {
		return nil
	}
	var out bytes.Buffer
	err := db.Records(r, func(rec db.Record) bool {
		p, installed := db.DpkgInstalled(rec)
		if !installed {
			return true
		}
		res.Before++
		for _, list := range []string{db.DpkgInfo + p.Name + ".list", db.DpkgInfo + p.Name + ":" + p.Arch + ".list"} {
			lr, ok := open(fs, list)
			if !ok {
				continue
			}
			files, err := db.ReadDpkgList(lr)
			if err != nil || !anyKept(fs, kept, files) {
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
	if err != nil {
		return err
	}
	res.Files[db.DpkgStatus] = out.Bytes()
	return nil
}

// trimApk keeps the records of packages that still have a file.
func trimApk(fs *rootfs.FS, kept map[string]bool, res *Result) error {
	r, ok := open(fs, db.ApkInstalled)
	if !ok {
		return nil
	}
	var out bytes.Buffer
	err := db.Records(r, func(rec db.Record) bool {
		p, ok := db.ApkPackage(rec)
		if !ok {
			return true
		}
		res.Before++
		if anyKept(fs, kept, p.Files) {
			out.Write(rec)
			out.WriteString("\n\n")
			res.After++
		}
		return true
	})
	if err != nil {
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
