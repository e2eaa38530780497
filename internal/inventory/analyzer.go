package inventory

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing/fstest"
	"time"

	scalibrext "github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/dotnet/depsjson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/golang/gobinary"
	"github.com/google/osv-scalibr/extractor/filesystem/language/java/archive"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagejson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagelockjson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/pnpmlock"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/yarnlock"
	"github.com/google/osv-scalibr/extractor/filesystem/language/php/composerlock"
	"github.com/google/osv-scalibr/extractor/filesystem/language/python/wheelegg"
	"github.com/google/osv-scalibr/extractor/filesystem/language/ruby/gemspec"
	"github.com/google/osv-scalibr/extractor/filesystem/language/rust/cargoauditable"
	"github.com/google/osv-scalibr/extractor/filesystem/os/apk"
	apkmeta "github.com/google/osv-scalibr/extractor/filesystem/os/apk/metadata"
	"github.com/google/osv-scalibr/extractor/filesystem/os/dpkg"
	dpkgmeta "github.com/google/osv-scalibr/extractor/filesystem/os/dpkg/metadata"
	"github.com/google/osv-scalibr/extractor/filesystem/os/rpm"
	rpmmeta "github.com/google/osv-scalibr/extractor/filesystem/os/rpm/metadata"
	"github.com/google/osv-scalibr/extractor/filesystem/simplefileapi"
	scalibrinv "github.com/google/osv-scalibr/inventory"
	"github.com/package-url/packageurl-go"

	cpb "github.com/google/osv-scalibr/binary/proto/config_go_proto"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/pkgdb"
)

// Defaults for Analyzer's caps.
const (
	DefaultMaxFileBytes = 512 << 20
	// DefaultMemoryBytes is the size over which a file streamed to the
	// inventory is spooled to disk rather than read into memory: the size
	// under which the dispatcher holds content in memory anyway. Above it
	// (big executables, read whole for the Go and Rust extractors, which
	// then read only their headers and sections from the file), a buffer
	// of the file's size was the scan's peak: measured on the benchmark
	// image, 32 MiB here gave a peak RSS of 190 MB, 8 MiB 110–125 MB, in
	// the same time.
	DefaultMemoryBytes = 8 << 20
	// keepBuffer is the largest file buffer a layer scanner keeps for the
	// next file.
	keepBuffer = 1 << 20
)

// Analyzer collects the package inventory.
type Analyzer struct {
	// TempDir is where files too large to buffer in memory (big binaries,
	// RPM databases) are spooled while extractors read them. Empty: the
	// system temporary directory.
	TempDir string
	// MaxFileBytes caps the size of a file handed to an extractor
	// (DefaultMaxFileBytes when 0).
	MaxFileBytes int64
	// MemoryBytes is the largest file read into memory (DefaultMemoryBytes
	// when 0); larger ones are spooled to TempDir, unless the dispatcher
	// hands them in memory already.
	MemoryBytes int64
	// Freshness judges P4 from registry data; nil leaves P4 not-run.
	Freshness FreshnessJudge

	extractors []filesystem.Extractor
}

// New returns an inventory analyzer with every supported extractor.
func New(tempDir string) (*Analyzer, error) {
	a := &Analyzer{TempDir: tempDir}
	noHash := false
	cfg := &cpb.PluginConfig{
		// The extractors' own size limits (100 MiB for a dpkg status,
		// package.json or wheel, 10 MiB for a .deps.json) skip a larger
		// file in silence: shipshape's limits, which say what they skip,
		// are the only ones.
		MaxFileSizeBytes: math.MaxInt64,
		PluginSpecific: []*cpb.PluginSpecificConfig{{
			// Jar hashes serve deps.dev look-ups, which shipshape does not
			// make: skip the SHA-1 of every archive. One archive at a time:
			// the archives nested in it are read by javaArchive.
			Config: &cpb.PluginSpecificConfig_JavaArchive{JavaArchive: &cpb.JavaArchiveConfig{HashJars: &noHash, MaxZipDepth: 1}},
		}}}
	for _, newExt := range []func(*cpb.PluginConfig) (filesystem.Extractor, error){
		dpkg.New, apk.New, rpm.New,
		gobinary.New, packagejson.New, packagelockjson.New, yarnlock.New, pnpmlock.New, wheelegg.New, archive.New,
		gemspec.New, cargoauditable.New, composerlock.New, depsjson.New,
	} {
		e, err := newExt(cfg)
		if err != nil {
			return nil, fmt.Errorf("inventory: %w", err)
		}
		a.extractors = append(a.extractors, e)
	}
	a.extractors = append(a.extractors, composerInstalled{}, debianCopyright{})
	return a, nil
}

// Name implements analyze.Analyzer.
func (a *Analyzer) Name() string { return "inventory" }

// Version implements analyze.Analyzer.
func (a *Analyzer) Version() string { return "10" }

func (a *Analyzer) maxFile() int64 {
	if a.MaxFileBytes > 0 {
		return a.MaxFileBytes
	}
	return DefaultMaxFileBytes
}

// entryInfo presents an entry as the fs.FileInfo scalibr's extractors see.
type entryInfo struct{ e *fstree.Entry }

func (i entryInfo) Name() string {
	if n := i.e.Name(); n != "" {
		return n
	}
	return "/" // path.Base of the root
}

func (i entryInfo) Size() int64        { return i.e.Size }
func (i entryInfo) Mode() fs.FileMode  { return i.e.Mode().Perm() }
func (i entryInfo) ModTime() time.Time { return time.Time{} }
func (i entryInfo) IsDir() bool        { return false }
func (i entryInfo) Sys() any           { return nil }

func (a *Analyzer) wanting(e *fstree.Entry) []filesystem.Extractor {
	api := simplefileapi.New(strings.TrimPrefix(e.Path(), "/"), entryInfo{e})
	var out []filesystem.Extractor
	for _, x := range a.extractors {
		if x.FileRequired(api) {
			out = append(out, x)
		}
	}
	return out
}

// Wants implements analyze.Analyzer.
func (a *Analyzer) Wants(e *fstree.Entry) (bool, int64) {
	// The release files come from the shared facts (analyze.Input.System).
	if len(a.wanting(e)) == 0 {
		return false, 0
	}
	if e.Size > a.maxFile() {
		// Enough to tell a binary from the rest (skipNonBinaries), for
		// File to say that the file is not read.
		return true, magicLen
	}
	return true, a.maxFile()
}

// layerFacts are one layer's findings, cached by diffID.
type layerFacts struct {
	Files  []fileFacts `json:"files,omitempty"`
	Errors []string    `json:"errors,omitempty"`
	// Skipped are executables over the size limit that only the Go and
	// Rust binary extractors wanted (Inventory.Skipped).
	Skipped []string `json:"skipped,omitempty"`
	// GoSymbols are the function tables of the layer's Go binaries, for
	// reachability (GoSymbolTables).
	GoSymbols []goSymbols `json:"goSymbols,omitempty"`
}

// fileFacts are the packages one extractor read from one file.
type fileFacts struct {
	Path      string    `json:"path"`
	Extractor string    `json:"extractor"`
	Packages  []Package `json:"packages"`
}

type layerScanner struct {
	a     *Analyzer
	layer *image.Layer
	facts layerFacts
	buf   []byte // reused for files held in memory
}

// NewLayer implements analyze.Analyzer.
func (a *Analyzer) NewLayer(l *image.Layer) analyze.LayerScanner {
	return &layerScanner{a: a, layer: l}
}

func (s *layerScanner) Facts() (json.RawMessage, error) { return json.Marshal(&s.facts) }

func (s *layerScanner) File(ctx context.Context, e *fstree.Entry, r io.Reader) error {
	exts := s.a.wanting(e)
	if len(exts) == 0 {
		return nil
	}
	r, exts, err := skipNonBinaries(r, exts)
	if err != nil || len(exts) == 0 {
		return err
	}
	if e.Size > s.a.maxFile() {
		if !slices.ContainsFunc(exts, func(x filesystem.Extractor) bool { return !binaryOnly[x.Name()] }) {
			s.facts.Skipped = append(s.facts.Skipped, fstree.Display(e.Path()))
			return nil
		}
		s.facts.Errors = append(s.facts.Errors, fmt.Sprintf("%s: %d bytes: larger than the limit of %d for a package file, not read", fstree.Display(e.Path()), e.Size, s.a.maxFile()))
		return nil
	}
	src, err := s.a.materialise(e, r, exts, &s.buf)
	if err != nil {
		s.facts.Errors = append(s.facts.Errors, fmt.Sprintf("%s: %v", fstree.Display(e.Path()), err))
		return nil
	}
	defer func() {
		src.close()
		// A big file's buffer is not kept for the rest of the layer: two
		// layers walked at once would otherwise hold up to 2×MemoryBytes
		// between them, and the garbage collector lets the heap grow to
		// twice what is held.
		if cap(s.buf) > keepBuffer {
			s.buf = nil
		}
	}()
	for _, x := range exts {
		if err := ctx.Err(); err != nil {
			return err
		}
		pkgs, err := s.extract(ctx, x, e, src)
		if err != nil {
			// What could be read is kept; what could not is said.
			s.facts.Errors = append(s.facts.Errors, fmt.Sprintf("%s: %s: %v", fstree.Display(e.Path()), x.Name(), err))
			if len(pkgs) == 0 {
				continue
			}
		}
		if len(pkgs) == 0 && !isDatabase(x.Name()) {
			continue
		}
		s.facts.Files = append(s.facts.Files, fileFacts{Path: e.Path(), Extractor: x.Name(), Packages: pkgs})
		if x.Name() == gobinary.Name && len(pkgs) > 0 {
			// The content is here only now: keep the functions the
			// binary links, for reachability in Finish.
			g := goSymbols{Path: e.Path()}
			if hs, err := readGoSymbols(src.readerAt()); err != nil {
				g.Err = err.Error()
			} else {
				g.Hashes = encodeHashes(hs)
			}
			s.facts.GoSymbols = append(s.facts.GoSymbols, g)
		}
	}
	return nil
}

// binaryOnly lists extractors that read only executables (ELF, PE,
// Mach-O); other files with an executable bit are not worth buffering.
var binaryOnly = map[string]bool{gobinary.Name: true, cargoauditable.Name: true}

// skipNonBinaries peeks at the file's magic number and drops the
// binary-only extractors when it is not an executable format.
func skipNonBinaries(r io.Reader, exts []filesystem.Extractor) (io.Reader, []filesystem.Extractor, error) {
	need := false
	for _, x := range exts {
		if binaryOnly[x.Name()] {
			need = true
		}
	}
	if !need {
		return r, exts, nil
	}
	var magic []byte
	if b, ok := analyze.Whole(r); ok {
		magic = b[:min(len(b), magicLen)] // in memory: r stays as it is
	} else {
		var m [magicLen]byte
		n, err := io.ReadFull(r, m[:])
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return nil, nil, err
		}
		magic = m[:n]
		r = io.MultiReader(bytes.NewReader(magic), r)
	}
	if isExecutable(magic) {
		return r, exts, nil
	}
	var keep []filesystem.Extractor
	for _, x := range exts {
		if !binaryOnly[x.Name()] {
			keep = append(keep, x)
		}
	}
	return r, keep, nil
}

// magicLen is how much of a file isExecutable looks at.
const magicLen = 4

func isExecutable(m []byte) bool {
	if len(m) < magicLen {
		return false
	}
	switch {
	case string(m) == "\x7fELF", m[0] == 'M' && m[1] == 'Z':
		return true
	}
	switch string(m) {
	case "\xfe\xed\xfa\xce", "\xfe\xed\xfa\xcf", "\xce\xfa\xed\xfe", "\xcf\xfa\xed\xfe", "\xca\xfe\xba\xbe":
		return true
	}
	return false
}

// isDatabase reports whether an extractor reads a package database, whose
// empty result still matters (every package was removed).
func isDatabase(name string) bool {
	return name == dpkg.Name || name == apk.Name || name == rpm.Name
}

// source is a file's content, replayable for several extractors.
type source struct {
	mem   []byte
	file  *os.File
	dir   string
	size  int64
	close func()
}

func (s *source) readerAt() io.ReaderAt {
	if s.file != nil {
		return io.NewSectionReader(s.file, 0, s.size)
	}
	return bytes.NewReader(s.mem)
}

func (s *source) reader() io.Reader {
	if s.file != nil {
		return io.NewSectionReader(s.file, 0, s.size)
	}
	return bytes.NewReader(s.mem)
}

func (a *Analyzer) memoryBytes() int64 {
	if a.MemoryBytes > 0 {
		return a.MemoryBytes
	}
	return DefaultMemoryBytes
}

func (a *Analyzer) materialise(e *fstree.Entry, r io.Reader, exts []filesystem.Extractor, buf *[]byte) (*source, error) {
	memMax := a.memoryBytes()
	rpmDB := false
	for _, x := range exts {
		if x.Name() == rpm.Name {
			rpmDB = true // read from a file by its path
		}
	}
	if b, ok := analyze.Whole(r); ok && !rpmDB {
		// Already in memory (read once for several analyzers): used in
		// place, valid until File returns, as the buffer below is.
		return &source{mem: b, size: int64(len(b)), close: func() {}}, nil
	}
	spool := rpmDB || e.Size > memMax
	if !spool {
		// One buffer per layer scanner, sized from the header: no growth,
		// no garbage for every executable of the layer.
		if int64(cap(*buf)) < e.Size {
			*buf = make([]byte, e.Size)
		}
		b := (*buf)[:e.Size]
		n, err := io.ReadFull(r, b)
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return nil, err
		}
		return &source{mem: b[:n], size: int64(n), close: func() {}}, nil
	}
	return a.spool(r)
}

// spool copies r, up to maxFile bytes, to a file of its own in TempDir.
func (a *Analyzer) spool(r io.Reader) (*source, error) {
	dir, err := os.MkdirTemp(a.TempDir, "inventory-")
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, "content"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("spool: %w", err)
	}
	n, err := io.Copy(f, io.LimitReader(r, a.maxFile()))
	if err != nil {
		f.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("spool: %w", err)
	}
	return &source{file: f, dir: dir, size: n, close: func() { f.Close(); os.RemoveAll(dir) }}, nil
}

// emptyFS is the filesystem extractors see besides their file: the final
// filesystem is not known during the layer pass, and the distro is added
// in Finish.
var emptyFS = fstest.MapFS{}

func (s *layerScanner) extract(ctx context.Context, x filesystem.Extractor, e *fstree.Entry, src *source) (pkgs []Package, err error) {
	defer func() {
		// Extractors parse hostile input: a panic is a bad file, not a crash.
		if r := recover(); r != nil {
			pkgs, err = nil, fmt.Errorf("extractor panic: %v", r)
		}
	}()
	rel := strings.TrimPrefix(e.Path(), "/")
	if err := checkManifestSize(x.Name(), src.size); err != nil {
		return nil, err
	}
	if err := checkBounds(ctx, x, rel, src); err != nil {
		return nil, err
	}
	if x.Name() == cargoauditable.Name {
		switch err := rustDepInfo(src.readerAt()); {
		case errors.Is(err, errNoRustDepInfo):
			return nil, nil // nothing for the extractor
		case err != nil:
			return nil, err
		}
	}
	var found []*scalibrext.Package
	switch _, lock := lockCollections[x.Name()]; {
	case lock:
		found, err = s.a.lockFile(ctx, x, rel, entryInfo{e}, src)
	case x.Name() == archive.Name:
		budget := nestedBudget{bytes: maxNestedBytes, memory: s.a.memoryBytes()}
		found, err = s.a.javaArchive(ctx, x, rel, entryInfo{e}, src, 1, &budget)
	default:
		in := &filesystem.ScanInput{FS: emptyFS, Path: rel, Info: entryInfo{e}, Reader: src.reader()}
		if x.Name() == rpm.Name && src.file != nil {
			in.Root, in.Path = src.dir, "content"
		}
		var inv scalibrinv.Inventory
		inv, err = x.Extract(ctx, in)
		found = inv.Packages
	}
	if len(found) > pkgdb.MaxPackages {
		return nil, fmt.Errorf("%d packages: more than the limit of %d for one file, not listed", len(found), pkgdb.MaxPackages)
	}
	for _, p := range found {
		pkgs = append(pkgs, convert(x.Name(), e.Path(), p))
	}
	return pkgs, err
}

// convert turns a scalibr package into ours. The ecosystem and purl of OS
// packages are completed in Finish, once the distro is known.
func convert(extractor, file string, p *scalibrext.Package) Package {
	out := Package{
		Name:      p.Name,
		Version:   p.Version,
		Type:      p.PURLType,
		Licenses:  nonEmpty(p.Licenses),
		Extractor: extractor,
		Locations: []string{fstree.Display(file)},
		Declared:  declaredBy[extractor],
	}
	if loc := p.Location.PathOrEmpty(); loc != "" && "/"+loc != file && strings.Contains(loc, ":") {
		// A nested archive: "app.war:WEB-INF/lib/x.jar".
		out.Locations = []string{fstree.Display("/" + strings.TrimPrefix(loc, "/"))}
	}
	switch m := p.Metadata.(type) {
	case *dpkgmeta.Metadata:
		out.SourceName, out.SourceVersion, out.Arch = m.SourceName, m.SourceVersion, m.Architecture
	case *apkmeta.Metadata:
		out.SourceName, out.Arch = m.OriginName, m.Architecture
	case *rpmmeta.Metadata:
		out.SourceName, out.Arch = srpmName(m.SourceRPM), m.Architecture
		if m.Epoch > 0 {
			out.Version = strconv.Itoa(m.Epoch) + ":" + out.Version
		}
	default:
		if u := p.PURL(); u != nil {
			out.PURL = u.String()
		}
		if eco := p.Ecosystem(); !eco.IsEmpty() {
			out.Ecosystem = eco.String()
		}
	}
	if extractor == gobinary.Name && (p.Name == "go" || p.Name == "stdlib") {
		// The toolchain that built the binary: OSV calls the standard
		// library "stdlib".
		out.Name, out.GoStdlib = "stdlib", true
		out.Version = strings.TrimPrefix(out.Version, "go")
		out.PURL = "pkg:golang/stdlib@" + out.Version
	}
	out.PURL = normalizePURL(out.PURL, out.GoStdlib)
	return out
}

// nonEmpty drops empty and placeholder licence strings.
func nonEmpty(ls []string) []string {
	var out []string
	for _, l := range ls {
		if l = strings.TrimSpace(l); l != "" && l != "unknown" {
			out = append(out, l)
		}
	}
	return out
}

// internalQualifiers are qualifiers osv-scalibr adds for its own use;
// they mean nothing to other tools reading the SBOM.
var internalQualifiers = map[string]bool{"source": true}

// normalizePURL writes a purl the way other tools (Syft, Trivy,
// osv-scanner) write it: without scalibr's internal qualifiers, and with
// Go module versions as Go writes them ("v0.3.5"; the package's Version
// stays "0.3.5", which is what OSV matching wants).
func normalizePURL(s string, goStdlib bool) string {
	if s == "" {
		return ""
	}
	u, err := packageurl.FromString(s)
	if err != nil {
		return s
	}
	q := u.Qualifiers[:0]
	for _, kv := range u.Qualifiers {
		if !internalQualifiers[kv.Key] {
			q = append(q, kv)
		}
	}
	u.Qualifiers = q
	if u.Type == packageurl.TypeGolang && !goStdlib {
		u.Version = GoModuleVersion(u.Version)
	}
	return u.ToString()
}

// GoModuleVersion writes a Go module version as Go does: "0.3.5" →
// "v0.3.5". Versions that are not numbers ("(devel)", a main module
// built from a checkout) and those already with their "v" are unchanged.
func GoModuleVersion(v string) string {
	if v == "" || v[0] < '0' || v[0] > '9' {
		return v
	}
	return "v" + v
}

// srpmName extracts the name from a source RPM file name
// ("openssl-3.0.7-27.el9.src.rpm" → "openssl").
func srpmName(s string) string {
	s = strings.TrimSuffix(s, ".rpm")
	s = strings.TrimSuffix(s, ".src")
	// Strip -release then -version.
	for range 2 {
		i := strings.LastIndexByte(s, '-')
		if i <= 0 {
			return s
		}
		s = s[:i]
	}
	return s
}
