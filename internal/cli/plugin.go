package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
)

// The Docker CLI plugin protocol: docker finds docker-NAME in
// $DOCKER_CONFIG/cli-plugins (default ~/.docker/cli-plugins), asks it for
// its metadata with the docker-cli-plugin-metadata argument, and runs
// "docker [GLOBAL OPTIONS] NAME ARGS…" as "docker-NAME [GLOBAL OPTIONS]
// NAME ARGS…" with DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND set.
const (
	pluginName            = "shipshape"
	pluginMetadataCommand = "docker-cli-plugin-metadata"
	envPluginOriginalCLI  = "DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND"
)

// pluginMetadata is what docker reads from docker-cli-plugin-metadata.
type pluginMetadata struct {
	SchemaVersion    string `json:"SchemaVersion"`
	Vendor           string `json:"Vendor"`
	Version          string `json:"Version"`
	ShortDescription string `json:"ShortDescription"`
	URL              string `json:"URL,omitempty"`
}

func (a *app) pluginMetadataCommand() *cobra.Command {
	return &cobra.Command{
		Use:    pluginMetadataCommand,
		Short:  "Describe shipshape to the Docker CLI (plugin protocol)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			enc := json.NewEncoder(a.stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(pluginMetadata{
				SchemaVersion:    "0.1.0",
				Vendor:           "shipshape",
				Version:          Version,
				ShortDescription: "Audit and harden container images",
				URL:              "https://github.com/shipshape-dev/shipshape",
			})
		},
	}
}

func (a *app) installCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "install", Short: "Install shipshape into other tools"}
	var (
		dir   string
		force bool
	)
	plugin := &cobra.Command{
		Use:   "docker-plugin",
		Short: "Make shipshape a Docker CLI plugin: docker shipshape scan IMAGE",
		Long: `Link this shipshape binary into the Docker CLI's plugin directory as
docker-shipshape, so that "docker shipshape scan IMAGE", "docker shipshape slim
IMAGE" and the other commands work and use the Docker CLI's context
(--context, DOCKER_CONTEXT, "docker context use"), --host and DOCKER_HOST.

The directory is $DOCKER_CONFIG/cli-plugins, or ~/.docker/cli-plugins when
DOCKER_CONFIG is not set. An existing docker-shipshape link is replaced; any
other file there is left alone unless --force is given.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			exe, err := os.Executable()
			if err != nil {
				return fmt.Errorf("install docker-plugin: find this program: %w", err)
			}
			if exe, err = filepath.EvalSymlinks(exe); err != nil {
				return fmt.Errorf("install docker-plugin: %w", err)
			}
			if dir == "" {
				if dir, err = pluginDir(os.Getenv); err != nil {
					return fmt.Errorf("install docker-plugin: %w", err)
				}
			}
			link, err := installPlugin(exe, dir, force)
			if err != nil {
				return fmt.Errorf("install docker-plugin: %w", err)
			}
			fmt.Fprintf(a.stdout, "linked %s -> %s\nrun: docker shipshape scan IMAGE\n", link, exe)
			return nil
		},
	}
	plugin.Flags().StringVar(&dir, "dir", "", "plugin directory (default: $DOCKER_CONFIG/cli-plugins, else ~/.docker/cli-plugins)")
	plugin.Flags().BoolVar(&force, "force", false, "replace a docker-shipshape that is not a link")
	cmd.AddCommand(plugin)
	return cmd
}

// pluginDir is the Docker CLI's per-user plugin directory.
func pluginDir(getenv func(string) string) (string, error) {
	cfg, err := dockerConfigDir(getenv)
	if err != nil {
		return "", err
	}
	return filepath.Join(cfg, "cli-plugins"), nil
}

// dockerConfigDir is $DOCKER_CONFIG, else ~/.docker.
func dockerConfigDir(getenv func(string) string) (string, error) {
	if d := getenv("DOCKER_CONFIG"); d != "" {
		return d, nil
	}
	home := getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("no DOCKER_CONFIG and no home directory: %w", err)
		}
		home = h
	}
	return filepath.Join(home, ".docker"), nil
}

// installPlugin links exe as dir/docker-shipshape and returns the link.
// The link is made beside its final name and renamed over it, so that a
// running docker never sees a half-made plugin.
func installPlugin(exe, dir string, force bool) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	link := filepath.Join(dir, "docker-"+pluginName)
	fi, err := os.Lstat(link)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return "", err
	case fi.Mode()&fs.ModeSymlink == 0 && !force:
		return "", fmt.Errorf("%s exists and is not a link (use --force to replace it)", link)
	}
	tmp := link + ".tmp"
	_ = os.Remove(tmp)
	if err := os.Symlink(exe, tmp); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, link); err != nil {
		_ = os.Remove(tmp)
		return "", err
	}
	return link, nil
}

// DockerPluginInvocation is how the Docker CLI ran shipshape as a plugin:
// the arguments for shipshape, and the environment that carries the Docker
// CLI's global options (its context, host, config directory and TLS
// files) to shipshape's Docker client.
type DockerPluginInvocation struct {
	Args []string
	Env  map[string]string
}

// DockerPlugin recognises a run by the Docker CLI ("docker-shipshape
// [GLOBAL OPTIONS] shipshape ARGS…", with DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND
// set) and turns it into shipshape's own arguments and environment; any
// other run is returned as it is. Main programs apply Env to their process
// before calling [Main].
func DockerPlugin(args []string, getenv func(string) string) (DockerPluginInvocation, error) {
	inv := DockerPluginInvocation{Args: args}
	if getenv(envPluginOriginalCLI) == "" || (len(args) == 1 && args[0] == pluginMetadataCommand) {
		return inv, nil
	}
	// docker's own completion asks the plugin: "__complete shipshape ARGS…".
	if len(args) >= 2 && (args[0] == cobra.ShellCompRequestCmd || args[0] == cobra.ShellCompNoDescRequestCmd) && args[1] == pluginName {
		inv.Args = append([]string{args[0]}, args[2:]...)
		return inv, nil
	}
	g, rest, err := parseDockerGlobals(args)
	if err != nil || len(rest) == 0 || rest[0] != pluginName {
		// Not the plugin entry point (docker checks its own options
		// before it runs a plugin): shipshape run from a process that
		// docker started, with its own arguments. Run them as given.
		return inv, nil
	}
	inv.Args = rest[1:]
	if g.debug {
		inv.Args = append([]string{"--debug"}, inv.Args...)
	}
	inv.Env = map[string]string{}
	if g.config != "" {
		inv.Env["DOCKER_CONFIG"] = g.config
	}
	env := func(k string) string {
		if v, ok := inv.Env[k]; ok {
			return v
		}
		return getenv(k)
	}
	ep, err := resolveEndpoint(g, env)
	if err != nil {
		return inv, fmt.Errorf("docker plugin: %w", err)
	}
	if ep.host != "" {
		inv.Env["DOCKER_HOST"] = ep.host
	}
	if ep.certPath != "" {
		inv.Env["DOCKER_CERT_PATH"] = ep.certPath
	}
	if ep.tlsVerify {
		inv.Env["DOCKER_TLS_VERIFY"] = "1"
	}
	return inv, nil
}

// dockerGlobals are the Docker CLI's global options.
type dockerGlobals struct {
	config, context, host          string
	tlsCA, tlsCert, tlsKey         string
	tls, tlsVerify, debug, hostSet bool
}

// parseDockerGlobals reads the docker global options in front of the
// plugin name and returns the rest.
func parseDockerGlobals(args []string) (dockerGlobals, []string, error) {
	var g dockerGlobals
	valued := map[string]*string{
		"--config": &g.config, "-c": &g.context, "--context": &g.context,
		"-H": &g.host, "--host": &g.host, "-l": new(string), "--log-level": new(string),
		"--tlscacert": &g.tlsCA, "--tlscert": &g.tlsCert, "--tlskey": &g.tlsKey,
	}
	boolean := map[string]*bool{"-D": &g.debug, "--debug": &g.debug, "--tls": &g.tls, "--tlsverify": &g.tlsVerify}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return g, args[i+1:], nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			return g, args[i:], nil
		}
		name, value, hasValue := strings.Cut(a, "=")
		if p, ok := valued[name]; ok {
			if !hasValue {
				if i+1 >= len(args) {
					return g, nil, fmt.Errorf("docker option %s needs a value", name)
				}
				i++
				value = args[i]
			}
			*p = value
			if p == &g.host {
				g.hostSet = true
			}
			continue
		}
		if p, ok := boolean[name]; ok {
			*p = !hasValue || value == "true" || value == "1"
			continue
		}
		return g, nil, fmt.Errorf("unknown docker option %s", a)
	}
	return g, nil, nil
}

// endpoint is where the Docker Engine is and how to reach it.
type endpoint struct {
	host      string
	certPath  string
	tlsVerify bool
}

// resolveEndpoint decides which Engine a plugin run talks to, as the Docker
// CLI does: --host, else --context, else DOCKER_HOST, else DOCKER_CONTEXT,
// else the config's currentContext; the context "default" (or none) is
// DOCKER_HOST or the platform default.
func resolveEndpoint(g dockerGlobals, getenv func(string) string) (endpoint, error) {
	var ep endpoint
	if g.tls || g.tlsVerify || g.tlsCA != "" || g.tlsCert != "" || g.tlsKey != "" {
		dir, err := certDir(g)
		if err != nil {
			return ep, err
		}
		ep.certPath, ep.tlsVerify = dir, g.tlsVerify || g.tlsCA != ""
	}
	if g.hostSet {
		if g.context != "" {
			return ep, errors.New("--host and --context cannot both be given")
		}
		ep.host = g.host
		return ep, nil
	}
	name := g.context
	if name == "" {
		if getenv("DOCKER_HOST") != "" {
			return ep, nil // the environment already names the Engine
		}
		name = getenv("DOCKER_CONTEXT")
	}
	cfgDir, err := dockerConfigDir(getenv)
	if err != nil {
		return ep, err
	}
	if name == "" {
		if name, err = currentContext(cfgDir); err != nil {
			return ep, err
		}
	}
	if name == "" || name == "default" {
		return ep, nil
	}
	return contextEndpoint(cfgDir, name, ep)
}

// certDir is the one directory holding --tlscacert, --tlscert and --tlskey
// under the names DOCKER_CERT_PATH requires (ca.pem, cert.pem, key.pem).
func certDir(g dockerGlobals) (string, error) {
	dir := ""
	for _, f := range []struct{ path, want string }{{g.tlsCA, "ca.pem"}, {g.tlsCert, "cert.pem"}, {g.tlsKey, "key.pem"}} {
		if f.path == "" {
			continue
		}
		if filepath.Base(f.path) != f.want || (dir != "" && filepath.Dir(f.path) != dir) {
			return "", fmt.Errorf("TLS files must be ca.pem, cert.pem and key.pem in one directory (got %s); set DOCKER_CERT_PATH instead", f.path)
		}
		dir = filepath.Dir(f.path)
	}
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(home, ".docker")
	}
	return dir, nil
}

// currentContext reads currentContext from DIR/config.json ("" when the
// file or the field is missing).
func currentContext(cfgDir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(cfgDir, "config.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("docker config: %w", err)
	}
	var cfg struct {
		CurrentContext string `json:"currentContext"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return "", fmt.Errorf("docker config %s: %w", filepath.Join(cfgDir, "config.json"), err)
	}
	return cfg.CurrentContext, nil
}

// contextEndpoint reads a Docker CLI context's Engine endpoint from its
// metadata, DIR/contexts/meta/SHA256(NAME)/meta.json, and its TLS files
// from DIR/contexts/tls/SHA256(NAME)/docker/.
func contextEndpoint(cfgDir, name string, ep endpoint) (endpoint, error) {
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	metaPath := filepath.Join(cfgDir, "contexts", "meta", id, "meta.json")
	b, err := os.ReadFile(metaPath)
	if errors.Is(err, fs.ErrNotExist) {
		return ep, fmt.Errorf("docker context %q not found (no %s)", name, metaPath)
	}
	if err != nil {
		return ep, fmt.Errorf("docker context %q: %w", name, err)
	}
	var meta struct {
		Endpoints map[string]struct {
			Host          string `json:"Host"`
			SkipTLSVerify bool   `json:"SkipTLSVerify"`
		} `json:"Endpoints"`
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return ep, fmt.Errorf("docker context %q: %s: %w", name, metaPath, err)
	}
	d, ok := meta.Endpoints["docker"]
	if !ok || d.Host == "" {
		return ep, fmt.Errorf("docker context %q has no docker endpoint", name)
	}
	ep.host = d.Host
	tlsDir := filepath.Join(cfgDir, "contexts", "tls", id, "docker")
	if _, err := os.Stat(filepath.Join(tlsDir, "ca.pem")); err == nil {
		ep.certPath, ep.tlsVerify = tlsDir, !d.SkipTLSVerify
	}
	return ep, nil
}
