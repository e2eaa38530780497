// Package shellcmd parses the shell scripts of RUN instructions (and the
// history lines they leave in images) into simple commands, so that rules
// can ask "does this RUN call apt-get install without --no-install-
// recommends" without matching regular expressions over raw text.
package shellcmd

import (
	"fmt"
	"path"
	"strings"
	"unicode"

	"mvdan.cc/sh/v3/syntax"
)

// Command is one simple command of a script.
type Command struct {
	// Args are the command's words; words that are not plain literals keep
	// their source text ("$TOKEN", "$(id -u)").
	Args []string
	// Pipeline numbers the pipeline the command is part of (0: none);
	// Stage is its position in it, from 0.
	Pipeline, Stage int
	// Line is the command's line in the script, from 1.
	Line int
}

// Name is the command's program without its directory ("apt-get" for
// "/usr/bin/apt-get"), after wrappers such as sudo and env are skipped.
func (c Command) Name() string {
	a := c.Unwrapped()
	if len(a) == 0 {
		return ""
	}
	return path.Base(a[0])
}

// Unwrapped returns the arguments with leading wrapper commands (sudo,
// env, nice, time, command, exec, xargs) and variable assignments removed.
func (c Command) Unwrapped() []string {
	a := c.Args
	for len(a) > 0 {
		switch path.Base(a[0]) {
		case "sudo", "env", "nice", "time", "command", "exec", "xargs", "nohup", "doas":
			a = a[1:]
			for len(a) > 0 && (strings.HasPrefix(a[0], "-") || strings.Contains(a[0], "=")) {
				a = a[1:]
			}
			continue
		}
		return a
	}
	return a
}

// Has reports whether any argument after the program equals one of flags.
func (c Command) Has(flags ...string) bool {
	for _, a := range c.Unwrapped()[min(1, len(c.Unwrapped())):] {
		for _, f := range flags {
			if a == f || (strings.HasSuffix(f, "=") && strings.HasPrefix(a, f)) {
				return true
			}
		}
	}
	return false
}

// Sub returns the first non-flag argument after the program (the
// subcommand of apt-get, apk, dnf…), or "".
func (c Command) Sub() string {
	a := c.Unwrapped()
	for i := 1; i < len(a); i++ {
		switch {
		case valueFlags[a[i]]:
			i++ // the flag's value
		case !strings.HasPrefix(a[i], "-"):
			return a[i]
		}
	}
	return ""
}

// valueFlags are package-manager options that take the next word as their
// value ("apt-get -o Opt=v install").
var valueFlags = map[string]bool{"-o": true, "-c": true, "-t": true, "--option": true, "--config-file": true, "--target-release": true, "-X": true, "--repository": true, "-p": true, "--root": true}

// Script is a parsed script.
type Script struct {
	Commands []Command
}

// maxScript bounds the script size parsed (a hostile history line may be
// huge).
const maxScript = 1 << 20

// Parse parses a POSIX/bash script. A script that does not parse is an
// error naming the position.
func Parse(src string) (*Script, error) {
	if len(src) > maxScript {
		return nil, fmt.Errorf("shell script of %d bytes: larger than %d", len(src), maxScript)
	}
	f, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(src), "")
	if err != nil {
		return nil, fmt.Errorf("shell: %w", err)
	}
	s := &Script{}
	pipes := 0
	var visit func(n syntax.Node, pipe, stage int) int
	visit = func(n syntax.Node, pipe, stage int) int {
		switch n := n.(type) {
		case *syntax.BinaryCmd:
			if n.Op == syntax.Pipe || n.Op == syntax.PipeAll {
				if pipe == 0 {
					pipes++
					pipe = pipes
				}
				stage = visit(n.X, pipe, stage)
				return visit(n.Y, pipe, stage)
			}
			visit(n.X, 0, 0)
			visit(n.Y, 0, 0)
			return stage
		case *syntax.Stmt:
			if n.Cmd != nil {
				return visit(n.Cmd, pipe, stage)
			}
		case *syntax.CallExpr:
			c := Command{Pipeline: pipe, Stage: stage, Line: int(n.Pos().Line())}
			for _, w := range n.Args {
				c.Args = append(c.Args, Word(w))
			}
			if len(c.Args) > 0 {
				s.Commands = append(s.Commands, c)
			}
			// Command substitutions inside the words run too.
			for _, w := range n.Args {
				syntax.Walk(w, func(m syntax.Node) bool {
					if cs, ok := m.(*syntax.CmdSubst); ok {
						for _, st := range cs.Stmts {
							visit(st, 0, 0)
						}
						return false
					}
					return true
				})
			}
			return stage + 1
		case *syntax.Block:
			for _, st := range n.Stmts {
				visit(st, 0, 0)
			}
		case *syntax.Subshell:
			for _, st := range n.Stmts {
				visit(st, 0, 0)
			}
		case *syntax.IfClause:
			for c := n; c != nil; c = c.Else {
				for _, st := range c.Cond {
					visit(st, 0, 0)
				}
				for _, st := range c.Then {
					visit(st, 0, 0)
				}
			}
		case *syntax.WhileClause:
			for _, st := range n.Cond {
				visit(st, 0, 0)
			}
			for _, st := range n.Do {
				visit(st, 0, 0)
			}
		case *syntax.ForClause:
			for _, st := range n.Do {
				visit(st, 0, 0)
			}
		case *syntax.CaseClause:
			for _, it := range n.Items {
				for _, st := range it.Stmts {
					visit(st, 0, 0)
				}
			}
		case *syntax.FuncDecl:
			visit(n.Body, 0, 0)
		}
		return stage + 1
	}
	for _, st := range f.Stmts {
		visit(st, 0, 0)
	}
	return s, nil
}

// Word renders a word: literal and quoted parts by value, anything else
// (parameter expansions, command substitutions) by its source text.
func Word(w *syntax.Word) string {
	var b strings.Builder
	var parts func(ps []syntax.WordPart)
	parts = func(ps []syntax.WordPart) {
		for _, p := range ps {
			switch p := p.(type) {
			case *syntax.Lit:
				b.WriteString(p.Value)
			case *syntax.SglQuoted:
				b.WriteString(p.Value)
			case *syntax.DblQuoted:
				parts(p.Parts)
			default:
				var sb strings.Builder
				syntax.NewPrinter().Print(&sb, p)
				b.WriteString(sb.String())
			}
		}
	}
	parts(w.Parts)
	return b.String()
}

// Find returns the commands whose Name is one of names.
func (s *Script) Find(names ...string) []Command {
	var out []Command
	for _, c := range s.Commands {
		for _, n := range names {
			if c.Name() == n {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

// PipedToShell returns the download commands (curl, wget) whose output is
// piped into a shell or interpreter in the same pipeline.
func (s *Script) PipedToShell() []Command {
	var out []Command
	for i, c := range s.Commands {
		if c.Pipeline == 0 || (c.Name() != "curl" && c.Name() != "wget") {
			continue
		}
		for _, d := range s.Commands[i+1:] {
			if d.Pipeline == c.Pipeline && d.Stage > c.Stage && isShell(d.Name()) {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

func isShell(n string) bool {
	switch n {
	case "sh", "bash", "ash", "dash", "zsh", "ksh", "python", "python3", "perl", "ruby", "node":
		return true
	}
	return false
}

// Upgrades reports the commands that upgrade the installed system
// packages (apt-get upgrade, apk upgrade, dnf/yum/microdnf update…).
func (s *Script) Upgrades() []Command {
	var out []Command
	for _, c := range s.Commands {
		switch c.Name() {
		case "apt-get", "apt", "aptitude":
			if sub := c.Sub(); sub == "upgrade" || sub == "dist-upgrade" || sub == "full-upgrade" {
				out = append(out, c)
			}
		case "apk":
			if c.Sub() == "upgrade" || (c.Sub() == "add" && c.Has("-u", "--upgrade")) {
				out = append(out, c)
			}
		case "dnf", "yum", "microdnf", "tdnf":
			if sub := c.Sub(); sub == "upgrade" || sub == "update" || sub == "distro-sync" || sub == "upgrade-minimal" {
				out = append(out, c)
			}
		case "zypper":
			if sub := c.Sub(); sub == "up" || sub == "update" || sub == "dup" || sub == "dist-upgrade" || sub == "patch" {
				out = append(out, c)
			}
		}
	}
	return out
}

// History splits an image history line (created_by) into the Dockerfile
// instruction and its argument. RUN lines yield the shell script:
//
//	/bin/sh -c #(nop)  USER app            → USER, "app"        (classic builder)
//	/bin/sh -c apk add x                   → RUN, "apk add x"   (classic builder)
//	|2 A=1 B=2 /bin/sh -c make             → RUN, "make"        (classic, with build args)
//	RUN /bin/sh -c apk add x # buildkit    → RUN, "apk add x"   (BuildKit)
//	COPY f /f # buildkit                   → COPY, "f /f"
func History(createdBy string) (instr, arg string) {
	s := strings.TrimSpace(createdBy)
	if strings.HasPrefix(s, "|") { // classic builder's build-arg prefix
		if i := strings.Index(s, " /bin/sh -c "); i >= 0 {
			s = s[i+1:]
		}
	}
	if rest, ok := strings.CutPrefix(s, "/bin/sh -c "); ok {
		if nop, ok := strings.CutPrefix(rest, "#(nop) "); ok {
			nop = strings.TrimSpace(nop)
			instr, arg = cutWord(nop)
			return strings.ToUpper(instr), strings.TrimSpace(arg)
		}
		return "RUN", rest
	}
	s = strings.TrimSuffix(s, " # buildkit")
	instr, arg = cutWord(s)
	instr = strings.ToUpper(instr)
	if instr == "RUN" {
		for _, sh := range []string{"/bin/sh -c ", "/bin/bash -c ", "/bin/bash -o pipefail -c ", "/bin/sh -o pipefail -c "} {
			if r, ok := strings.CutPrefix(arg, sh); ok {
				return "RUN", r
			}
		}
		// RUN |1 A=b /bin/sh -c …
		if strings.HasPrefix(arg, "|") {
			if i := strings.Index(arg, " /bin/sh -c "); i >= 0 {
				return "RUN", arg[i+len(" /bin/sh -c "):]
			}
		}
	}
	return instr, strings.TrimSpace(arg)
}

// cutWord splits s at its first white space (a space, a tab, the newline
// of a heredoc): the instruction word and the rest.
func cutWord(s string) (word, rest string) {
	if i := strings.IndexFunc(s, unicode.IsSpace); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}
