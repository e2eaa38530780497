package shellcmd

import (
	"slices"
	"strings"
	"testing"

	"mvdan.cc/sh/v3/syntax"
)

// FuzzParse: scripts and history lines never panic the parser or rules;
// every command sits on a line of the script; printing a parsed script and
// parsing it again yields the same commands (words, pipelines, stages);
// History returns an instruction word in capitals and an argument taken
// from the line.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"apt-get update && apt-get install -y x", "curl x | sh", "|1 A=b /bin/sh -c make", "RUN /bin/sh -c x # buildkit", "$(a | b) `c`", "if x; then y; fi",
		"a \\\n  && b 'c d' \"$E\" | tee /f\n\nfor i in 1 2; do sudo env X=1 apt-get -o A=b install z; done", "cat <<EOF\nx\nEOF\necho y", "f() { curl -fsSL u |& bash; }; f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		instr, arg := History(s)
		if instr != strings.ToUpper(instr) || strings.ContainsAny(instr, " \t\n") {
			t.Fatalf("History(%q): instruction %q", s, instr)
		}
		if !strings.Contains(s, arg) {
			t.Fatalf("History(%q): argument %q is not part of the line", s, arg)
		}
		sc, err := Parse(s)
		if err != nil {
			return
		}
		if _, ok := reprint(t, s); !ok {
			t.Fatalf("Parse accepted %q, which the shell parser rejects", s)
		}
		sc.PipedToShell()
		sc.Upgrades()
		nlines := strings.Count(s, "\n") + 1
		for _, c := range sc.Commands {
			if c.Line < 1 || c.Line > nlines {
				t.Fatalf("command %q on line %d of a %d-line script", c.Args, c.Line, nlines)
			}
			if c.Pipeline < 0 || c.Stage < 0 {
				t.Fatalf("command %q: pipeline %d stage %d", c.Args, c.Pipeline, c.Stage)
			}
			c.Name()
			c.Sub()
			c.Has("-y")
		}
		// parse → print → parse is stable: the printed script and its own
		// reprint yield the same commands (words, pipelines, stages), so
		// that layout — line breaks, spacing, quoting style — never changes
		// what the rules see. The first print may normalise oddities such
		// as a backslash at the end of the input; after it, nothing moves.
		p1, ok := reprint(t, s)
		if !ok {
			return
		}
		p2, ok := reprint(t, p1)
		if !ok {
			// mvdan.cc/sh's printer can emit what its parser rejects
			// ("$`0`" prints as "$$(0)"): a bug upstream, not in the
			// commands this package extracts.
			t.Skipf("printed script does not parse again (printer bug upstream)\nscript:  %q\nprinted: %q", s, p1)
		}
		c1, err := Parse(p1)
		if err != nil {
			t.Fatalf("printed script: %v", err)
		}
		c2, err := Parse(p2)
		if err != nil {
			t.Fatalf("reprinted script: %v", err)
		}
		if !sameCommands(c1.Commands, c2.Commands) {
			t.Fatalf("parse → print → parse changed the commands\nscript:  %q\nprinted: %q\nagain:   %q\nbefore:  %v\nafter:   %v", s, p1, p2, c1.Commands, c2.Commands)
		}
	})
}

// reprint parses s as Parse does and prints it with mvdan.cc/sh's printer;
// ok is false when s does not parse.
func reprint(t *testing.T, s string) (string, bool) {
	t.Helper()
	file, err := syntax.NewParser(syntax.Variant(syntax.LangBash)).Parse(strings.NewReader(s), "")
	if err != nil {
		return "", false
	}
	var b strings.Builder
	if err := syntax.NewPrinter().Print(&b, file); err != nil {
		t.Fatalf("print %q: %v", s, err)
	}
	return b.String(), true
}

// sameCommands compares commands without their lines, which printing
// changes.
func sameCommands(a, b []Command) bool {
	return slices.EqualFunc(a, b, func(x, y Command) bool {
		return slices.Equal(x.Args, y.Args) && x.Pipeline == y.Pipeline && x.Stage == y.Stage
	})
}
