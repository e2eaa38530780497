package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

func (a *app) docsCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "docs", Short: "Generate documentation from the command tree"}
	man := &cobra.Command{
		Use:   "man DIR",
		Short: "Write a man page per command (section 1) into DIR",
		Long: `Write one man page per command — shipshape.1, shipshape-scan.1,
shipshape-db-update.1, … — generated from the commands' own help, flags and
environment variables, into DIR (created if missing).

  shipshape docs man /usr/local/share/man/man1 && man shipshape-scan`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := args[0]
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("man pages: %w", err)
			}
			root := cmd.Root()
			root.DisableAutoGenTag = true
			preformat(root)
			header := &doc.GenManHeader{Section: "1", Source: "shipshape " + Version, Manual: "shipshape manual"}
			if err := doc.GenManTree(root, header, dir); err != nil {
				return fmt.Errorf("man pages in %s: %w", dir, err)
			}
			fmt.Fprintf(a.stdout, "wrote man pages to %s\n", dir)
			return nil
		},
	}
	cmd.AddCommand(man)
	return cmd
}

// preformat keeps the help texts' indented blocks (lists of forms, example
// commands) as they are laid out in the terminal: the man page generator
// reads Long as Markdown, where only a block indented by four spaces after
// a blank line is kept verbatim. It changes the tree it is given, which
// only the one-shot docs command does.
func preformat(c *cobra.Command) {
	c.Long = markdownBlocks(c.Long)
	for _, sub := range c.Commands() {
		preformat(sub)
	}
}

// markdownBlocks turns runs of lines indented by two or more spaces into
// Markdown code blocks.
func markdownBlocks(s string) string {
	lines := strings.Split(s, "\n")
	var out []string
	in := false
	for _, l := range lines {
		indented := strings.HasPrefix(l, "  ")
		switch {
		case indented && !in:
			if len(out) > 0 && out[len(out)-1] != "" {
				out = append(out, "")
			}
			in = true
		case !indented && in && l != "":
			out = append(out, "")
			in = false
		case l == "":
			in = false
		}
		if indented {
			l = "    " + l
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}
