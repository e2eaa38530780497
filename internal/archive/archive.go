// Package archive keeps the package indexes of distribution archives —
// Debian and Ubuntu (InRelease + Packages of a release, its -updates and
// -security suites) and Alpine (APKINDEX of main and community) — beside
// the vulnerability database, so that scans can tell offline which system
// packages of an image have pending updates. `shipshape db update` fetches
// them (conditionally, signatures verified, written atomically); scans only
// read them.
//
// Only what the pending-update check needs is kept: per package its name,
// version, source package and suite, and per (package, version) the first
// time shipshape saw it in the archive.
package archive

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shipshape-dev/shipshape/internal/atomicfile"
)

// SchemaVersion is the layout of the stored index files; another version
// is replaced unconditionally by the next update.
const SchemaVersion = 2

// Subdir is where the indexes live inside the database directory.
const Subdir = "archives"

// ErrNotFound is returned by Open when no index of the release is stored.
var ErrNotFound = errors.New("no archive index stored")

// Suite kinds.
const (
	KindRelease  = "release"
	KindUpdates  = "updates"
	KindSecurity = "security"
)

// Suite is one suite (Debian) or repository (Alpine) of a stored index.
type Suite struct {
	// Name is the suite ("bookworm-security") or repository
	// ("v3.20/main").
	Name string `json:"name"`
	// Kind is release, updates or security.
	Kind string `json:"kind"`
	// URL is where its signed index came from (InRelease, APKINDEX).
	URL string `json:"url"`
	// Date is the archive's own date of the index (InRelease Date, the
	// newest build time of an APKINDEX).
	Date       time.Time `json:"date"`
	ValidUntil time.Time `json:"validUntil,omitzero"`
	// ETag and LastModified are the HTTP validators of the signed index.
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"lastModified,omitempty"`
	// Digest is the sha256 of the package list the packages came from:
	// an unchanged digest needs no new download.
	Digest string `json:"digest,omitempty"`
	// Verified says how the signature was checked ("OpenPGP: key …"),
	// empty when it was not; Unverified then says why.
	Verified   string `json:"verified,omitempty"`
	Unverified string `json:"unverified,omitempty"`
	Packages   int    `json:"packages"`
}

// Package is one package of an archive index.
type Package struct {
	Name    string `json:"n"`
	Version string `json:"v"`
	Source  string `json:"s,omitempty"`
	// Suite is the index of the package's suite in Index.Suites.
	Suite int `json:"i"`
	// Built is the package's build time when the index records it
	// (Alpine); zero otherwise.
	Built int64 `json:"t,omitempty"`
	// Seen is when shipshape first saw this version in the archive (Unix
	// seconds): the date of the first index that listed it.
	Seen int64 `json:"f,omitempty"`
}

// Index is the stored package index of one release and architecture.
type Index struct {
	Schema  int    `json:"schema"`
	Distro  string `json:"distro"`
	Release string `json:"release"`
	// Arch is the architecture as the archive spells it (amd64, x86_64).
	Arch      string    `json:"arch"`
	UpdatedAt time.Time `json:"updatedAt"`
	Suites    []Suite   `json:"suites"`
	// Packages are stored after the header, one tab-separated line each
	// (name, version, source, suite, built, seen): much faster to read
	// than JSON.
	Packages []Package `json:"-"`
	Count    int       `json:"packages"`

	byName map[string][]int
}

// Key names a stored index.
type Key struct {
	Distro, Release, Arch string
}

func (k Key) String() string { return k.Distro + ":" + k.Release + "/" + k.Arch }

var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$`)

// Valid reports whether the key's parts are plain names (they become a
// file name).
func (k Key) Valid() error {
	for _, s := range []string{k.Distro, k.Release, k.Arch} {
		if !safeName.MatchString(s) {
			return fmt.Errorf("archive %s: %q is not a valid name", k, s)
		}
	}
	return nil
}

// Path is the file of the index inside the database dir.
func (k Key) Path(dir string) string {
	return filepath.Join(dir, Subdir, k.Distro+"_"+k.Release+"_"+k.Arch+".json.gz")
}

// maxIndexBytes bounds a stored index when read back (uncompressed).
const maxIndexBytes = 512 << 20

// Open reads the stored index of k; ErrNotFound when there is none.
func Open(dir string, k Key) (*Index, error) {
	return OpenFor(dir, k, nil)
}

// OpenFor reads the stored index of k keeping only the packages named in
// names (all when nil): a scan needs the image's packages, not the
// archive's tens of thousands.
func OpenFor(dir string, k Key, names map[string]bool) (*Index, error) {
	if err := k.Valid(); err != nil {
		return nil, err
	}
	ix, err := openPath(k.Path(dir), names)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", k, ErrNotFound)
	}
	if err == nil && (ix.Distro != k.Distro || ix.Release != k.Release || ix.Arch != k.Arch) {
		return nil, fmt.Errorf("%s: holds %s", k.Path(dir), Key{ix.Distro, ix.Release, ix.Arch})
	}
	return ix, err
}

func openPath(p string, names map[string]bool) (*Index, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	br := bufio.NewReaderSize(io.LimitReader(zr, maxIndexBytes), 1<<16)
	head, err := br.ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", p, err)
	}
	var ix Index
	if err := json.Unmarshal(head, &ix); err != nil {
		return nil, fmt.Errorf("%s: header: %w", p, err)
	}
	if ix.Schema != SchemaVersion {
		return nil, fmt.Errorf("%s: layout %d, want %d (run `shipshape db update` again): %w", p, ix.Schema, SchemaVersion, ErrNotFound)
	}
	if ix.Count < 0 || ix.Count > 10_000_000 {
		return nil, fmt.Errorf("%s: %d packages", p, ix.Count)
	}
	if names == nil {
		ix.Packages = make([]Package, 0, ix.Count)
	}
	line, n := 1, 0
	for {
		b, err := br.ReadSlice('\n')
		if err == io.EOF && len(b) == 0 {
			break
		}
		if err != nil && err != io.EOF {
			return nil, fmt.Errorf("%s: line %d: %w", p, line+1, err)
		}
		line++
		n++
		if names != nil {
			if i := bytes.IndexByte(b, '\t'); i > 0 && !names[string(b[:i])] {
				continue
			}
		}
		pk, perr := parseLine(b)
		if perr != nil {
			return nil, fmt.Errorf("%s: line %d: %w", p, line, perr)
		}
		if pk.Suite < 0 || pk.Suite >= len(ix.Suites) {
			return nil, fmt.Errorf("%s: line %d: package %s names suite %d of %d", p, line, pk.Name, pk.Suite, len(ix.Suites))
		}
		ix.Packages = append(ix.Packages, pk)
		if err == io.EOF {
			break
		}
	}
	if n != ix.Count {
		return nil, fmt.Errorf("%s: %d packages, the header says %d (truncated?)", p, n, ix.Count)
	}
	return &ix, nil
}

// parseLine reads "name\tversion\tsource\tsuite\tbuilt\tseen\n".
func parseLine(b []byte) (Package, error) {
	b = bytes.TrimSuffix(b, []byte("\n"))
	f := bytes.Split(b, []byte("\t"))
	if len(f) != 6 || len(f[0]) == 0 || len(f[1]) == 0 {
		return Package{}, fmt.Errorf("want 6 tab-separated fields")
	}
	var nums [3]int64
	for i, x := range f[3:] {
		n, err := strconv.ParseInt(string(x), 10, 64)
		if err != nil {
			return Package{}, fmt.Errorf("field %d: %w", i+4, err)
		}
		nums[i] = n
	}
	p := Package{Name: string(f[0]), Version: string(f[1]), Source: string(f[2]), Suite: int(nums[0]), Built: nums[1], Seen: nums[2]}
	if p.Source == "" {
		p.Source = p.Name
	}
	return p, nil
}

// clean drops the characters the line format uses from an archive value.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, s)
}

// Save writes the index atomically: readers see the old file or the new
// one.
func (ix *Index) Save(dir string) error {
	k := Key{ix.Distro, ix.Release, ix.Arch}
	if err := k.Valid(); err != nil {
		return err
	}
	ix.Schema = SchemaVersion
	slices.SortFunc(ix.Packages, func(a, b Package) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return a.Suite - b.Suite
	})
	if err := os.MkdirAll(filepath.Join(dir, Subdir), 0o755); err != nil {
		return err
	}
	f, err := atomicfile.Create(k.Path(dir), 0o644)
	if err != nil {
		return err
	}
	defer f.Abort()
	zw := gzip.NewWriter(f)
	bw := bufio.NewWriterSize(zw, 1<<16)
	ix.Count = len(ix.Packages)
	head, err := json.Marshal(ix)
	if err != nil {
		return fmt.Errorf("%s: %w", k.Path(dir), err)
	}
	bw.Write(head)
	bw.WriteByte('\n')
	for _, p := range ix.Packages {
		src := clean(p.Source)
		if src == p.Name {
			src = ""
		}
		fmt.Fprintf(bw, "%s\t%s\t%s\t%d\t%d\t%d\n", clean(p.Name), clean(p.Version), src, p.Suite, p.Built, p.Seen)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("%s: %w", k.Path(dir), err)
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("%s: %w", k.Path(dir), err)
	}
	return f.Commit()
}

// Lookup returns the archive's packages of that name, every suite.
func (ix *Index) Lookup(name string) []Package {
	if ix.byName == nil {
		ix.byName = make(map[string][]int, len(ix.Packages))
		for i, p := range ix.Packages {
			ix.byName[p.Name] = append(ix.byName[p.Name], i)
		}
	}
	var out []Package
	for _, i := range ix.byName[name] {
		out = append(out, ix.Packages[i])
	}
	return out
}

// SeenSince returns when shipshape first saw the version of the package
// (zero when unknown).
func (ix *Index) SeenSince(name, version string) time.Time {
	var t int64
	for _, p := range ix.Lookup(name) {
		if p.Version == version && p.Seen > 0 && (t == 0 || p.Seen < t) {
			t = p.Seen
		}
	}
	if t == 0 {
		return time.Time{}
	}
	return time.Unix(t, 0).UTC()
}

// Status lists the stored indexes of the database dir.
func Status(dir string) ([]*Index, error) {
	paths, err := filepath.Glob(filepath.Join(dir, Subdir, "*.json.gz"))
	if err != nil {
		return nil, err
	}
	var out []*Index
	for _, p := range paths {
		ix, err := openPath(p, map[string]bool{})
		if errors.Is(err, ErrNotFound) {
			continue // another layout: the next update replaces it
		}
		if err != nil {
			return nil, err
		}
		ix.Packages = nil
		out = append(out, ix)
	}
	return out, nil
}

// mergeFirstSeen carries the first-seen dates of old into ix and dates
// the versions seen for the first time with their suite's date.
func (ix *Index) mergeFirstSeen(old *Index) {
	seen := map[string]int64{}
	if old != nil {
		for _, p := range old.Packages {
			k := p.Name + "=" + p.Version
			if t, ok := seen[k]; p.Seen > 0 && (!ok || p.Seen < t) {
				seen[k] = p.Seen
			}
		}
	}
	for i := range ix.Packages {
		p := &ix.Packages[i]
		k := p.Name + "=" + p.Version
		if t, ok := seen[k]; ok {
			p.Seen = t
			continue
		}
		d := ix.Suites[p.Suite].Date
		if p.Built > 0 && (d.IsZero() || p.Built < d.Unix()) {
			// Alpine records the build time: the version cannot have been
			// published before it was built.
			d = time.Unix(p.Built, 0)
		}
		if d.IsZero() {
			d = ix.UpdatedAt
		}
		p.Seen = d.Unix()
	}
	// The same version in several suites: the earliest date for all.
	first := map[string]int64{}
	for _, p := range ix.Packages {
		k := p.Name + "=" + p.Version
		if t, ok := first[k]; !ok || p.Seen < t {
			first[k] = p.Seen
		}
	}
	for i := range ix.Packages {
		ix.Packages[i].Seen = first[ix.Packages[i].Name+"="+ix.Packages[i].Version]
	}
}
