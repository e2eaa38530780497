package inventory

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"

	scalibrext "github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/java/archive"
	"github.com/google/osv-scalibr/inventory/location"
)

// Java archives nest: a Spring Boot jar carries its dependencies in
// BOOT-INF/lib, a war in WEB-INF/lib, an ear its wars. scalibr's archive
// extractor reads each nested archive whole into memory, as large as its
// zip header says (up to 4 GiB in all), so a 1 MiB jar holding a
// gigabyte of zeros would cost a gigabyte of memory. Here the extractor
// reads one archive at a time (MaxZipDepth 1) and javaArchive walks the
// nesting: each nested archive is held in memory while the chain of
// archives open above it holds less than the analyzer's MemoryBytes, and
// is spooled to a temporary file otherwise, within bounds on its size,
// its depth and the bytes inflated in all.
const (
	// maxArchiveDepth bounds the nesting (an ear's war's jar is 3).
	maxArchiveDepth = 8
	// maxNestedBytes bounds the bytes inflated from the archives nested
	// in one file of the image, in all.
	maxNestedBytes = 2 << 30
)

// nestedBudget is what the archives nested in one file may still cost.
type nestedBudget struct {
	bytes  int64 // to inflate, in all
	memory int64 // to hold in memory along the chain being read
}

// javaArchive returns the packages of the archive at path (its content
// in src) and of the archives nested in it, located as scalibr locates
// them: at the file of the image, with the nested path in Related.
// What could not be read is in the error, beside what could.
func (a *Analyzer) javaArchive(ctx context.Context, x filesystem.Extractor, path string, info fs.FileInfo, src *source, depth int, budget *nestedBudget) ([]*scalibrext.Package, error) {
	if err := checkZipEntries(src.readerAt(), src.size); err != nil {
		if depth > 1 {
			err = fmt.Errorf("%s: %w", path, err)
		}
		return nil, err
	}
	inv, err := x.Extract(ctx, &filesystem.ScanInput{FS: emptyFS, Path: path, Info: info, Reader: src.reader()})
	pkgs := inv.Packages
	errs := []error{withoutDepthErrors(err)}
	zr, zerr := zip.NewReader(src.readerAt(), src.size)
	if zerr != nil {
		return pkgs, errors.Join(errs...) // the extractor said it is not an archive
	}
	for _, f := range zr.File {
		if !archive.IsArchive(f.Name) || f.FileInfo().IsDir() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return pkgs, err
		}
		nested := filepath.Join(path, f.Name) // as scalibr names it
		found, err := a.nestedArchive(ctx, x, nested, f, depth+1, budget)
		for _, p := range found {
			loc := &p.Location
			if loc.Descriptor != nil {
				loc.Related = append([]location.Location{*loc.Descriptor}, loc.Related...)
			}
			top := location.FromPath(path)
			loc.Descriptor = &top
		}
		pkgs = append(pkgs, found...)
		errs = append(errs, err)
	}
	return pkgs, errors.Join(errs...)
}

// nestedArchive reads the archive f, nested in another, and the archives
// nested in it.
func (a *Analyzer) nestedArchive(ctx context.Context, x filesystem.Extractor, path string, f *zip.File, depth int, budget *nestedBudget) ([]*scalibrext.Package, error) {
	switch size := f.UncompressedSize64; {
	case depth > maxArchiveDepth:
		return nil, fmt.Errorf("%s: archives nested more than %d deep: not read", path, maxArchiveDepth)
	case size > uint64(a.maxFile()):
		return nil, fmt.Errorf("%s: %d bytes: larger than the limit of %d, not read", path, size, a.maxFile())
	case size > uint64(budget.bytes):
		return nil, fmt.Errorf("%s: the archives nested in this file inflate to more than %d bytes in all: not read", path, int64(maxNestedBytes))
	}
	size := int64(f.UncompressedSize64)
	budget.bytes -= size
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var src *source
	if size <= budget.memory {
		// archive/zip stops at the size the header gives, and checks the
		// CRC when the end is read.
		b := make([]byte, size)
		_, err := io.ReadFull(rc, b)
		if err == nil {
			if _, err = rc.Read(make([]byte, 1)); err == io.EOF {
				err = nil
			}
		}
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		budget.memory -= size
		defer func() { budget.memory += size }()
		src = &source{mem: b, size: size, close: func() {}}
	} else if src, err = a.spool(rc); err != nil {
		rc.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	rc.Close()
	defer src.close()
	return a.javaArchive(ctx, x, path, f.FileInfo(), src, depth, budget)
}

// withoutDepthErrors drops from the extractor's error the one it gives
// for each nested archive, which javaArchive reads itself.
func withoutDepthErrors(err error) error {
	if err == nil || isDepthError(err) {
		return nil
	}
	var multi interface{ Unwrap() []error }
	if !errors.As(err, &multi) {
		return err
	}
	all := multi.Unwrap()
	var keep []error
	for _, e := range all {
		if !isDepthError(e) {
			keep = append(keep, e)
		}
	}
	switch len(keep) {
	case len(all):
		return err
	case 0:
		return nil
	}
	return errors.Join(keep...)
}

// depthErrorSuffix ends the extractor's error (and log message) for an
// archive nested deeper than MaxZipDepth 1: its text names the depth it
// reached, 2.
const depthErrorSuffix = "reached max zip depth 2"

// isDepthError tells the extractor's error for a nested archive.
func isDepthError(err error) bool {
	return strings.HasSuffix(err.Error(), depthErrorSuffix)
}
