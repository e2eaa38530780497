// Package sensor is the program shipshape runs inside a container to learn
// which files an application uses. It starts the application (dropping to
// the image's user), traces the whole process tree with ptrace and writes a
// Report when the application exits or the sensor is told to stop.
//
// The sensor must be a static binary: it is mounted read-only into images
// that may have no C library at all. It is built from cmd/shipshape-sensor
// or is the shipshape binary itself (hidden "sensor" command) when that is
// built with CGO_ENABLED=0.
package sensor

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Report is what one traced run observed.
type Report struct {
	// Touched are the paths the process tree opened, executed, stat'ed or
	// read as links successfully, as the process named them (absolute,
	// not yet resolved through symbolic links).
	Touched []string `json:"touched"`
	// Missing are lookups that failed with ENOENT or ENOTDIR: near misses
	// that tell which optional files the application looked for.
	Missing []string `json:"missing,omitempty"`
	// Execs are the programs the tree executed.
	Execs []string `json:"execs,omitempty"`
	// Syscalls are the names of the system calls the tree made.
	Syscalls []string `json:"syscalls"`
	// ExitCode is the main process's exit code (-1 when killed).
	ExitCode int `json:"exitCode"`
	// Processes counts the processes and threads traced.
	Processes int `json:"processes"`
	// Fanotify says whether fanotify watched the root mount ("on") or why
	// not; its paths are merged into Touched.
	Fanotify string `json:"fanotify,omitempty"`
	// Error describes why tracing stopped early, if it did.
	Error string `json:"error,omitempty"`
}

// Options control one traced run.
type Options struct {
	Argv    []string
	Env     []string
	Dir     string
	User    string // "name", "uid", "name:group", "uid:gid"; empty keeps the sensor's user
	SetHome bool   // set HOME to the user's home directory
	Report  string // where to write the report
	// NoFanotify keeps fanotify off (in a sandbox the root is a directory
	// of the host's filesystem, whose other users must not be recorded).
	NoFanotify bool
	Stderr     io.Writer
}

// Main is the sensor's command line: "run" traces the image's main process
// until it exits or the sensor receives SIGTERM/SIGINT; "exec" traces one
// probe command and exits with its exit code.
func Main(args []string) int {
	if len(args) == 0 || (args[0] != "run" && args[0] != "exec") {
		fmt.Fprintln(os.Stderr, "usage: shipshape-sensor run|exec --report FILE [--user U] [--workdir D] [--set-home] -- COMMAND [ARG...]")
		return 2
	}
	mode := args[0]
	fs := flag.NewFlagSet("sensor "+mode, flag.ContinueOnError)
	var o Options
	fs.StringVar(&o.Report, "report", "", "write the report to this file")
	fs.StringVar(&o.User, "user", "", "run the command as this user (name|uid[:group|gid])")
	fs.StringVar(&o.Dir, "workdir", "", "working directory of the command")
	fs.BoolVar(&o.SetHome, "set-home", false, "set HOME from the user's passwd entry")
	sandbox := fs.String("sandbox-root", "", "mount /proc and /dev in this unpacked image and chroot into it first (new namespaces)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	o.Argv = fs.Args()
	if len(o.Argv) == 0 || o.Report == "" {
		fmt.Fprintln(os.Stderr, "shipshape-sensor: --report and a command are required")
		return 2
	}
	o.Env = os.Environ()
	o.Stderr = os.Stderr
	if *sandbox != "" {
		o.NoFanotify = true
		if err := enterSandbox(*sandbox); err != nil {
			fmt.Fprintf(os.Stderr, "shipshape-sensor: %v\n", err)
			return 125
		}
	}
	rep, err := Trace(o, mode == "run")
	if err != nil {
		fmt.Fprintf(os.Stderr, "shipshape-sensor: %v\n", err)
		if rep == nil {
			rep = &Report{ExitCode: 127}
		}
		rep.Error = err.Error()
	}
	if werr := writeReport(o.Report, rep); werr != nil {
		fmt.Fprintf(os.Stderr, "shipshape-sensor: %v\n", werr)
		return 125
	}
	if rep.ExitCode < 0 {
		return 137
	}
	return rep.ExitCode
}

func writeReport(path string, rep *Report) error {
	b, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("writing report: %w", err)
	}
	return os.Rename(tmp, path)
}

// credential is a resolved user.
type credential struct {
	uid, gid uint32
	groups   []uint32
	home     string
}

// lookupUser resolves a Docker USER value against /etc/passwd and
// /etc/group under root, the way the Docker Engine does.
func lookupUser(root, spec string) (*credential, error) {
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	passwd, _ := os.ReadFile(filepath.Join(root, "etc/passwd"))
	group, _ := os.ReadFile(filepath.Join(root, "etc/group"))
	c := &credential{home: "/"}
	var name string
	found := false
	for _, line := range strings.Split(string(passwd), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 7 {
			continue
		}
		if f[0] == userPart || f[2] == userPart {
			uid, err1 := strconv.ParseUint(f[2], 10, 32)
			gid, err2 := strconv.ParseUint(f[3], 10, 32)
			if err1 != nil || err2 != nil {
				continue
			}
			c.uid, c.gid, c.home, name, found = uint32(uid), uint32(gid), f[5], f[0], true
			break
		}
	}
	if !found {
		uid, err := strconv.ParseUint(userPart, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("user %q: no such user in /etc/passwd", userPart)
		}
		c.uid, c.gid = uint32(uid), uint32(uid)
		if uid == 0 {
			c.home = "/root"
		}
	}
	if hasGroup {
		gfound := false
		for _, line := range strings.Split(string(group), "\n") {
			f := strings.Split(line, ":")
			if len(f) >= 3 && (f[0] == groupPart || f[2] == groupPart) {
				if gid, err := strconv.ParseUint(f[2], 10, 32); err == nil {
					c.gid, gfound = uint32(gid), true
					break
				}
			}
		}
		if !gfound {
			gid, err := strconv.ParseUint(groupPart, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("group %q: no such group in /etc/group", groupPart)
			}
			c.gid = uint32(gid)
		}
	}
	c.groups = []uint32{c.gid}
	if name != "" && !hasGroup {
		for _, line := range strings.Split(string(group), "\n") {
			f := strings.Split(line, ":")
			if len(f) < 4 {
				continue
			}
			for _, m := range strings.Split(f[3], ",") {
				if m == name {
					if gid, err := strconv.ParseUint(f[2], 10, 32); err == nil && uint32(gid) != c.gid {
						c.groups = append(c.groups, uint32(gid))
					}
				}
			}
		}
	}
	return c, nil
}

// lookPath finds a command in the PATH of env, like execvp.
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, file)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: executable file not found in PATH", file)
}

// setEnv replaces or adds key in env.
func setEnv(env []string, key, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, key+"=") {
			out = append(out, kv)
		}
	}
	return append(out, key+"="+value)
}

// set is a string set that sorts on output.
type set map[string]struct{}

func (s set) add(v string) { s[v] = struct{}{} }

func (s set) sorted() []string {
	out := make([]string, 0, len(s))
	for v := range s {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}
