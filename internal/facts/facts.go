// Package facts learns, in the one layer pass, what several analyzers need
// to know about an image's system — the release files, the users and
// groups, the package databases and the files they own — and hands it to
// every analyzer as one typed value once the layers are squashed. Each
// file is read and parsed once, whatever number of analyzers use it.
package facts

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"golang.org/x/sync/errgroup"

	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/pkgdb"
)

// Version changes whenever the per-layer facts for the same layer would
// change.
const Version = "7"

// Paths read.
const (
	Passwd = "/etc/passwd"
	Group  = "/etc/group"
)

// RPMDatabases are where rpm keeps its database, newest first. The facts
// do not read it (the inventory does, with go-rpmdb): they say where it is.
var RPMDatabases = []string{
	"/usr/lib/sysimage/rpm/rpmdb.sqlite",
	"/usr/lib/sysimage/rpm/Packages.db",
	"/var/lib/rpm/rpmdb.sqlite",
	"/var/lib/rpm/Packages.db",
	"/var/lib/rpm/Packages",
}

// ReleaseFiles are the files a distribution is identified by, most
// specific first.
var ReleaseFiles = []string{
	"/etc/os-release",
	"/usr/lib/os-release",
	"/etc/alpine-release",
	"/etc/debian_version",
	"/etc/redhat-release",
}

// Size caps for the files read.
const (
	smallFile = 1 << 20                // passwd, group, release files
	dbFile    = pkgdb.MaxDatabaseBytes // package databases
	infoFile  = pkgdb.MaxInfoBytes     // dpkg .list and .md5sums files
)

// Wants reports whether the facts need the content of e, and how much of
// it.
func Wants(e *fstree.Entry) (bool, int64) {
	// Every file wanted is under /etc, /usr/lib, /lib or /var/lib: the
	// rest is ruled out without building their paths.
	if !e.HasPathPrefix("/etc/") && !e.HasPathPrefix("/usr/lib/") && !e.HasPathPrefix("/lib/") && !e.HasPathPrefix("/var/lib/") {
		return false, 0
	}
	switch p := e.Path(); {
	case p == Passwd || p == Group || isReleaseFile(p):
		return true, smallFile
	case p == pkgdb.DpkgStatus || p == pkgdb.ApkInstalled:
		return true, dbFile
	default:
		if pkg, _ := pkgdb.DpkgInfoPackage(p); pkg != "" {
			return true, infoFile
		}
	}
	return false, 0
}

// isProgramPath reports whether a package-owned path can be a program:
// under a bin, sbin or libexec directory, or an extension-less file under
// a lib directory.
func isProgramPath(p string) bool {
	if strings.Contains(p, "/bin/") || strings.Contains(p, "/sbin/") || strings.Contains(p, "/libexec/") {
		return true
	}
	return strings.Contains(p, "/lib/") && !strings.Contains(path.Base(p), ".")
}

func isReleaseFile(p string) bool {
	for _, f := range ReleaseFiles {
		if f == p {
			return true
		}
	}
	return false
}

// Layer is what one layer says, serialised into the layer cache.
type Layer struct {
	// OwnedFiles counts the files in Owned. It is the first member of the
	// serialised facts, so that Decode reads it without the rest: it
	// keeps the lists of the whole image within pkgdb.MaxOwnedFiles. With
	// lists, its digits come after spaces: the Collector leaves room for
	// them before the lists and writes them when the layer ends.
	OwnedFiles int `json:"ownedFiles,omitzero"`
	// Owned holds the files listed by each dpkg info file (PKG.list,
	// PKG.md5sums), by the info file's path. It is the second member,
	// its lists in the order they were read (a path read twice is there
	// twice: the last is the layer's).
	Owned map[string][]pkgdb.File `json:"owned,omitempty"`
	// Text holds small text files by path: release files, passwd, group.
	Text map[string]string `json:"text,omitempty"`
	// Packages holds each package database by path.
	Packages map[string][]pkgdb.Package `json:"packages,omitempty"`
	// Unread holds, by path, why a package database or a dpkg file list
	// (PKG.list, PKG.md5sums) the layer wrote could not be read: its
	// packages, or the files the package owns, are then unknown, not none.
	Unread map[string]string `json:"unread,omitempty"`
	// Errors are files the layer held that could not be read.
	Errors []string `json:"errors,omitempty"`
}

// Collector collects one layer's facts. Calls come from one goroutine.
//
// The facts are written as they are learnt: each dpkg file list, encoded
// as it is read, then the rest when the layer ends (End). A layer can list
// hundreds of thousands of files; they are not held, parsed, for the rest
// of its walk.
type Collector struct {
	// Out, set before the layer's first file, is where the facts are
	// written: the scan holds them in memory within a budget, in a file
	// past it. Nil: in memory (Facts returns them).
	Out Scratch

	// w buffers what is written to Out: JSON v2 writes a list's every
	// element on its own.
	w *bufio.Writer
	l Layer
	// lists counts the file lists written to Out.
	lists int
	// owned counts the files the layer's databases and file lists own:
	// at most pkgdb.MaxOwnedFiles in all (each costs memory in the scan
	// and the cache), the lists past it are not read.
	owned int
	ended bool
}

// Scratch is where a Collector writes a layer's facts: a file, or
// memory. WriteAt rewrites bytes written before.
type Scratch interface {
	io.Writer
	io.WriterAt
}

// memScratch is a Scratch in memory.
type memScratch struct{ b []byte }

func (m *memScratch) Write(p []byte) (int, error) {
	m.b = append(m.b, p...)
	return len(p), nil
}

func (m *memScratch) WriteAt(p []byte, off int64) (int, error) {
	if off < 0 || off+int64(len(p)) > int64(len(m.b)) {
		return 0, errors.New("write past the end")
	}
	return copy(m.b[off:], p), nil
}

// unread records why the database or file list p was not read.
func (l *Layer) unread(p string, err error) {
	if l.Unread == nil {
		l.Unread = map[string]string{}
	}
	l.Unread[p] = err.Error()
}

// File reads a file Wants asked for.
func (c *Collector) File(_ context.Context, e *fstree.Entry, r io.Reader) error {
	l := &c.l
	var err error
	switch p := e.Path(); {
	case p == pkgdb.DpkgStatus || p == pkgdb.ApkInstalled:
		var pkgs []pkgdb.Package
		switch {
		case e.Size > dbFile:
			err = pkgdb.TooLarge(e.Size) // read in part it would mislead
		case p == pkgdb.DpkgStatus:
			pkgs, err = pkgdb.ReadDpkgStatus(r)
		default:
			pkgs, err = pkgdb.ReadApk(r)
		}
		for _, pkg := range pkgs {
			c.owned += len(pkg.Files)
		}
		if l.Packages == nil {
			l.Packages = map[string][]pkgdb.Package{}
		}
		l.Packages[p] = pkgs
		if err != nil {
			l.unread(p, err)
		}
	case strings.HasPrefix(p, pkgdb.DpkgInfo):
		var files []pkgdb.File
		switch _, kind := pkgdb.DpkgInfoPackage(p); {
		case e.Size > infoFile:
			err = pkgdb.InfoTooLarge(e.Size) // read in part it would mislead
		case c.owned > pkgdb.MaxOwnedFiles:
			err = pkgdb.ListsTooLong() // an earlier list passed the bound
		case kind == "md5sums":
			files, err = pkgdb.ReadDpkgMD5Sums(r)
		default:
			// A .list file adds to the md5sums only the paths they leave
			// out: directories, links — and programs of packages without
			// md5sums. Only program paths are kept (whose setuid file is
			// it?): the rest would only weigh on the cache and memory.
			files, err = pkgdb.ReadDpkgList(r)
			files = slices.DeleteFunc(files, func(f pkgdb.File) bool { return !isProgramPath(f.Path) })
		}
		if c.owned += len(files); c.owned > pkgdb.MaxOwnedFiles {
			files, err = nil, pkgdb.ListsTooLong()
		}
		if err != nil {
			l.unread(p, err)
		}
		if lerr := c.list(p, files); lerr != nil {
			return lerr // Out failed, not the file
		}
		l.OwnedFiles += len(files)
	default:
		var b []byte
		b, err = io.ReadAll(r)
		if l.Text == nil {
			l.Text = map[string]string{}
		}
		l.Text[p] = string(b)
	}
	if err != nil {
		// A file that cannot be read is noted, not fatal: what the other
		// files say still holds.
		l.Errors = append(l.Errors, fmt.Sprintf("%s: %v", fstree.Display(e.Path()), err))
	}
	return nil
}

// The serialised facts of a layer with file lists begin with room for
// OwnedFiles, written there by End once every list is read: spaces
// before a JSON number are whitespace.
const (
	countName  = `{"ownedFiles":`
	countWidth = 10 // the digits of math.MaxInt32
)

// out returns where the facts are written, buffered.
func (c *Collector) out() *bufio.Writer {
	if c.Out == nil {
		c.Out = &memScratch{}
	}
	if c.w == nil {
		c.w = bufio.NewWriterSize(c.Out, 64<<10)
	}
	return c.w
}

// list writes the list at p, of files, to Out.
func (c *Collector) list(p string, files []pkgdb.File) error {
	head := ","
	if c.lists == 0 {
		head = countName + strings.Repeat(" ", countWidth) + `,"owned":{`
	}
	key, err := jsonv2.Marshal(p, writeOptions)
	if err == nil {
		_, err = c.out().WriteString(head + string(key) + ":")
	}
	if err == nil {
		err = jsonv2.MarshalWrite(c.w, files, writeOptions)
	}
	if err != nil {
		return fmt.Errorf("writing the file list %s: %w", fstree.Display(p), err)
	}
	c.lists++
	return nil
}

// End writes the rest of the layer's facts to Out, once the layer's last
// file is read. A layer without file lists gets encoding/json's bytes.
func (c *Collector) End() error {
	if c.ended {
		return nil
	}
	c.ended = true
	if err := c.end(); err != nil {
		return fmt.Errorf("writing the layer's facts: %w", err)
	}
	return nil
}

func (c *Collector) end() error {
	w := c.out()
	if c.lists == 0 {
		if err := jsonv2.MarshalWrite(w, &c.l, writeOptions); err != nil {
			return err
		}
		return w.Flush()
	}
	n := strconv.Itoa(c.l.OwnedFiles)
	if len(n) > countWidth {
		return fmt.Errorf("%s files listed: too many to count", n)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if _, err := c.Out.WriteAt([]byte(strings.Repeat(" ", countWidth-len(n))+n), int64(len(countName))); err != nil {
		return fmt.Errorf("the count of files listed: %w", err)
	}
	if _, err := w.WriteString("}"); err != nil {
		return err
	}
	// The other members, after the lists.
	rest := c.l
	rest.OwnedFiles = 0
	if err := jsonv2.MarshalWrite(&restWriter{w: w}, &rest, writeOptions); err != nil {
		return err
	}
	return w.Flush()
}

// restWriter writes a JSON object's members after those written before:
// "{…}" as ",…}", "{}" as "}".
type restWriter struct {
	w io.Writer
	// seen counts the bytes seen, up to 2.
	seen int
}

func (r *restWriter) Write(p []byte) (int, error) {
	n := len(p)
	for r.seen < 2 && len(p) > 0 {
		switch {
		case r.seen == 0 && p[0] != '{':
			return 0, fmt.Errorf("facts encoded as %q…: not an object", p[0])
		case r.seen == 0:
			p = p[1:]
		case p[0] != '}':
			if _, err := io.WriteString(r.w, ","); err != nil {
				return 0, err
			}
		}
		r.seen++
	}
	if len(p) == 0 {
		return n, nil
	}
	_, err := r.w.Write(p)
	return n, err
}

// Facts returns the layer's facts, serialised for the cache, when they
// are written to memory (Out nil).
func (c *Collector) Facts() (json.RawMessage, error) {
	c.out()
	m, ok := c.Out.(*memScratch)
	if !ok {
		return nil, errors.New("the facts are written to Out")
	}
	if err := c.End(); err != nil {
		return nil, err
	}
	return m.b, nil
}

// writeOptions make JSON v2 write encoding/json's bytes: bad UTF-8
// replaced, HTML and JS characters escaped, nil as null, map keys sorted.
var writeOptions = jsonv2.JoinOptions(
	jsontext.AllowInvalidUTF8(true),
	jsontext.EscapeForHTML(true),
	jsontext.EscapeForJS(true),
	jsonv2.FormatNilSliceAsNull(true),
	jsonv2.FormatNilMapAsNull(true),
	jsonv2.Deterministic(true),
)

// File is a file of the final image whose content the facts hold.
type File struct {
	// Path is where the file really is (symlinks resolved).
	Path  string
	Entry *fstree.Entry
	Text  string
}

// Release is the parsed os-release of the final image.
type Release struct {
	ID, VersionID, VersionCodename, Name, PrettyName string
	// Fields holds every KEY=value of the file.
	Fields map[string]string
	File   File
}

// Database is the final package database of the image.
type Database struct {
	// Kind is "dpkg" or "apk".
	Kind     string
	Path     string
	Entry    *fstree.Entry
	Packages []pkgdb.Package
	// Err says why the final database could not be read ("" when it
	// was): its packages are unknown, not none.
	Err string
	// InLayer holds the database as each layer that wrote it left it,
	// by layer index: what a later layer changed can be told apart.
	InLayer map[int][]pkgdb.Package
}

// Owner is the package that owns a file.
type Owner struct {
	Package string
	// Sum is the checksum the database records for the file ("md5:…",
	// "sha1:…"), empty when none is recorded.
	Sum string
}

// System is the final image's system as the facts of every layer show it.
type System struct {
	// Release is the os-release file, nil when the image has none.
	Release *Release
	// ReleaseFiles holds each release file the final image has.
	ReleaseFiles map[string]File
	// Passwd and Group are the final account files, nil when absent.
	Passwd, Group *File
	// Databases are the final package databases (dpkg, apk).
	Databases []*Database
	// RPMDatabase is the path of the final image's rpm database, "" when
	// it has none: its packages are the inventory's to read.
	RPMDatabase string
	// Errors are files that could not be read, per layer.
	Errors []string
	// UnreadLists are the dpkg file lists that were not read, of every
	// layer, each as "PATH: why".
	UnreadLists []string

	owners map[string]Owner
	// unlisted holds, by package, why a dpkg file list of the final image
	// was not read: the files the package owns are not all known.
	unlisted map[string]string
}

// Source is one layer's serialised facts: held in memory (Raw), or set
// aside in a file that Open opens when they are decoded. The zero Source
// is a layer without facts.
type Source struct {
	Raw  json.RawMessage
	Open func() (io.ReadCloser, error)
}

// read calls fn with the facts as a stream: the bytes held, or the
// file's content.
func (s Source) read(fn func(io.Reader) error) error {
	if s.Open == nil {
		return fn(bytes.NewReader(s.Raw))
	}
	rc, err := s.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	return fn(bufio.NewReaderSize(rc, 64<<10))
}

// unmarshal decodes the facts into v: JSON v2 reads what a Collector
// writes (valid UTF-8, exact field names) in about a third of
// encoding/json's time, and on a warm scan this is on the critical path.
// A file list read twice in a layer is there twice: the last one is the
// layer's, as in encoding/json. Bytes held are read in place.
func (s Source) unmarshal(v any) error {
	if s.Open == nil {
		return jsonv2.Unmarshal(s.Raw, v, readOptions)
	}
	return s.read(func(r io.Reader) error { return jsonv2.UnmarshalRead(r, v, readOptions) })
}

var readOptions = jsontext.AllowDuplicateNames(true)

// ownedFiles reads the facts' OwnedFiles, their first member when it is
// not zero, without reading the rest.
func (s Source) ownedFiles() (n int, err error) {
	err = s.read(func(r io.Reader) error {
		n, err = ownedFiles(r)
		return err
	})
	return n, err
}

// Decode parses the layers' serialised facts, up to parallel layers at
// once; it needs no tree, so it can run while the layers are squashed.
// facts[i] is layer i+1's.
//
// The dpkg file lists of the whole image are kept within
// pkgdb.MaxOwnedFiles, as each layer's are: a layer whose lists would
// pass the bound, counted from the first layer up, keeps none of them
// (each is then unread, with the reason) — memory does not grow with the
// number of layers. Facts set aside in files are read as a stream: only
// what is kept is ever held.
func Decode(facts []Source, parallel int) ([]Layer, error) {
	counts := make([]int, len(facts))
	var g errgroup.Group
	g.SetLimit(max(parallel, 1))
	each := func(do func(i int, src Source) error) error {
		for i, src := range facts {
			if src.Open == nil && len(src.Raw) == 0 {
				continue
			}
			g.Go(func() error {
				if err := do(i, src); err != nil {
					return fmt.Errorf("layer %d: facts: %w", i+1, err)
				}
				return nil
			})
		}
		return g.Wait()
	}
	err := each(func(i int, src Source) (err error) {
		counts[i], err = src.ownedFiles()
		return err
	})
	if err != nil {
		return nil, err
	}
	keep := make([]bool, len(facts))
	total := 0
	for i, n := range counts {
		if keep[i] = total+n <= pkgdb.MaxOwnedFiles; keep[i] {
			total += n
		}
	}
	layers := make([]Layer, len(facts))
	err = each(func(i int, src Source) error {
		if keep[i] {
			return src.unmarshal(&layers[i])
		}
		// The lists are read over, not held: only their paths.
		var v struct {
			Layer
			Owned map[string]skipped `json:"owned"`
		}
		if err := src.unmarshal(&v); err != nil {
			return err
		}
		err := fmt.Errorf("the dpkg file lists of the image's layers name more than %d files in all: this layer's not read", pkgdb.MaxOwnedFiles)
		v.Layer.Owned = make(map[string][]pkgdb.File, len(v.Owned))
		for p := range v.Owned {
			v.unread(p, err)
			v.Layer.Owned[p] = nil // there, its files unknown
		}
		v.OwnedFiles = 0
		layers[i] = v.Layer
		return nil
	})
	if err != nil {
		return nil, err
	}
	return layers, nil
}

// ownedFiles reads a layer's OwnedFiles, the first member of its facts
// when it is not zero, without reading the rest.
func ownedFiles(r io.Reader) (int, error) {
	d := jsontext.NewDecoder(r)
	if tok, err := d.ReadToken(); err != nil {
		return 0, err
	} else if tok.Kind() != '{' {
		return 0, fmt.Errorf("not an object but %v", tok.Kind())
	}
	if d.PeekKind() == '}' {
		return 0, nil
	}
	name, err := d.ReadToken()
	if err != nil {
		return 0, err
	}
	if name.String() != "ownedFiles" {
		return 0, nil // omitted: none
	}
	v, err := d.ReadToken()
	if err != nil {
		return 0, err
	}
	if v.Kind() != '0' {
		return 0, fmt.Errorf("ownedFiles is not a number but %v", v.Kind())
	}
	n := v.Int()
	if n < 0 || n > math.MaxInt32 {
		return 0, fmt.Errorf("ownedFiles %d out of range", n)
	}
	return int(n), nil
}

// skipped is a JSON value read over and not kept.
type skipped struct{}

// UnmarshalJSONFrom implements json.UnmarshalerFrom (JSON v2).
func (*skipped) UnmarshalJSONFrom(d *jsontext.Decoder) error { return d.SkipValue() }

// Assemble puts the layers' decoded facts together as the final image
// shows them: each file's content is taken from the layer that holds its
// final entry. layers[i] is layer i+1's.
func Assemble(tree *fstree.Tree, layers []Layer) *System {
	// The owners map is sized once for every file the databases list
	// (tens of thousands on a Debian image): growing it step by step
	// costs more than filling it.
	files := 0
	for _, l := range layers {
		for _, pkgs := range l.Packages {
			for _, p := range pkgs {
				files += len(p.Files)
			}
		}
		for _, fs := range l.Owned {
			files += len(fs)
		}
	}
	s := &System{ReleaseFiles: map[string]File{}, owners: make(map[string]Owner, files)}
	for _, l := range layers {
		s.Errors = append(s.Errors, l.Errors...)
		for _, p := range slices.Sorted(maps.Keys(l.Unread)) {
			if pkg, _ := pkgdb.DpkgInfoPackage(p); pkg != "" {
				s.UnreadLists = append(s.UnreadLists, fstree.Display(p)+": "+l.Unread[p])
			}
		}
	}
	final := func(p string) (string, *fstree.Entry, *Layer) {
		rp, e, err := tree.Resolve(p)
		if err != nil || e == nil || e.Type != fstree.Regular || e.Layer < 1 || int(e.Layer) > len(layers) {
			return "", nil, nil
		}
		return rp, e, &layers[e.Layer-1]
	}
	text := func(p string) *File {
		rp, e, l := final(p)
		if l == nil {
			return nil
		}
		t, ok := l.Text[rp]
		if !ok {
			return nil
		}
		return &File{Path: rp, Entry: e, Text: t}
	}
	for _, p := range ReleaseFiles {
		if f := text(p); f != nil {
			s.ReleaseFiles[p] = *f
		}
	}
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		if f, ok := s.ReleaseFiles[p]; ok {
			kv := ParseOSRelease(f.Text)
			s.Release = &Release{ID: kv["ID"], VersionID: kv["VERSION_ID"], VersionCodename: kv["VERSION_CODENAME"],
				Name: kv["NAME"], PrettyName: kv["PRETTY_NAME"], Fields: kv, File: f}
			break
		}
	}
	s.Passwd, s.Group = text(Passwd), text(Group)
	for _, p := range RPMDatabases {
		if rp, _, _ := final(p); rp != "" {
			s.RPMDatabase = p
			break
		}
	}

	for _, db := range []struct{ kind, path string }{{"dpkg", pkgdb.DpkgStatus}, {"apk", pkgdb.ApkInstalled}} {
		rp, e, l := final(db.path)
		if l == nil {
			continue
		}
		pkgs, ok := l.Packages[rp]
		if !ok {
			continue
		}
		d := &Database{Kind: db.kind, Path: rp, Entry: e, Packages: pkgs, Err: l.Unread[rp], InLayer: map[int][]pkgdb.Package{}}
		for i := range layers {
			if p, ok := layers[i].Packages[rp]; ok {
				d.InLayer[i+1] = p
			}
		}
		s.Databases = append(s.Databases, d)
	}
	// Owners: what every version of the databases says, in layer order,
	// then the final versions once more so that they win. A file a
	// package installed stays that package's when a later layer removed
	// the package (and its database entries) but not every copy of it.
	owners := func(i int, final bool) {
		for _, db := range slices.Sorted(maps.Keys(layers[i].Packages)) {
			if e := tree.Lookup(db); final != (e != nil && int(e.Layer) == i+1) {
				continue
			}
			for _, p := range layers[i].Packages[db] {
				for _, f := range p.Files {
					s.own(f, p.Name)
				}
			}
		}
		for _, info := range slices.Sorted(maps.Keys(layers[i].Owned)) {
			if e := tree.Lookup(info); final != (e != nil && int(e.Layer) == i+1) {
				continue
			}
			pkg, _ := pkgdb.DpkgInfoPackage(info)
			if why, ok := layers[i].Unread[info]; ok && final {
				if s.unlisted == nil {
					s.unlisted = map[string]string{}
				}
				s.unlisted[pkg] = info + ": " + why
			}
			for _, f := range layers[i].Owned[info] {
				s.own(f, pkg)
			}
		}
	}
	for i := range layers {
		owners(i, false)
	}
	for i := range layers {
		owners(i, true)
	}
	return s
}

// own records that pkg owns f; a later record replaces an earlier one,
// but a checksum is never replaced by none (a .list file names the paths
// its .md5sums file gives checksums for).
func (s *System) own(f pkgdb.File, pkg string) {
	o := Owner{Package: pkg, Sum: f.Sum}
	if old, ok := s.owners[f.Path]; ok && o.Sum == "" && old.Package == pkg {
		o.Sum = old.Sum
	}
	s.owners[f.Path] = o
}

// Owner returns the package that owns the file at p. Under usrmerge a
// database's /bin/su is /usr/bin/su on disk, so both spellings are tried.
func (s *System) Owner(p string) (Owner, bool) { return owner(s, p) }

// OwnerOf is Owner for a path held in bytes (a reused buffer): a clean
// path is looked up without building a string.
func (s *System) OwnerOf(p []byte) (Owner, bool) { return owner(s, p) }

func owner[P string | []byte](s *System, p P) (Owner, bool) {
	if s == nil || len(s.owners) == 0 { // no package database: nothing to clean or look up
		return Owner{}, false
	}
	if !fstree.IsClean(p) {
		p = P(path.Clean("/" + string(p)))
	}
	if o, ok := s.owners[string(p)]; ok {
		return o, true
	}
	// The other side of a merged /usr, built on the stack: this runs once
	// per file of the image, and m[string(b)] does not allocate.
	var buf [256]byte
	alt := buf[:0]
	if len(p) >= len("/usr/") && string(p[:len("/usr/")]) == "/usr/" {
		alt = append(append(alt, '/'), p[len("/usr/"):]...)
	} else {
		alt = append(append(alt, "/usr"...), p...)
	}
	o, ok := s.owners[string(alt)]
	return o, ok
}

// Owned is the number of files the package databases account for.
func (s *System) Owned() int {
	if s == nil {
		return 0
	}
	return len(s.owners)
}

// Unlisted reports why the files that pkg owns are not all known: a dpkg
// file list of it in the final image was not read.
func (s *System) Unlisted(pkg string) (string, bool) {
	if s == nil {
		return "", false
	}
	why, ok := s.unlisted[pkg]
	return why, ok
}

// Database returns the final package database of the kind, or nil.
func (s *System) Database(kind string) *Database {
	if s == nil {
		return nil
	}
	for _, d := range s.Databases {
		if d.Kind == kind {
			return d
		}
	}
	return nil
}

// Version returns the installed version of a package from the final
// databases ("" when it is not installed).
func (s *System) Version(name string) string {
	if s == nil {
		return ""
	}
	for _, d := range s.Databases {
		for _, p := range d.Packages {
			if p.Name == name {
				return p.Version
			}
		}
	}
	return ""
}

// ParseOSRelease reads the KEY=value lines of an os-release file, values
// unquoted as the shell would.
func ParseOSRelease(s string) map[string]string {
	out := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(l), "=")
		if !ok || k == "" || strings.HasPrefix(k, "#") {
			continue
		}
		v = strings.TrimSpace(v)
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else {
			v = strings.Trim(v, `"'`)
		}
		out[k] = v
	}
	return out
}
