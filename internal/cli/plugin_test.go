package cli_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/cli"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// env is a getenv over a map.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// writeContext writes a Docker CLI context the way "docker context create"
// stores it.
func writeContext(t *testing.T, cfg, name, host string, withTLS bool) {
	t.Helper()
	sum := sha256.Sum256([]byte(name))
	id := hex.EncodeToString(sum[:])
	meta := filepath.Join(cfg, "contexts", "meta", id)
	if err := os.MkdirAll(meta, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"Name": name, "Metadata": map[string]any{}, "Endpoints": map[string]any{"docker": map[string]any{"Host": host, "SkipTLSVerify": false}}})
	if err := os.WriteFile(filepath.Join(meta, "meta.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if withTLS {
		tls := filepath.Join(cfg, "contexts", "tls", id, "docker")
		if err := os.MkdirAll(tls, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range []string{"ca.pem", "cert.pem", "key.pem"} {
			if err := os.WriteFile(filepath.Join(tls, f), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestDockerPlugin(t *testing.T) {
	cfg := t.TempDir()
	writeContext(t, cfg, "remote", "tcp://10.1.2.3:2376", true)
	writeContext(t, cfg, "plain", "unix:///run/other.sock", false)
	cfgCurrent := t.TempDir()
	writeContext(t, cfgCurrent, "plain", "unix:///run/other.sock", false)
	os.WriteFile(filepath.Join(cfgCurrent, "config.json"), []byte(`{"auths":{},"currentContext":"plain"}`), 0o644)
	plugin := map[string]string{"DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND": "docker", "DOCKER_CONFIG": cfg}

	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    []string
		wantEnv map[string]string
		wantErr string
	}{
		{name: "not a plugin run", args: []string{"shipshape", "scan", "x"}, env: map[string]string{}, want: []string{"shipshape", "scan", "x"}},
		{name: "metadata", args: []string{"docker-cli-plugin-metadata"}, env: plugin, want: []string{"docker-cli-plugin-metadata"}},
		{name: "plain", args: []string{"shipshape", "scan", "-f", "json", "img"}, env: plugin, want: []string{"scan", "-f", "json", "img"}, wantEnv: map[string]string{}},
		{name: "host", args: []string{"-H", "tcp://h:2375", "shipshape", "scan", "img"}, env: plugin, want: []string{"scan", "img"}, wantEnv: map[string]string{"DOCKER_HOST": "tcp://h:2375"}},
		{name: "host=", args: []string{"--host=unix:///x.sock", "--debug", "shipshape", "version"}, env: plugin, want: []string{"--debug", "version"}, wantEnv: map[string]string{"DOCKER_HOST": "unix:///x.sock"}},
		{name: "context with TLS", args: []string{"--context", "remote", "-l", "info", "shipshape", "scan", "img"}, env: plugin, want: []string{"scan", "img"},
			wantEnv: map[string]string{"DOCKER_HOST": "tcp://10.1.2.3:2376", "DOCKER_TLS_VERIFY": "1", "DOCKER_CERT_PATH": filepath.Join(cfg, "contexts", "tls", hexName("remote"), "docker")}},
		{name: "context beats DOCKER_HOST", args: []string{"-c=plain", "shipshape", "scan", "img"}, env: with(plugin, "DOCKER_HOST", "tcp://env:1"), want: []string{"scan", "img"}, wantEnv: map[string]string{"DOCKER_HOST": "unix:///run/other.sock"}},
		{name: "DOCKER_HOST beats DOCKER_CONTEXT", args: []string{"shipshape", "scan", "img"}, env: with(with(plugin, "DOCKER_HOST", "tcp://env:1"), "DOCKER_CONTEXT", "remote"), want: []string{"scan", "img"}, wantEnv: map[string]string{}},
		{name: "DOCKER_CONTEXT", args: []string{"shipshape", "scan", "img"}, env: with(plugin, "DOCKER_CONTEXT", "plain"), want: []string{"scan", "img"}, wantEnv: map[string]string{"DOCKER_HOST": "unix:///run/other.sock"}},
		{name: "currentContext", args: []string{"shipshape", "scan", "img"}, env: with(plugin, "DOCKER_CONFIG", cfgCurrent), want: []string{"scan", "img"}, wantEnv: map[string]string{"DOCKER_HOST": "unix:///run/other.sock"}},
		{name: "--config", args: []string{"--config", cfgCurrent, "shipshape", "scan", "img"}, env: plugin, want: []string{"scan", "img"}, wantEnv: map[string]string{"DOCKER_CONFIG": cfgCurrent, "DOCKER_HOST": "unix:///run/other.sock"}},
		{name: "default context", args: []string{"--context", "default", "shipshape", "scan", "img"}, env: plugin, want: []string{"scan", "img"}, wantEnv: map[string]string{}},
		{name: "missing context", args: []string{"--context", "nope", "shipshape", "scan"}, env: plugin, wantErr: `docker context "nope" not found`},
		{name: "host and context", args: []string{"-H", "tcp://h:1", "-c", "plain", "shipshape"}, env: plugin, wantErr: "--host and --context cannot both be given"},
		// Docker checks its options before it runs a plugin: anything else
		// is shipshape started from a plugin's process, with its own flags.
		{name: "shipshape's own flags", args: []string{"-q", "scan", "img"}, env: plugin, want: []string{"-q", "scan", "img"}},
		{name: "option without value", args: []string{"--context"}, env: plugin, want: []string{"--context"}},
		{name: "other plugin name", args: []string{"other", "x"}, env: plugin, want: []string{"other", "x"}},
		{name: "docker's completion", args: []string{"__complete", "shipshape", "scan", "docker-daemon:"}, env: plugin, want: []string{"__complete", "scan", "docker-daemon:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inv, err := cli.DockerPlugin(tt.args, env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(inv.Args, tt.want) {
				t.Errorf("args = %q, want %q", inv.Args, tt.want)
			}
			if len(inv.Env) != len(tt.wantEnv) {
				t.Errorf("env = %v, want %v", inv.Env, tt.wantEnv)
			}
			for k, v := range tt.wantEnv {
				if inv.Env[k] != v {
					t.Errorf("env %s = %q, want %q", k, inv.Env[k], v)
				}
			}
		})
	}
}

func hexName(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func with(m map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	for mk, mv := range m {
		if mk != k {
			out[mk] = mv
		}
	}
	return out
}

func TestPluginMetadata(t *testing.T) {
	r := run(t, "docker-cli-plugin-metadata")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatalf("%v: %s", err, r.stdout)
	}
	if m["SchemaVersion"] != "0.1.0" || m["Vendor"] == "" || m["ShortDescription"] == "" {
		t.Errorf("metadata %v", m)
	}
	if strings.Contains(run(t, "--help").stdout, "docker-cli-plugin-metadata") {
		t.Error("the protocol command shows in the help")
	}
}

func TestInstallDockerPlugin(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("DOCKER_CONFIG", "")
	exe, _ := os.Executable()
	exe, _ = filepath.EvalSymlinks(exe)
	check := func(link string) {
		t.Helper()
		got, err := os.Readlink(link)
		if err != nil || got != exe {
			t.Errorf("%s -> %q (%v), want %s", link, got, err, exe)
		}
	}
	// Default: ~/.docker/cli-plugins; twice (the link is replaced).
	for range 2 {
		if r := run(t, "install", "docker-plugin"); r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
	}
	check(filepath.Join(home, ".docker", "cli-plugins", "docker-shipshape"))
	// DOCKER_CONFIG moves it.
	cfg := filepath.Join(t.TempDir(), "cfg")
	t.Setenv("DOCKER_CONFIG", cfg)
	if r := run(t, "install", "docker-plugin"); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	link := filepath.Join(cfg, "cli-plugins", "docker-shipshape")
	check(link)
	// Another program's file stays unless --force.
	os.Remove(link)
	os.WriteFile(link, []byte("#!/bin/sh\n"), 0o755)
	if r := run(t, "install", "docker-plugin"); r.code != 2 || !strings.Contains(r.stderr, "is not a link (use --force") {
		t.Errorf("over a file: exit %d, %q", r.code, r.stderr)
	}
	if r := run(t, "install", "docker-plugin", "--force"); r.code != 0 {
		t.Fatalf("--force: exit %d: %s", r.code, r.stderr)
	}
	check(link)
}

func TestCompletionScripts(t *testing.T) {
	for shell, want := range map[string]string{
		"bash":       "__start_shipshape",
		"zsh":        "#compdef shipshape",
		"fish":       "complete -c shipshape",
		"powershell": "Register-ArgumentCompleter",
	} {
		r := run(t, "completion", shell)
		if r.code != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("completion %s: exit %d, lacks %q (%s)", shell, r.code, want, r.stderr)
		}
	}
	if r := run(t, "completion", "tcsh"); r.code != 2 {
		t.Errorf("completion tcsh: exit %d", r.code)
	}
	// IMAGE arguments complete transports.
	r := run(t, "__complete", "scan", "oci")
	if !strings.Contains(r.stdout, "oci:\t") || !strings.Contains(r.stdout, "oci-archive:\t") || strings.Contains(r.stdout, "docker://") {
		t.Errorf("scan oci<TAB>:\n%s", r.stdout)
	}
	r = run(t, "__complete", "fix", "secrets", "")
	if !strings.Contains(r.stdout, "docker-daemon:\t") {
		t.Errorf("fix secrets <TAB> does not offer transports:\n%s", r.stdout)
	}
}

func TestManPages(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "man1")
	if r := run(t, "docs", "man", dir); r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, name := range []string{"shipshape", "shipshape-scan", "shipshape-db-update", "shipshape-fix-secrets", "shipshape-completion", "shipshape-install-docker-plugin"} {
		b, err := os.ReadFile(filepath.Join(dir, name+".1"))
		if err != nil {
			t.Error(err)
			continue
		}
		title := strings.ToUpper(name)
		if !strings.Contains(string(b), `.TH "`+title+`" "1"`) || !strings.Contains(string(b), ".SH NAME") {
			t.Errorf("%s.1 is not a section 1 man page:\n%.300s", name, b)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "shipshape-docker-cli-plugin-metadata.1")); err == nil {
		t.Error("a man page for the hidden protocol command")
	}
	// groff, when present, must render the page without a warning, with
	// the help's aligned list kept as it is.
	if groff, err := exec.LookPath("groff"); err == nil {
		page := filepath.Join(dir, "shipshape-scan.1")
		out, err := exec.Command(groff, "-k", "-man", "-Tutf8", "-ww", "-z", page).CombinedOutput()
		if err != nil || len(out) > 0 {
			t.Errorf("groff: %v\n%s", err, out)
		}
		cmd := exec.Command(groff, "-k", "-man", "-Tascii", "-P-c", "-P-b", "-P-u", page)
		cmd.Env = append(os.Environ(), "MANWIDTH=100")
		out, err = cmd.Output()
		if err != nil || !strings.Contains(string(out), `docker-archive:PATH[:TAG]    a "docker save" archive (.tar or .tar.gz)`) {
			t.Errorf("the IMAGE forms are not laid out as in the help (%v):\n%s", err, out)
		}
	}
}

// buildShipshape builds cmd/shipshape into a temporary directory.
func buildShipshape(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "shipshape")
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "../../cmd/shipshape")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestDockerCLIPlugin installs shipshape as a plugin of the real docker CLI
// in a throwaway HOME and DOCKER_CONFIG, and runs it through docker with
// the Engine named by DOCKER_HOST, a context, and a context that points
// nowhere.
func TestDockerCLIPlugin(t *testing.T) {
	engine := testenv.Docker(t)
	docker := testenv.DockerCLI(t)
	if testing.Short() {
		t.Skip("builds shipshape: not in -short")
	}
	bin := buildShipshape(t)
	home := t.TempDir()
	cfg := filepath.Join(home, "docker-config")
	base := []string{"HOME=" + home, "DOCKER_CONFIG=" + cfg, "PATH=" + os.Getenv("PATH"), "SHIPSHAPE_DB_DIR=" + t.TempDir()}
	runIn := func(extraEnv []string, name string, args ...string) (string, string, error) {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(slices.Clone(base), extraEnv...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	if out, errs, err := runIn(nil, bin, "install", "docker-plugin"); err != nil || !strings.Contains(out, filepath.Join(cfg, "cli-plugins", "docker-shipshape")) {
		t.Fatalf("install: %v\n%s%s", err, out, errs)
	}
	if out, _, _ := runIn(nil, docker, "--help"); !strings.Contains(out, "shipshape*") || !strings.Contains(out, "Audit and harden container images") {
		t.Errorf("docker --help does not list the plugin:\n%s", out)
	}
	if out, errs, err := runIn(nil, docker, "shipshape", "version"); err != nil || !strings.HasPrefix(out, "shipshape ") {
		t.Errorf("docker shipshape version: %v: %q %q", err, out, errs)
	}
	// docker's own completion reaches the plugin's.
	if out, errs, err := runIn(nil, docker, "__complete", "shipshape", "sc"); err != nil || !strings.Contains(out, "scan\t") {
		t.Errorf("docker __complete shipshape sc: %v: %q %q", err, out, errs)
	}
	if out, errs, err := runIn(nil, docker, "load", "-i", demoPath); err != nil {
		t.Fatalf("docker load: %v\n%s%s", err, out, errs)
	}
	const ref = "docker-daemon:shipshape.local/demo:1.0"
	host := engine.DaemonHost()
	scan := func(name string, extraEnv []string, globals ...string) {
		t.Helper()
		args := append(append(globals, "shipshape", "scan", "--no-cache", "-q", "-f", "json"), ref)
		out, errs, err := runIn(extraEnv, docker, args...)
		if err != nil {
			t.Fatalf("%s: docker %s: %v\n%s", name, strings.Join(args, " "), err, errs)
		}
		var rep scorecard.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
		if rep.Image.Transport != "docker-daemon" || rep.Grade != scorecard.GradeF || !slices.Contains(rep.Image.RepoTags, "shipshape.local/demo:1.0") {
			t.Errorf("%s: transport %s, grade %s, tags %v", name, rep.Image.Transport, rep.Grade, rep.Image.RepoTags)
		}
	}
	scan("DOCKER_HOST", []string{"DOCKER_HOST=" + host})
	scan("--host", nil, "-H", host)

	// Contexts, made by the docker CLI itself.
	for _, c := range [][]string{
		{"context", "create", "ss-real", "--docker", "host=" + host},
		{"context", "create", "ss-nowhere", "--docker", "host=unix:///nonexistent/shipshape-test.sock"},
		{"context", "use", "ss-real"},
	} {
		if out, errs, err := runIn(nil, docker, c...); err != nil {
			t.Fatalf("docker %v: %v\n%s%s", c, err, out, errs)
		}
	}
	scan("current context", nil)
	_, errs, err := runIn(nil, docker, "--context", "ss-nowhere", "shipshape", "scan", "-q", ref)
	if err == nil || !strings.Contains(errs, "/nonexistent/shipshape-test.sock") {
		t.Errorf("--context ss-nowhere: %v, stderr %q; want a failure naming the context's socket", err, errs)
	}
	_, errs, err = runIn([]string{"DOCKER_CONTEXT=ss-nowhere"}, docker, "shipshape", "scan", "-q", ref)
	if err == nil || !strings.Contains(errs, "/nonexistent/shipshape-test.sock") {
		t.Errorf("DOCKER_CONTEXT=ss-nowhere: %v, stderr %q", err, errs)
	}

	// Completion in a real bash: the script from the plugin's binary
	// completes commands and the Engine's images.
	bash := testenv.Binary(t, "bash")
	const bashCompletion = "/usr/share/bash-completion/bash_completion" // Debian's bash-completion
	_, err = os.Stat(bashCompletion)
	testenv.Require(t, "bash-completion", err)
	binDir := filepath.Dir(bin)
	script := `source ` + bashCompletion + `
source <(shipshape completion bash)
complete_line() { COMP_LINE="$1"; COMP_POINT=${#COMP_LINE}; read -ra COMP_WORDS <<<"$1"; [[ "$1" == *" " ]] && COMP_WORDS+=(""); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); COMPREPLY=(); __start_shipshape shipshape; printf '%s\n' "${COMPREPLY[@]}"; }
complete_line "shipshape sc"
echo ---
complete_line "shipshape scan docker-daemon:shipshape.local/de"`
	out, errs, err := runIn([]string{"PATH=" + binDir + ":" + os.Getenv("PATH"), "DOCKER_HOST=" + host}, bash, "-c", script)
	if err != nil {
		t.Fatalf("bash completion: %v\n%s", err, errs)
	}
	cmds, imgs, _ := strings.Cut(out, "---\n")
	if strings.TrimSpace(cmds) != "scan" {
		t.Errorf("shipshape sc<TAB> = %q, want scan", cmds)
	}
	// bash-completion hands back what follows the last ":" word break.
	if !slices.Contains(strings.Fields(imgs), "shipshape.local/demo:1.0") {
		t.Errorf("shipshape scan docker-daemon:shipshape.local/de<TAB> = %q", imgs)
	}
}
