package inventory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"

	scalibrext "github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/dotnet/depsjson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagejson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagelockjson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/pnpmlock"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/yarnlock"
	"github.com/google/osv-scalibr/extractor/filesystem/language/php/composerlock"
	"github.com/google/osv-scalibr/extractor/filesystem/language/ruby/gemspec"
)

// Lock files list hundreds or thousands of packages, and scalibr's
// package-lock.json and composer.lock extractors look the line of each up
// from the start of the file: a file of n entries costs n times its size
// (a 12 MB package-lock.json of 100,000 entries took more than ten
// minutes). Here the file is read as a stream and each extractor is
// handed small documents of at most lockChunkEntries entries, so the cost
// grows with the file, not with its square; the packages are the same
// (their line numbers, which shipshape does not use, are not).
const (
	// lockChunkEntries is the number of entries in one document.
	lockChunkEntries = 32
	// maxManifestBytes bounds a manifest or lock file (the largest real
	// ones are tens of MB): the extractors hold the parsed file in memory,
	// several times its size.
	maxManifestBytes = 64 << 20
)

// declaredBy lists extractors that read lock files: their packages are
// declared, maybe not installed.
var declaredBy = map[string]bool{
	packagelockjson.Name: true, yarnlock.Name: true, pnpmlock.Name: true, composerlock.Name: true,
}

// manifests lists the extractors of text manifests and lock files, which
// are parsed whole (not package databases, binaries or archives).
var manifests = map[string]bool{
	packagelockjson.Name: true, yarnlock.Name: true, pnpmlock.Name: true, composerlock.Name: true,
	packagejson.Name: true, gemspec.Name: true, depsjson.Name: true,
	composerInstalledName: true, debianCopyrightName: true,
}

// checkManifestSize refuses a manifest larger than maxManifestBytes.
func checkManifestSize(extractor string, size int64) error {
	if manifests[extractor] && size > maxManifestBytes {
		return fmt.Errorf("%d bytes: larger than the limit of %d for a manifest or lock file, not read", size, maxManifestBytes)
	}
	return nil
}

// lockCollections are, per extractor, the members of a lock file that
// list its packages, split into documents of their own.
var lockCollections = map[string][]string{
	// packages (lockfileVersion 2, 3) is read when present, dependencies
	// (version 1, nested) otherwise, as the extractor does.
	packagelockjson.Name: {"packages", "dependencies"},
	composerlock.Name:    {"packages", "packages-dev"},
}

// lockFile returns the packages extractor x finds in the lock file at
// path (its content in src), handing it the file's entries in documents
// of lockChunkEntries. What could not be read is in the error, beside
// what could.
func (a *Analyzer) lockFile(ctx context.Context, x filesystem.Extractor, path string, info fs.FileInfo, src *source) ([]*scalibrext.Package, error) {
	npm := x.Name() == packagelockjson.Name
	l := &lockSplitter{ctx: ctx, x: x, path: path, info: info, names: map[string]bool{}, found: map[string][]*scalibrext.Package{}}
	dec := json.NewDecoder(src.reader())
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object: %v", orUnexpected(err, tok))
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("reading the lock file: %w", err)
		}
		key, _ := tok.(string)
		if !isLockCollection(x.Name(), key) || (npm && key == "dependencies" && seen["packages"]) {
			if err := skipValue(dec); err != nil {
				return nil, fmt.Errorf("reading the lock file: %w", err)
			}
			continue
		}
		open, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", key, err)
		}
		l.key = key
		switch open {
		case json.Delim('{'):
			seen[key] = true
			for dec.More() {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				tok, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("reading %s: %w", key, err)
				}
				name, _ := tok.(string)
				var v json.RawMessage
				if err := dec.Decode(&v); err != nil {
					return nil, fmt.Errorf("reading %s: %w", key, err)
				}
				if npm && key == "dependencies" {
					if err := l.flattened(name, v, 0); err != nil {
						return nil, err
					}
				} else {
					l.add(name, v)
				}
			}
		case json.Delim('['):
			seen[key] = true
			l.array = true
			for dec.More() {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				var v json.RawMessage
				if err := dec.Decode(&v); err != nil {
					return nil, fmt.Errorf("reading %s: %w", key, err)
				}
				l.add("", v)
			}
		default:
			continue // null or a scalar: no packages
		}
		if _, err := dec.Token(); err != nil { // the closing delimiter
			return nil, fmt.Errorf("reading %s: %w", key, err)
		}
		l.flush()
		l.array = false
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !npm {
		return append(l.found["packages"], l.found["packages-dev"]...), errors.Join(l.errs...)
	}
	if seen["packages"] {
		return dedupe(l.found["packages"]), errors.Join(l.errs...)
	}
	return dedupe(l.found["dependencies"]), errors.Join(l.errs...)
}

func isLockCollection(extractor, key string) bool {
	return slices.Contains(lockCollections[extractor], key)
}

// lockSplitter gathers the entries of one collection into documents and
// hands each to the extractor.
type lockSplitter struct {
	ctx   context.Context
	x     filesystem.Extractor
	path  string
	info  fs.FileInfo
	key   string // the collection being read
	array bool   // it is an array (composer.lock), not an object
	doc   bytes.Buffer
	n     int             // entries in doc
	names map[string]bool // their names
	found map[string][]*scalibrext.Package
	errs  []error
}

// add appends one entry (name is empty in an array) to the document.
func (l *lockSplitter) add(name string, v json.RawMessage) {
	if !l.array && l.names[name] {
		l.flush() // one object cannot hold the name twice (flattened lockfileVersion 1)
	}
	if l.n == 0 {
		clear(l.names)
		l.doc.Reset()
		k, _ := json.Marshal(l.key)
		l.doc.WriteByte('{')
		l.doc.Write(k)
		if l.array {
			l.doc.WriteString(":[")
		} else {
			l.doc.WriteString(":{")
		}
	} else {
		l.doc.WriteByte(',')
	}
	if !l.array {
		l.names[name] = true
		k, _ := json.Marshal(name)
		l.doc.Write(k)
		l.doc.WriteByte(':')
	}
	l.doc.Write(v)
	if l.n++; l.n == lockChunkEntries {
		l.flush()
	}
}

// flush hands the document to the extractor.
func (l *lockSplitter) flush() {
	if l.n == 0 || l.ctx.Err() != nil {
		return
	}
	if l.array {
		l.doc.WriteString("]}")
	} else {
		l.doc.WriteString("}}")
	}
	l.n = 0
	inv, err := l.x.Extract(l.ctx, &filesystem.ScanInput{FS: emptyFS, Path: l.path, Info: l.info, Reader: bytes.NewReader(l.doc.Bytes())})
	l.found[l.key] = append(l.found[l.key], inv.Packages...)
	if err != nil && len(l.errs) < 10 {
		l.errs = append(l.errs, err)
	}
}

// maxLockNesting bounds how deep lockfileVersion 1 dependencies nest.
const maxLockNesting = 256

// flattened adds a lockfileVersion 1 dependency and, as entries of their
// own, the dependencies nested in it: the extractor names a dependency
// by its key (or its "npm:" alias), wherever it is nested, so the
// packages are the same.
func (l *lockSplitter) flattened(name string, v json.RawMessage, depth int) error {
	if depth > maxLockNesting {
		return fmt.Errorf("dependencies nested more than %d deep: not read", maxLockNesting)
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(v, &fields) != nil || fields["dependencies"] == nil {
		l.add(name, v) // as it is: the extractor says what is wrong with it
		return nil
	}
	var nested map[string]json.RawMessage
	if err := json.Unmarshal(fields["dependencies"], &nested); err != nil {
		l.add(name, v)
		return nil
	}
	delete(fields, "dependencies")
	own, err := json.Marshal(fields)
	if err != nil {
		return err
	}
	l.add(name, own)
	for k, dv := range nested {
		if err := l.flattened(k, dv, depth+1); err != nil {
			return err
		}
	}
	return nil
}

// dedupe drops the packages listed twice (in two documents), as the
// extractor does within one.
func dedupe(pkgs []*scalibrext.Package) []*scalibrext.Package {
	type key struct{ name, version, commit, purl string }
	seen := map[key]bool{}
	out := pkgs[:0]
	for _, p := range pkgs {
		k := key{name: p.Name, version: p.Version, purl: p.PURLType}
		if p.SourceCode != nil {
			k.commit = p.SourceCode.Commit
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, p)
		}
	}
	return out
}

// skipValue reads past one JSON value.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// orUnexpected is err, or what was read instead of what was expected.
func orUnexpected(err error, tok json.Token) any {
	switch {
	case err == io.EOF:
		return "empty file"
	case err != nil:
		return err
	}
	return fmt.Sprintf("starts with %v", tok)
}
