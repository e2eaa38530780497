package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

// addIntegrations adds the commands that connect shipshape to its
// surroundings — shell completion, man pages, the Docker CLI plugin — and
// completes the IMAGE argument of every command that takes one.
func (a *app) addIntegrations(root *cobra.Command) {
	root.AddCommand(a.completionCommand(), a.docsCommand(), a.installCommand(), a.pluginMetadataCommand())
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		if c.ValidArgsFunction == nil && takesImage(c) {
			c.ValidArgsFunction = completeImage
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

// takesImage reports whether a command's first argument is an IMAGE.
func takesImage(c *cobra.Command) bool {
	f := strings.Fields(c.Use)
	return len(f) > 1 && f[1] == "IMAGE"
}

// completionShells are the shells "completion" writes scripts for.
var completionShells = []string{"bash", "zsh", "fish", "powershell"}

func (a *app) completionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print the shell completion script",
		Long: `Print the completion script for a shell. Commands, flags and their values
complete, and IMAGE arguments complete transports and, after docker-daemon:,
the images of the Docker Engine.

  bash:  source <(shipshape completion bash)
         shipshape completion bash > /etc/bash_completion.d/shipshape
  zsh:   shipshape completion zsh > "${fpath[1]}/_shipshape"
  fish:  shipshape completion fish > ~/.config/fish/completions/shipshape.fish
  powershell:  shipshape completion powershell | Out-String | Invoke-Expression`,
		Args:                  cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs:             completionShells,
		DisableFlagsInUseLine: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			root := cmd.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(a.stdout, true)
			case "zsh":
				return root.GenZshCompletion(a.stdout)
			case "fish":
				return root.GenFishCompletion(a.stdout, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(a.stdout)
			}
			return fmt.Errorf("unknown shell %q (want one of %s)", args[0], strings.Join(completionShells, ", "))
		},
	}
}

// imageTransports are the IMAGE prefixes, as skopeo writes them.
var imageTransports = []cobra.Completion{
	cobra.CompletionWithDesc("docker-daemon:", "an image in the Docker Engine"),
	cobra.CompletionWithDesc("docker://", "an image in a registry"),
	cobra.CompletionWithDesc("docker-archive:", "a docker save archive"),
	cobra.CompletionWithDesc("oci:", "an OCI image layout directory"),
	cobra.CompletionWithDesc("oci-archive:", "an OCI image layout tar"),
	cobra.CompletionWithDesc("dir:", "a root filesystem directory"),
}

// daemonListTimeout bounds the Engine query behind a key press.
const daemonListTimeout = 3 * time.Second

// completeImage completes an IMAGE argument: after docker-daemon: the
// Engine's tagged images, after a file transport the files, and otherwise
// the transports. It never fails: an unreachable Engine completes nothing.
func completeImage(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	if rest, ok := strings.CutPrefix(toComplete, "docker-daemon:"); ok {
		ctx, cancel := context.WithTimeout(cmdContext(cmd), daemonListTimeout)
		defer cancel()
		var out []cobra.Completion
		for _, tag := range daemonTags(ctx) {
			if strings.HasPrefix(tag, rest) {
				out = append(out, "docker-daemon:"+tag)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
	for _, t := range []string{"docker-archive:", "oci-archive:", "oci:", "dir:"} {
		if strings.HasPrefix(toComplete, t) {
			// The shell completes the path after the prefix.
			return nil, cobra.ShellCompDirectiveDefault
		}
	}
	if toComplete == "" || !strings.ContainsAny(toComplete, ":/.") {
		var out []cobra.Completion
		for _, t := range imageTransports {
			name, _, _ := strings.Cut(t, "\t")
			if strings.HasPrefix(name, toComplete) {
				out = append(out, t)
			}
		}
		if len(out) > 0 {
			return out, cobra.ShellCompDirectiveNoSpace | cobra.ShellCompDirectiveNoFileComp
		}
	}
	return nil, cobra.ShellCompDirectiveDefault
}

func cmdContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// daemonTags lists the tagged images of the Docker Engine named by the
// environment, sorted; nil when the Engine does not answer.
func daemonTags(ctx context.Context) []string {
	c, err := client.New(client.FromEnv)
	if err != nil {
		return nil
	}
	defer c.Close()
	res, err := c.ImageList(ctx, client.ImageListOptions{})
	if err != nil {
		return nil
	}
	var tags []string
	for _, img := range res.Items {
		for _, t := range img.RepoTags {
			if t != "<none>:<none>" {
				tags = append(tags, t)
			}
		}
	}
	slices.Sort(tags)
	return slices.Compact(tags)
}
