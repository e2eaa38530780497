// Package dockerfile parses Dockerfiles with BuildKit's own parser and
// checks them against shipshape's rules (SS-DF-…): the same practices the
// image scan judges, found where they are cheapest to fix. It also maps an
// image's history back to the Dockerfile instructions that produced it.
package dockerfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// MaxSize bounds the Dockerfiles read.
const MaxSize = 4 << 20

// File is a parsed Dockerfile.
type File struct {
	// Path is the Dockerfile's path as given (used in findings).
	Path     string
	Stages   []instructions.Stage
	MetaArgs []instructions.ArgCommand
	// Dockerignore tells whether a .dockerignore applies (beside the
	// Dockerfile, or PATH.dockerignore).
	Dockerignore bool
	// ignores are the inline suppressions, by the line of the instruction
	// they precede.
	ignores map[int][]inlineIgnore
	// Warnings are problems that did not stop the parse.
	Warnings []string
}

// inlineIgnore is one "# shipshape:ignore RULE[,RULE] reason" comment.
type inlineIgnore struct {
	Rules  []string
	Reason string
	Line   int
}

// Load reads and parses a Dockerfile and looks for its .dockerignore.
func Load(path string) (*File, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("dockerfile: %w", err)
	}
	if fi.Size() > MaxSize {
		return nil, fmt.Errorf("dockerfile %s: %d bytes, larger than %d", path, fi.Size(), MaxSize)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dockerfile: %w", err)
	}
	f, err := Parse(path, b)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{filepath.Join(filepath.Dir(path), ".dockerignore"), path + ".dockerignore"} {
		if _, err := os.Stat(p); err == nil {
			f.Dockerignore = true
		}
	}
	return f, nil
}

// Parse parses Dockerfile content. Syntax errors name the file and line.
func Parse(path string, b []byte) (*File, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("dockerfile %s: %d bytes, larger than %d", path, len(b), MaxSize)
	}
	// A binary file is refused before the parser echoes its bytes back
	// to the terminal in an error.
	if i := bytes.IndexByte(b, 0); i >= 0 || !utf8.Valid(b) {
		if i < 0 {
			i = len(b) - len(bytes.ToValidUTF8(b, nil))
		}
		return nil, fmt.Errorf("dockerfile %s: not a text file (binary content near byte %d)", path, max(i, 0))
	}
	res, err := parser.Parse(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("dockerfile %s: %w", path, withLine(err))
	}
	stages, metaArgs, err := instructions.Parse(res.AST, nil)
	if err != nil {
		return nil, fmt.Errorf("dockerfile %s: %w", path, withLine(err))
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("dockerfile %s: no FROM instruction", path)
	}
	f := &File{Path: path, Stages: stages, MetaArgs: metaArgs, ignores: map[int][]inlineIgnore{}}
	// RUN --mount flags are only fully parsed when the command is
	// expanded; expand with the identity (variables stay as written).
	for _, st := range stages {
		for _, c := range st.Commands {
			if r, ok := c.(*instructions.RunCommand); ok {
				if err := r.Expand(func(w string) (string, error) { return w, nil }); err != nil {
					s, _ := lines(r.Location())
					return nil, fmt.Errorf("dockerfile %s: line %d: %w", path, s, err)
				}
			}
		}
	}
	for _, w := range res.Warnings {
		f.Warnings = append(f.Warnings, fmt.Sprintf("%s:%d: %s", path, w.Location.Start.Line, w.Short))
	}
	for _, n := range res.AST.Children {
		// PrevComment holds the comment lines above the instruction, in
		// order; the comment's own line is counted back from the node.
		for i, c := range n.PrevComment {
			line := n.StartLine - len(n.PrevComment) + i
			rest, ok := strings.CutPrefix(strings.TrimSpace(c), "shipshape:ignore")
			if !ok {
				continue
			}
			ids, reason, _ := strings.Cut(strings.TrimSpace(rest), " ")
			ig := inlineIgnore{Reason: strings.TrimSpace(reason), Line: line}
			for _, id := range strings.Split(ids, ",") {
				if id = strings.TrimSpace(id); id != "" {
					ig.Rules = append(ig.Rules, id)
				}
			}
			if len(ig.Rules) == 0 {
				f.Warnings = append(f.Warnings, fmt.Sprintf("%s: shipshape:ignore above line %d names no rule; it suppresses nothing", path, n.StartLine))
				continue
			}
			if ig.Reason == "" {
				f.Warnings = append(f.Warnings, fmt.Sprintf("%s: shipshape:ignore %s above line %d has no reason; it suppresses nothing", path, ids, n.StartLine))
				continue
			}
			f.ignores[n.StartLine] = append(f.ignores[n.StartLine], ig)
		}
	}
	return f, nil
}

// withLine turns BuildKit's located errors into "line N: …".
func withLine(err error) error {
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		return fmt.Errorf("line %d: %w", le.Locations[0][0].Start.Line, err)
	}
	return err
}

// lines returns the first and last line of a command's location.
func lines(loc []parser.Range) (int, int) {
	if len(loc) == 0 {
		return 0, 0
	}
	return loc[0].Start.Line, loc[len(loc)-1].End.Line
}

// metaDefaults returns the default values of the ARGs before the first FROM.
func (f *File) metaDefaults() map[string]string {
	m := map[string]string{}
	for _, a := range f.MetaArgs {
		for _, kv := range a.Args {
			if kv.Value != nil {
				m[kv.Key] = *kv.Value
			}
		}
	}
	return m
}

// expand replaces $VAR and ${VAR} from the meta ARG defaults; unknown
// variables stay as they are. ok is false when something was left.
func (f *File) expand(s string) (string, bool) {
	m := f.metaDefaults()
	ok := true
	out := os.Expand(s, func(k string) string {
		name, def, hasDef := strings.Cut(k, ":-")
		if v, found := m[name]; found && v != "" {
			return v
		}
		if hasDef {
			return def
		}
		ok = false
		return "${" + k + "}"
	})
	return out, ok
}

// stageIndex finds a stage by name or number; -1 when ref is not a stage.
func (f *File) stageIndex(ref string, before int) int {
	for i := 0; i < before && i < len(f.Stages); i++ {
		if f.Stages[i].Name != "" && strings.EqualFold(f.Stages[i].Name, ref) {
			return i
		}
	}
	if n, err := strconv.Atoi(ref); err == nil && n >= 0 && n < before {
		return n
	}
	return -1
}

// FinalChain returns the indexes of the stages the final image is made
// of, the final stage last: the final stage and, through FROM <stage>,
// the stages it builds on.
func (f *File) FinalChain() []int {
	var chain []int
	i := len(f.Stages) - 1
	for i >= 0 {
		chain = append([]int{i}, chain...)
		base, _ := f.expand(f.Stages[i].BaseName)
		i = f.stageIndex(base, i)
	}
	return chain
}

// Reachable returns the stages whose content can reach the final image:
// the final chain, and every stage it copies from (COPY --from, RUN
// --mount=from), transitively.
func (f *File) Reachable() map[int]bool {
	seen := map[int]bool{}
	var visit func(i int)
	visit = func(i int) {
		if i < 0 || seen[i] {
			return
		}
		seen[i] = true
		st := f.Stages[i]
		base, _ := f.expand(st.BaseName)
		visit(f.stageIndex(base, i))
		for _, c := range st.Commands {
			switch c := c.(type) {
			case *instructions.CopyCommand:
				if c.From != "" {
					from, _ := f.expand(c.From)
					visit(f.stageIndex(from, i))
				}
			case *instructions.RunCommand:
				for _, m := range instructions.GetMounts(c) {
					if m.From != "" {
						visit(f.stageIndex(m.From, i))
					}
				}
			}
		}
	}
	visit(len(f.Stages) - 1)
	return seen
}

// Base returns the external image the final image is built on (the FROM
// at the root of the final chain, ARGs expanded) and its line. It is ""
// for scratch.
func (f *File) Base() (string, int) {
	chain := f.FinalChain()
	st := f.Stages[chain[0]]
	name, _ := f.expand(st.BaseName)
	line, _ := lines(st.Location)
	if strings.EqualFold(name, "scratch") {
		return "", line
	}
	return name, line
}
