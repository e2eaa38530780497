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
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	sysfacts "github.com/shipshape-dev/shipshape/internal/facts"
	"github.com/shipshape-dev/shipshape/internal/pkgdb"

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
func (a *Analyzer) Version() string { return "3" }

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
	// passwd, group, the release files and the package databases come
	// from the shared facts (analyze.Input.System).
	if !e.HasPathPrefix("/etc/") {
		return false, 0
	}
	switch p := e.Path(); {
	case p == shadowPath || p == sudoers || strings.HasPrefix(p, "/etc/sudoers.d/"):
		return true, smallFile
	}
	return false, 0
}

// NewLayer implements analyze.Analyzer.
func (a *Analyzer) NewLayer(*image.Layer) analyze.LayerScanner {
	return &scanner{f: &facts{}}
}

// facts is what one layer says beyond the shared facts. Secrets never
// enter the facts: shadow hashes are reduced to a state, sudoers to their
// NOPASSWD lines.
type facts struct {
	// Shadow holds each account's password state ("empty", "hash",
	// "locked").
	Shadow map[string]string `json:"shadow,omitempty"`
	// NoPasswd holds NOPASSWD sudoers lines by file, as "LINE: text".
	NoPasswd map[string][]string `json:"nopasswd,omitempty"`
	// Sudoers lists the sudoers files seen (present even without NOPASSWD).
	Sudoers []string `json:"sudoers,omitempty"`
}

type scanner struct{ f *facts }

func (s *scanner) Facts() (json.RawMessage, error) { return json.Marshal(s.f) }

func (s *scanner) File(_ context.Context, e *fstree.Entry, r io.Reader) error {
	f := s.f
	switch p := e.Path(); {
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
	}
	return nil
}

// eachLine calls fn for every line of r, however long (pkgdb.Lines).
func eachLine(r io.Reader, fn func(string)) {
	pkgdb.Lines(r, func(l []byte) bool { fn(string(l)); return true })
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
	if err != nil || e == nil || e.Type != fstree.Regular || int(e.Layer) < 1 || int(e.Layer) > len(st.facts) {
		return "", nil, nil
	}
	return rp, e, st.facts[e.Layer-1]
}

// text returns the final content of passwd, group or a release file,
// from the shared facts.
func (st *state) text(p string) (string, *fstree.Entry, bool) {
	sys := st.in.System
	if sys == nil {
		return "", nil, false
	}
	var f *sysfacts.File
	switch p {
	case passwdPath:
		f = sys.Passwd
	case groupPath:
		f = sys.Group
	default:
		if rf, ok := sys.ReleaseFiles[p]; ok {
			f = &rf
		}
	}
	if f == nil {
		return "", nil, false
	}
	return f.Text, f.Entry, true
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
	o, _ := st.in.System.Owner(p)
	return o.Package
}
