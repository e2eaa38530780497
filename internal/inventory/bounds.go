package inventory

import (
	"archive/zip"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/wheelegg"
	"github.com/google/osv-scalibr/extractor/filesystem/os/apk"
	"github.com/google/osv-scalibr/extractor/filesystem/os/dpkg"
	"github.com/google/osv-scalibr/extractor/filesystem/simplefileapi"

	"github.com/shipshape-dev/shipshape/internal/pkgdb"
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
func checkBounds(x filesystem.Extractor, path string, src *source) error {
	switch x.Name() {
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
