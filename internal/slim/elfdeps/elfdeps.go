// Package elfdeps resolves the shared-library closure of ELF files inside
// an image's root filesystem without running anything: PT_INTERP,
// DT_NEEDED, DT_RPATH/DT_RUNPATH (with $ORIGIN), LD_LIBRARY_PATH from the
// image's environment, /etc/ld.so.conf and its includes, musl's
// /etc/ld-musl-ARCH.path and the default library directories.
package elfdeps

import (
	"archive/tar"
	"bufio"
	"debug/elf"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/slim/rootfs"
)

// Resolver finds libraries in one filesystem. It caches the search path.
type Resolver struct {
	fs       *rootfs.FS
	ldPath   []string // LD_LIBRARY_PATH
	confDirs []string // ld.so.conf, musl path file
	defaults []string
}

// New returns a resolver for fs; env is the image's environment.
func New(fs *rootfs.FS, env []string) *Resolver {
	r := &Resolver{fs: fs}
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "LD_LIBRARY_PATH="); ok {
			r.ldPath = splitPath(v)
		}
	}
	r.confDirs = r.readLdSoConf("/etc/ld.so.conf", 0)
	for _, p := range fs.Paths() {
		if strings.HasPrefix(p, "/etc/ld-musl-") && strings.HasSuffix(p, ".path") {
			if b, err := r.read(p, 64<<10); err == nil {
				r.confDirs = append(r.confDirs, strings.FieldsFunc(string(b), func(c rune) bool { return c == ':' || c == '\n' || c == ' ' })...)
			}
		}
	}
	r.defaults = []string{"/lib", "/usr/lib", "/lib64", "/usr/lib64", "/usr/local/lib",
		"/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu"}
	return r
}

func splitPath(v string) []string {
	var out []string
	for _, d := range strings.Split(v, ":") {
		if d != "" {
			out = append(out, d)
		}
	}
	return out
}

func (r *Resolver) read(p string, max int64) ([]byte, error) {
	_, e, err := r.fs.Resolve(p, nil)
	if err != nil || e == nil || e.Header.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("%s: not a regular file", p)
	}
	return io.ReadAll(io.LimitReader(r.fs.Open(e), max))
}

// readLdSoConf parses an ld.so.conf file with its "include" globs.
func (r *Resolver) readLdSoConf(file string, depth int) []string {
	if depth > 8 {
		return nil
	}
	b, err := r.read(file, 1<<20)
	if err != nil {
		return nil
	}
	var dirs []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := sc.Text()
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		f := strings.Fields(line)
		switch {
		case len(f) == 0:
		case f[0] == "include":
			for _, g := range f[1:] {
				if !strings.HasPrefix(g, "/") {
					g = path.Join(path.Dir(file), g)
				}
				for _, m := range r.glob(g) {
					dirs = append(dirs, r.readLdSoConf(m, depth+1)...)
				}
			}
		case f[0] == "hwcap":
		default:
			for _, d := range strings.FieldsFunc(line, func(c rune) bool { return c == ':' || c == ',' || c == ' ' || c == '\t' || c == '=' }) {
				if strings.HasPrefix(d, "/") {
					dirs = append(dirs, d)
				}
			}
		}
	}
	return dirs
}

// glob matches a pattern whose wildcards are in the last element only.
func (r *Resolver) glob(pattern string) []string {
	dir, base := path.Split(pattern)
	real, e, _ := r.fs.Resolve(dir, nil)
	if e == nil {
		return nil
	}
	var out []string
	for _, p := range r.fs.Under(real) {
		if path.Dir(p) != real {
			continue
		}
		if ok, _ := path.Match(base, path.Base(p)); ok {
			out = append(out, p)
		}
	}
	return out
}

// Info is what an ELF file asks the dynamic loader for.
type Info struct {
	Interp  string
	Needed  []string
	RPath   []string
	RunPath []string
	Class   elf.Class
	Machine elf.Machine
}

// Parse reads the dynamic section of an ELF file; ok is false for files
// that are not ELF.
func Parse(ra io.ReaderAt) (*Info, bool, error) {
	var magic [4]byte
	if _, err := ra.ReadAt(magic[:], 0); err != nil || string(magic[:]) != elf.ELFMAG {
		return nil, false, nil
	}
	f, err := elf.NewFile(ra)
	if err != nil {
		return nil, true, err
	}
	defer f.Close()
	in := &Info{Class: f.Class, Machine: f.Machine}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			b, err := io.ReadAll(io.LimitReader(p.Open(), 4096))
			if err == nil {
				in.Interp = strings.TrimRight(string(b), "\x00")
			}
		}
	}
	in.Needed, _ = f.DynString(elf.DT_NEEDED)
	rp, _ := f.DynString(elf.DT_RPATH)
	for _, s := range rp {
		in.RPath = append(in.RPath, splitPath(s)...)
	}
	rn, _ := f.DynString(elf.DT_RUNPATH)
	for _, s := range rn {
		in.RunPath = append(in.RunPath, splitPath(s)...)
	}
	return in, true, nil
}

// Deps returns the paths (as the loader would name them) of the
// interpreter and libraries an ELF file at filePath needs. Libraries that
// cannot be found are returned in missing.
func (r *Resolver) Deps(filePath string, in *Info) (deps, missing []string) {
	if in.Interp != "" {
		deps = append(deps, in.Interp)
	}
	origin := path.Dir(filePath)
	expand := func(dirs []string) []string {
		var out []string
		for _, d := range dirs {
			d = strings.ReplaceAll(d, "${ORIGIN}", origin)
			d = strings.ReplaceAll(d, "$ORIGIN", origin)
			d = strings.ReplaceAll(d, "$LIB", "lib64")
			d = strings.ReplaceAll(d, "${LIB}", "lib64")
			if strings.HasPrefix(d, "/") {
				out = append(out, d)
			}
		}
		return out
	}
	var search []string
	if len(in.RunPath) == 0 {
		search = append(search, expand(in.RPath)...)
	}
	search = append(search, r.ldPath...)
	search = append(search, expand(in.RunPath)...)
	search = append(search, r.confDirs...)
	search = append(search, r.defaults...)
	for _, n := range in.Needed {
		if strings.Contains(n, "/") {
			deps = append(deps, n)
			continue
		}
		found := ""
		for _, d := range search {
			cand := path.Join(d, n)
			if r.compatible(cand, in) {
				found = cand
				break
			}
		}
		if found == "" {
			missing = append(missing, n)
			continue
		}
		deps = append(deps, found)
	}
	return deps, missing
}

// compatible reports whether p exists and is an ELF object of the same
// class and machine as in.
func (r *Resolver) compatible(p string, in *Info) bool {
	_, e, err := r.fs.Resolve(p, nil)
	if err != nil || e == nil || e.Header.Typeflag != tar.TypeReg {
		return false
	}
	other, ok, err := Parse(r.fs.Open(e))
	return ok && err == nil && other.Class == in.Class && other.Machine == in.Machine
}
