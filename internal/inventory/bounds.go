package inventory

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"strings"
	"time"

	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/wheelegg"
	"github.com/google/osv-scalibr/extractor/filesystem/os/apk"
	"github.com/google/osv-scalibr/extractor/filesystem/os/dpkg"
	"github.com/google/osv-scalibr/extractor/filesystem/os/rpm"
	"github.com/google/osv-scalibr/extractor/filesystem/simplefileapi"

	"github.com/shipshape-dev/shipshape/internal/pkgdb"

	_ "modernc.org/sqlite" // the driver go-rpmdb reads rpmdb.sqlite with
)

// maxMetadataBytes bounds a Python package's METADATA or PKG-INFO file,
// loose or in a wheel or egg. The extractor keeps every Requires-Dist
// line of its header; real ones are a few kilobytes, the longest (a
// whole changelog as the description) about a megabyte.
const maxMetadataBytes = 16 << 20

// checkBounds refuses, before the extractor x reads it, a file at path
// (its content in src) that would cost it memory or time out of
// proportion with what it can list: a package database beyond pkgdb's
// bounds, a zip archive of too many entries, a Python metadata file too
// large. The extractors would otherwise read them whole, or, past their
// own size limits, skip them in silence.
func checkBounds(ctx context.Context, x filesystem.Extractor, path string, src *source) error {
	switch x.Name() {
	case rpm.Name:
		return checkRPM(ctx, src)
	case dpkg.Name, apk.Name:
		if src.size > pkgdb.MaxDatabaseBytes {
			return pkgdb.TooLarge(src.size)
		}
		return pkgdb.CheckPackages(src.reader())
	case wheelegg.Name:
		if !strings.HasSuffix(path, ".whl") && !strings.HasSuffix(path, ".egg") {
			if src.size > maxMetadataBytes {
				return fmt.Errorf("%d bytes: larger than the limit of %d for Python package metadata, not read", src.size, int64(maxMetadataBytes))
			}
			return nil
		}
		if err := checkZipEntries(src.readerAt(), src.size); err != nil {
			return err
		}
		zr, err := zip.NewReader(src.readerAt(), src.size)
		if err != nil {
			return nil // the extractor says what it is
		}
		for _, f := range zr.File {
			// The extractor asks itself which entries it reads.
			if f.UncompressedSize64 > maxMetadataBytes && x.FileRequired(simplefileapi.New(f.Name, smallInfo{f.Name})) {
				return fmt.Errorf("%s: %d bytes: larger than the limit of %d for Python package metadata, not read", f.Name, f.UncompressedSize64, int64(maxMetadataBytes))
			}
		}
	}
	return nil
}

// smallInfo is a file of a size every extractor accepts, to ask whether
// it wants the file by its name alone.
type smallInfo struct{ name string }

func (i smallInfo) Name() string       { return i.name }
func (i smallInfo) Size() int64        { return 1 }
func (i smallInfo) Mode() fs.FileMode  { return 0o644 }
func (i smallInfo) ModTime() time.Time { return time.Time{} }
func (i smallInfo) IsDir() bool        { return false }
func (i smallInfo) Sys() any           { return nil }

// sqliteMagic begins every SQLite database.
var sqliteMagic = []byte("SQLite format 3\x00")

// checkRPM refuses an rpm database that go-rpmdb would hold too much of:
// it keeps every package it reads, file lists and all, until the last (a
// database of 500 MB of headers cost 600 MB of memory). The headers of a
// SQLite database (rpmdb.sqlite, beside its indexes) are counted and
// measured by SQLite without being read; a Berkeley DB or NDB database
// (Packages, Packages.db) holds no more header bytes than its size. The
// bounds are pkgdb's: MaxPackages, MaxDatabaseBytes of headers.
func checkRPM(ctx context.Context, src *source) error {
	head := make([]byte, len(sqliteMagic))
	if _, err := io.ReadFull(src.reader(), head); err != nil || !bytes.Equal(head, sqliteMagic) || src.file == nil {
		if src.size > pkgdb.MaxDatabaseBytes {
			return pkgdb.TooLarge(src.size)
		}
		return nil
	}
	n, size, err := rpmHeaders(ctx, src.file.Name())
	switch {
	case err != nil:
		return nil // not one go-rpmdb reads: the extractor says why
	case n > pkgdb.MaxPackages:
		return fmt.Errorf("%d package headers: more than %d packages, not read as a package database", n, pkgdb.MaxPackages)
	case size > pkgdb.MaxDatabaseBytes:
		return fmt.Errorf("package headers of %d bytes: larger than the limit of %d for a package database, not read", size, pkgdb.MaxDatabaseBytes)
	}
	return nil
}

// rpmHeaders returns the number of package headers of the SQLite rpm
// database at path, and their size in bytes, opened read-only.
func rpmHeaders(ctx context.Context, path string) (n, size int64, err error) {
	db, err := sql.Open("sqlite", (&url.URL{Scheme: "file", OmitHost: true, Path: path, RawQuery: "mode=ro&immutable=1"}).String())
	if err != nil {
		return 0, 0, err
	}
	defer db.Close()
	var total sql.NullInt64
	err = db.QueryRowContext(ctx, "SELECT count(*), sum(length(blob)) FROM Packages").Scan(&n, &total)
	return n, total.Int64, err
}
