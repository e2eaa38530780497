// Package imagecfg judges an image from its own files and configuration:
// who it runs as (P2), how old its operating system is and whether the
// build updated it (P3), which base image it was built on and whether the
// policy allows it (P9), plus build hygiene that touches P8.
//
// Everything is decided from the final /etc/passwd, /etc/group, package
// databases and os-release of the image itself, read during the single
// layer pass, never from guesses on names.
package imagecfg

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/eol"
	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// Analyzer checks P2, P3, P9 and image hygiene.
type Analyzer struct {
	// Policy decides trusted registries and allowed bases (nil: defaults).
	Policy *policy.Policy
	// EOL is the release table (nil: the builtin one).
	EOL *eol.Table
	// Now is the clock for end-of-life decisions (nil: time.Now).
	Now func() time.Time
	// DockerfileBase is the base image the Dockerfile's final stage is
	// built FROM (--dockerfile), with where it was found.
	DockerfileBase       string
	DockerfileBaseSource *scorecard.Source
	// MaxListed bounds the findings listed for one rule (default 50).
	MaxListed int
}

// Name implements analyze.Analyzer.
func (a *Analyzer) Name() string { return "imagecfg" }

// Version implements analyze.Analyzer.
func (a *Analyzer) Version() string { return "2" }

// Size caps for the files read.
const (
	smallFile = 1 << 20  // passwd, group, shadow, sudoers, os-release
	dbFile    = 64 << 20 // package databases
	listFile  = 4 << 20  // dpkg .list files
)

// Paths read.
const (
	passwdPath = "/etc/passwd"
	groupPath  = "/etc/group"
	shadowPath = "/etc/shadow"
	sudoers    = "/etc/sudoers"
	apkDB      = "/lib/apk/db/installed"
	dpkgDB     = "/var/lib/dpkg/status"
	dpkgInfo   = "/var/lib/dpkg/info/"
)

var osReleasePaths = []string{"/etc/os-release", "/usr/lib/os-release"}

// Wants implements analyze.Analyzer.
func (a *Analyzer) Wants(e *fstree.Entry) (bool, int64) {
	switch p := e.Path; {
	case p == passwdPath || p == groupPath || p == shadowPath || p == sudoers ||
		p == "/etc/os-release" || p == "/usr/lib/os-release":
		return true, smallFile
	case strings.HasPrefix(p, "/etc/sudoers.d/"):
		return true, smallFile
	case p == apkDB || p == dpkgDB:
		return true, dbFile
	case strings.HasPrefix(p, dpkgInfo) && strings.HasSuffix(p, ".list"):
		return true, listFile
	}
	return false, 0
}

// NewLayer implements analyze.Analyzer.
func (a *Analyzer) NewLayer(*image.Layer) analyze.LayerScanner {
	return &scanner{f: &facts{}}
}

// facts is what one layer says. Secrets never enter the facts: shadow
// hashes are reduced to a state, sudoers to their NOPASSWD lines.
type facts struct {
	// Text holds small text files by path (passwd, group, os-release).
	Text map[string]string `json:"text,omitempty"`
	// Shadow holds each account's password state ("empty", "hash",
	// "locked").
	Shadow map[string]string `json:"shadow,omitempty"`
	// NoPasswd holds NOPASSWD sudoers lines by file, as "LINE: text".
	NoPasswd map[string][]string `json:"nopasswd,omitempty"`
	// Sudoers lists the sudoers files seen (present even without NOPASSWD).
	Sudoers []string `json:"sudoers,omitempty"`
	// Packages holds package versions by database path.
	Packages map[string]map[string]string `json:"packages,omitempty"`
	// Owners maps executable paths to their package, per database or
	// dpkg .list file path.
	Owners map[string]map[string]string `json:"owners,omitempty"`
	// Errors are content the layer held that could not be read.
	Errors []string `json:"errors,omitempty"`
}

type scanner struct{ f *facts }

func (s *scanner) Facts() (json.RawMessage, error) { return json.Marshal(s.f) }

func (s *scanner) File(_ context.Context, e *fstree.Entry, r io.Reader) error {
	f := s.f
	switch p := e.Path; {
	case p == shadowPath:
		f.Shadow = parseShadow(r)
	case p == sudoers || strings.HasPrefix(p, "/etc/sudoers.d/"):
		f.Sudoers = append(f.Sudoers, p)
		if lines := noPasswd(r); len(lines) > 0 {
			if f.NoPasswd == nil {
				f.NoPasswd = map[string][]string{}
			}
			f.NoPasswd[p] = lines
		}
	case p == apkDB:
		pk, own := parseAPK(r)
		f.addDB(p, pk, own)
	case p == dpkgDB:
		pk := parseDpkg(r)
		f.addDB(p, pk, nil)
	case strings.HasPrefix(p, dpkgInfo):
		pkg := strings.TrimSuffix(path.Base(p), ".list")
		pkg, _, _ = strings.Cut(pkg, ":")
		own := map[string]string{}
		eachLine(r, func(l string) {
			if isExecPath(l) {
				own[l] = pkg
			}
		})
		f.addDB(p, nil, own)
	default:
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if f.Text == nil {
			f.Text = map[string]string{}
		}
		f.Text[p] = string(b)
	}
	return nil
}

// eachLine calls fn for every line of r, however long: a line longer than
// maxLine is cut to maxLine bytes (a hostile file cannot hide the lines
// after a huge one, as bufio.Scanner's ErrTooLong would).
func eachLine(r io.Reader, fn func(string)) {
	const maxLine = 64 << 10
	br := bufio.NewReaderSize(r, 64<<10)
	var cur []byte
	for {
		part, isPrefix, err := br.ReadLine()
		if len(cur) < maxLine {
			cur = append(cur, part[:min(len(part), maxLine-len(cur))]...)
		}
		if err != nil {
			if len(cur) > 0 {
				fn(string(cur))
			}
			return
		}
		if !isPrefix {
			fn(string(cur))
			cur = cur[:0]
		}
	}
}

func (f *facts) addDB(p string, pk, own map[string]string) {
	if pk != nil {
		if f.Packages == nil {
			f.Packages = map[string]map[string]string{}
		}
		f.Packages[p] = pk
	}
	if len(own) > 0 {
		if f.Owners == nil {
			f.Owners = map[string]map[string]string{}
		}
		f.Owners[p] = own
	}
}

// isExecPath keeps the package-owned paths that can be setuid or carry
// capabilities: programs in bin, sbin and libexec directories and
// extension-less files under lib.
func isExecPath(p string) bool {
	if strings.Contains(p, "/bin/") || strings.Contains(p, "/sbin/") || strings.Contains(p, "/libexec/") {
		return true
	}
	return strings.Contains(p, "/lib/") && !strings.Contains(path.Base(p), ".")
}

func parseShadow(r io.Reader) map[string]string {
	out := map[string]string{}
	eachLine(r, func(l string) {
		parts := strings.Split(l, ":")
		if len(parts) < 2 || parts[0] == "" || strings.HasPrefix(parts[0], "#") {
			return
		}
		switch h := parts[1]; {
		case h == "":
			out[parts[0]] = "empty"
		case strings.HasPrefix(h, "!") || strings.HasPrefix(h, "*") || h == "x":
			out[parts[0]] = "locked"
		default:
			out[parts[0]] = "hash"
		}
	})
	return out
}

func noPasswd(r io.Reader) []string {
	var out []string
	n := 0
	eachLine(r, func(l string) {
		n++
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "#") || !strings.Contains(l, "NOPASSWD") {
			return
		}
		if len(l) > 200 {
			l = l[:200]
		}
		out = append(out, fmt.Sprintf("%d: %s", n, l))
	})
	return out
}

// parseAPK reads apk's installed database: package versions, and the
// owner of each executable path.
func parseAPK(r io.Reader) (map[string]string, map[string]string) {
	pk, own := map[string]string{}, map[string]string{}
	var name, dir string
	eachLine(r, func(l string) {
		if len(l) < 2 || l[1] != ':' {
			if l == "" {
				name, dir = "", ""
			}
			return
		}
		v := l[2:]
		switch l[0] {
		case 'P':
			name = v
		case 'V':
			if name != "" {
				pk[name] = v
			}
		case 'F':
			dir = v
		case 'R':
			// Rooted before it is cleaned: "../" in a hostile database
			// stops at the image root.
			if p := path.Join("/", dir, v); name != "" && isExecPath(p) {
				own[p] = name
			}
		}
	})
	return pk, own
}

// parseDpkg reads dpkg's status file: the versions of installed packages.
func parseDpkg(r io.Reader) map[string]string {
	pk := map[string]string{}
	var name, ver, status string
	flush := func() {
		if name != "" && ver != "" && strings.HasSuffix(status, " installed") {
			pk[name] = ver
		}
		name, ver, status = "", "", ""
	}
	eachLine(r, func(l string) {
		switch {
		case l == "":
			flush()
		case strings.HasPrefix(l, "Package: "):
			name = strings.TrimPrefix(l, "Package: ")
		case strings.HasPrefix(l, "Version: "):
			ver = strings.TrimPrefix(l, "Version: ")
		case strings.HasPrefix(l, "Status: "):
			status = strings.TrimPrefix(l, "Status: ")
		}
	})
	flush()
	return pk
}

// state is what Finish works from: every layer's facts and the final view.
type state struct {
	a     *Analyzer
	in    *analyze.Input
	facts []*facts
	out   *analyze.Output
	now   time.Time

	osEntry    *fstree.Entry
	baseLayers int
}

// Finish implements analyze.Analyzer.
func (a *Analyzer) Finish(ctx context.Context, in *analyze.Input) (*analyze.Output, error) {
	st := &state{a: a, in: in, out: &analyze.Output{Sections: map[string]any{}}, now: time.Now()}
	if a.Now != nil {
		st.now = a.Now()
	}
	for i, raw := range in.Facts {
		f := &facts{}
		if len(raw) > 0 {
			if err := json.Unmarshal(raw, f); err != nil {
				return nil, fmt.Errorf("layer %d: facts: %w", i+1, err)
			}
		}
		st.facts = append(st.facts, f)
	}
	st.users()
	st.release()
	st.base()
	st.hygiene()
	return st.out, nil
}

// final returns the final entry at p (following symlinks inside the image)
// and its layer's facts; nil when p is not a regular file in the image.
func (st *state) final(p string) (string, *fstree.Entry, *facts) {
	rp, e, err := st.in.Tree.Resolve(p)
	if err != nil || e == nil || e.Type != fstree.Regular || e.Layer < 1 || e.Layer > len(st.facts) {
		return "", nil, nil
	}
	return rp, e, st.facts[e.Layer-1]
}

// text returns the final content of a small text file.
func (st *state) text(p string) (string, *fstree.Entry, bool) {
	rp, e, f := st.final(p)
	if f == nil {
		return "", nil, false
	}
	s, ok := f.Text[rp]
	return s, e, ok
}

func (st *state) add(f scorecard.Finding) { st.out.Findings = append(st.out.Findings, f) }

func (st *state) maxListed() int {
	if st.a.MaxListed > 0 {
		return st.a.MaxListed
	}
	return 50
}

// owner returns the package owning p, from the final package databases.
func (st *state) owner(p string) string {
	// usrmerge: /bin/su in a package list is /usr/bin/su on disk.
	alt := "/usr" + p
	if rest, ok := strings.CutPrefix(p, "/usr/"); ok {
		alt = "/" + rest
	}
	for _, c := range []string{p, alt} {
		if o := st.ownerOf(c); o != "" {
			return o
		}
	}
	return ""
}

func (st *state) ownerOf(p string) string {
	for _, db := range []string{apkDB} {
		if _, _, f := st.final(db); f != nil {
			if o := f.Owners[db][p]; o != "" {
				return o
			}
		}
	}
	// dpkg: one .list file per package; look at every final one.
	for i, f := range st.facts {
		for list, own := range f.Owners {
			if !strings.HasPrefix(list, dpkgInfo) {
				continue
			}
			if e := st.in.Tree.Lookup(list); e == nil || e.Layer != i+1 {
				continue
			}
			if o := own[p]; o != "" {
				return o
			}
		}
	}
	return ""
}
