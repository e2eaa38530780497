// Package pkgdb reads the databases of the system package managers that
// images carry — dpkg's status file and info lists, apk's installed
// database — in one place: the packages with their versions, and the
// files they own with their checksums. The secret, image-config and slim
// code all read them through it (osv-scalibr's extractors, which build
// the SBOM, are the other reader).
package pkgdb

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"path"
	"strings"
)

// Database paths inside an image.
const (
	DpkgStatus   = "/var/lib/dpkg/status"
	DpkgInfo     = "/var/lib/dpkg/info/"
	ApkInstalled = "/lib/apk/db/installed"
)

// Bounds on one package database. A real one is a few megabytes (Debian's
// whole archive is about 65,000 packages for an architecture, Alpine's
// 30,000); a hostile one of tiny records, a few megabytes once compressed
// in its layer, would cost gigabytes and minutes to read and report.
const (
	// MaxDatabaseBytes is the largest database file read.
	MaxDatabaseBytes = 64 << 20
	// MaxPackages is the most packages one database may list.
	MaxPackages = 50_000
	// MaxOwnedFiles is the most files the packages of one database may
	// own in all, and the most the dpkg file lists of one layer may name
	// (the whole 1.4 GB Debian benchmark image holds about 51,000 files).
	// Each costs a few hundred bytes through the scan: at this bound a
	// layer's lists alone take about 100 MB.
	MaxOwnedFiles = 200_000
	// MaxInfoBytes is the largest dpkg info file (PKG.list, PKG.md5sums)
	// read; the largest real ones (a kernel's modules, a font set) are a
	// few hundred kilobytes.
	MaxInfoBytes = 8 << 20
)

// TooLarge says why a database is not read: it is larger than
// MaxDatabaseBytes.
func TooLarge(size int64) error {
	return fmt.Errorf("%d bytes: larger than the limit of %d for a package database, not read", size, MaxDatabaseBytes)
}

// InfoTooLarge says why a dpkg info file is not read: it is larger than
// MaxInfoBytes.
func InfoTooLarge(size int64) error {
	return fmt.Errorf("%d bytes: larger than the limit of %d for a dpkg file list, not read", size, MaxInfoBytes)
}

// ListsTooLong is the error of dpkg file lists that name more than
// MaxOwnedFiles files in all.
func ListsTooLong() error {
	return fmt.Errorf("the dpkg file lists name more than %d files in all: not read past it", MaxOwnedFiles)
}

// tooMany is the error of a database that lists more than MaxPackages
// packages or MaxOwnedFiles files.
func tooMany(what string, limit int) error {
	return fmt.Errorf("more than %d %s: not read as a package database", limit, what)
}

// maxLine bounds one line: a longer line is cut, so a hostile database
// cannot hide the lines after a huge one.
const maxLine = 64 << 10

// Package is one installed package.
type Package struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Arch    string `json:"arch,omitempty"`
	// Files are the files the package owns, when the database lists them
	// in the same record (apk; dpkg's conffiles).
	Files []File `json:"files,omitempty"`
}

// File is a file a package owns.
type File struct {
	Path string `json:"path"`
	// Sum is the checksum the database records: "md5:HEX" (dpkg),
	// "sha1:Q1BASE64" (apk); empty when none is recorded.
	Sum string `json:"sum,omitempty"`
}

// Record is one paragraph of an RFC 822-style database, as written.
type Record []byte

// Field returns the value of a single-line field ("" when absent).
func (r Record) Field(name string) string {
	for _, l := range bytes.Split(r, []byte("\n")) {
		if v, ok := bytes.CutPrefix(l, []byte(name+":")); ok {
			return string(bytes.TrimSpace(v))
		}
	}
	return ""
}

// Records splits an RFC 822-style database (dpkg status, apk installed)
// into its paragraphs, calling fn for each; fn returning false stops.
func Records(r io.Reader, fn func(Record) bool) error {
	var cur []byte
	err := Lines(r, func(l []byte) bool {
		if len(bytes.TrimSpace(l)) == 0 {
			if len(cur) > 0 {
				ok := fn(Record(bytes.TrimRight(cur, "\n")))
				cur = nil
				return ok
			}
			return true
		}
		cur = append(append(cur, l...), '\n')
		return true
	})
	if err == nil && len(cur) > 0 {
		fn(Record(bytes.TrimRight(cur, "\n")))
	}
	return err
}

// Lines calls fn for every line of r without its line ending, however
// long: a longer line is cut to 64 KiB, so that a hostile file cannot hide
// the lines after a huge one (as bufio.Scanner's ErrTooLong would); fn
// returning false stops. Every reader of system databases uses it.
func Lines(r io.Reader, fn func(line []byte) bool) error {
	size := 64 << 10
	if l, ok := r.(interface{ Len() int }); ok {
		// Content already in memory (most package database files are a
		// few kilobytes): no 64 KiB buffer zeroed for each of them.
		size = min(size, max(l.Len(), 16))
	}
	br := bufio.NewReaderSize(r, size)
	var cur []byte
	for {
		part, isPrefix, err := br.ReadLine()
		if len(cur) < maxLine {
			cur = append(cur, part[:min(len(part), maxLine-len(cur))]...)
		}
		if err != nil {
			if len(cur) > 0 {
				fn(bytes.TrimSuffix(cur, []byte("\r")))
			}
			if err == io.EOF {
				return nil
			}
			return err
		}
		if !isPrefix {
			if !fn(bytes.TrimSuffix(cur, []byte("\r"))) {
				return nil
			}
			cur = cur[:0]
		}
	}
}

// ReadDpkgStatus reads dpkg's status file: the installed packages (status
// "… installed"), each with its conffiles and their md5 sums.
// A database beyond MaxPackages or MaxOwnedFiles is an error, with no
// packages.
func ReadDpkgStatus(r io.Reader) ([]Package, error) {
	return readDatabase(r, dpkgPackage)
}

// readDatabase reads the records of a database with read, within
// MaxPackages and MaxOwnedFiles.
func readDatabase(r io.Reader, read func(Record) (Package, bool)) ([]Package, error) {
	var out []Package
	var files int
	var over error
	err := Records(r, func(rec Record) bool {
		p, ok := read(rec)
		if !ok {
			return true
		}
		if files += len(p.Files); files > MaxOwnedFiles {
			over = tooMany("files owned", MaxOwnedFiles)
			return false
		}
		if len(out) == MaxPackages {
			over = tooMany("packages", MaxPackages)
			return false
		}
		out = append(out, p)
		return true
	})
	if over != nil {
		return nil, over
	}
	return out, err
}

// DpkgInstalled reports whether a status record is an installed package,
// with the package it describes.
func DpkgInstalled(rec Record) (Package, bool) { return dpkgPackage(rec) }

func dpkgPackage(rec Record) (Package, bool) {
	var p Package
	var status string
	inConf := false
	for _, l := range strings.Split(string(rec), "\n") {
		switch {
		case strings.HasPrefix(l, "Package:"):
			p.Name, inConf = strings.TrimSpace(l[len("Package:"):]), false
		case strings.HasPrefix(l, "Version:"):
			p.Version, inConf = strings.TrimSpace(l[len("Version:"):]), false
		case strings.HasPrefix(l, "Architecture:"):
			p.Arch, inConf = strings.TrimSpace(l[len("Architecture:"):]), false
		case strings.HasPrefix(l, "Status:"):
			status, inConf = strings.TrimSpace(l[len("Status:"):]), false
		case l == "Conffiles:":
			inConf = true
		case inConf && strings.HasPrefix(l, " "):
			f := strings.Fields(l)
			if len(f) >= 2 && len(f[1]) == 32 && strings.HasPrefix(f[0], "/") {
				p.Files = append(p.Files, File{Path: path.Clean(f[0]), Sum: "md5:" + f[1]})
			}
		default:
			inConf = false
		}
	}
	return p, p.Name != "" && strings.HasSuffix(status, " installed")
}

// DpkgInfoPackage is the package an info file (PKG[:ARCH].list,
// .md5sums) belongs to; "" for other paths.
func DpkgInfoPackage(p string) (pkg, kind string) {
	if !strings.HasPrefix(p, DpkgInfo) {
		return "", ""
	}
	base := path.Base(p)
	for _, k := range []string{".list", ".md5sums"} {
		if name, ok := strings.CutSuffix(base, k); ok {
			name, _, _ = strings.Cut(name, ":")
			return name, k[1:]
		}
	}
	return "", ""
}

// ReadDpkgList reads an info/PKG.list file: the paths the package owns.
func ReadDpkgList(r io.Reader) ([]File, error) {
	var out []File
	err := Lines(r, func(l []byte) bool {
		if s := strings.TrimSpace(string(l)); strings.HasPrefix(s, "/") {
			out = append(out, File{Path: path.Clean(s)})
		}
		return true
	})
	return out, err
}

// ReadDpkgMD5Sums reads an info/PKG.md5sums file: "HEX  PATH" lines,
// paths relative to the root.
func ReadDpkgMD5Sums(r io.Reader) ([]File, error) {
	var out []File
	var buf []byte
	err := Lines(r, func(l []byte) bool {
		sum, p, ok := bytes.Cut(l, []byte("  "))
		if !ok || len(sum) != 32 || len(p) == 0 {
			return true
		}
		// One string holds both ("md5:SUM/PATH"): a Debian image lists
		// tens of thousands of files, a hostile one as many as the
		// bounds allow.
		buf = append(append(append(append(buf[:0], "md5:"...), sum...), '/'), p...)
		all := string(buf)
		out = append(out, File{Path: path.Clean(all[36:]), Sum: all[:36]})
		return true
	})
	return out, err
}

// ReadApk reads apk's installed database: P:name, V:version, A:arch,
// F:directory, R:file, Z:checksum of the file before it.
// A database beyond MaxPackages or MaxOwnedFiles is an error, with no
// packages.
func ReadApk(r io.Reader) ([]Package, error) {
	return readDatabase(r, ApkPackage)
}

// CountPackages counts the records of a dpkg status file or an apk
// installed database that name a package ("Package:" or "P:" lines), up
// to limit+1: a cheap look before a reader that holds them all.
func CountPackages(r io.Reader, limit int) (int, error) {
	n := 0
	err := Lines(r, func(l []byte) bool {
		if bytes.HasPrefix(l, []byte("Package:")) || bytes.HasPrefix(l, []byte("P:")) {
			n++
		}
		return n <= limit
	})
	return n, err
}

// CheckPackages returns an error when r lists more than MaxPackages
// packages (see CountPackages) or, in apk's R: lines, more than
// MaxOwnedFiles files.
func CheckPackages(r io.Reader) error {
	pkgs, files := 0, 0
	err := Lines(r, func(l []byte) bool {
		switch {
		case bytes.HasPrefix(l, []byte("Package:")) || bytes.HasPrefix(l, []byte("P:")):
			pkgs++
		case bytes.HasPrefix(l, []byte("R:")):
			files++
		}
		return pkgs <= MaxPackages && files <= MaxOwnedFiles
	})
	switch {
	case err != nil:
		return err
	case pkgs > MaxPackages:
		return tooMany("packages", MaxPackages)
	case files > MaxOwnedFiles:
		return tooMany("files owned", MaxOwnedFiles)
	}
	return nil
}

// ApkPackage reads one record of apk's installed database.
func ApkPackage(rec Record) (Package, bool) {
	var p Package
	dir := ""
	// Line by line, without a slice of them all: a hostile record of
	// millions of R: lines is refused at the bound, not split whole.
	for rest := []byte(rec); len(rest) > 0; {
		var line []byte
		line, rest, _ = bytes.Cut(rest, []byte("\n"))
		if len(line) < 2 || line[1] != ':' {
			continue
		}
		v := line[2:]
		switch line[0] {
		case 'P':
			p.Name = string(v)
		case 'V':
			p.Version = string(v)
		case 'A':
			p.Arch = string(v)
		case 'F':
			dir = string(v)
		case 'R':
			if len(p.Files) > MaxOwnedFiles {
				continue // one past the limit tells readDatabase
			}
			p.Files = append(p.Files, File{Path: Root(path.Join(dir, string(v)))})
		case 'Z':
			if n := len(p.Files); n > 0 && p.Files[n-1].Sum == "" {
				p.Files[n-1].Sum = "sha1:" + string(v)
			}
		}
	}
	return p, p.Name != ""
}

// Root makes a database path absolute and clean, never above the root
// ("../../bin/sh" is "/bin/sh").
func Root(p string) string { return path.Clean("/" + p) }
