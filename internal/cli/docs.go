package cli

import (
	"fmt"
	"os"

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
			root.DisableAutoGenTag = true // reproducible pages: no generation date
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
