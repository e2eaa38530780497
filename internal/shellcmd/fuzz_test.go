package shellcmd

import "testing"

// FuzzParse: scripts and history lines never panic the parser or rules.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"apt-get update && apt-get install -y x", "curl x | sh", "|1 A=b /bin/sh -c make", "RUN /bin/sh -c x # buildkit", "$(a | b) `c`", "if x; then y; fi"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		History(s)
		sc, err := Parse(s)
		if err != nil {
			return
		}
		sc.PipedToShell()
		sc.Upgrades()
		for _, c := range sc.Commands {
			c.Name()
			c.Sub()
			c.Has("-y")
		}
	})
}
