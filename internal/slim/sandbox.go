package slim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/slim/probe"
	"github.com/shipshape-dev/shipshape/internal/slim/rootfs"
	"github.com/shipshape-dev/shipshape/internal/slim/sensor"
	"github.com/shipshape-dev/shipshape/internal/walk"
)

// sandbox runs images without a container engine: the image is unpacked
// into a directory and the sensor, started in new user, mount, PID, UTS
// and IPC namespaces, mounts /proc and /dev there, chroots and traces the
// application. The network is the host's: exposed ports must be free on
// 127.0.0.1. Without real root only one user id is mapped, so the image's
// USER cannot be switched to and the application runs as the namespace's
// root.
type sandbox struct {
	o    Options
	cfg  *v1.ConfigFile
	fs   *rootfs.FS
	dir  string
	root bool
}

func newSandbox(ctx context.Context, o Options) (*source, backend, error) {
	if _, err := os.Stat("/proc/self/ns/user"); err != nil {
		return nil, nil, fmt.Errorf("--runtime=sandbox needs Linux user namespaces: %w", err)
	}
	o.Progress("reading %s", o.Image)
	img, err := image.Open(ctx, o.Image, image.Options{TempDir: o.TempDir, DockerHost: o.DockerHost})
	if err != nil {
		return nil, nil, err
	}
	defer img.Close()
	var opens []func() (io.ReadCloser, error)
	for _, l := range img.Layers {
		opens = append(opens, func() (io.ReadCloser, error) {
			rc, err := l.Open(ctx)
			if err != nil {
				return nil, err
			}
			// The walker's stream: decompressed within the layer limits
			// against bombs, with the blob digest and diffID checked.
			st, err := walk.Open(ctx, l, rc, walk.Options{})
			if err != nil {
				rc.Close()
				return nil, err
			}
			return &layerStream{Stream: st, rc: rc}, nil
		})
	}
	fs, err := rootfs.LoadLayers(opens, o.TempDir)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", o.Image, err)
	}
	dir, err := os.MkdirTemp(o.TempDir, "sandbox-")
	if err != nil {
		fs.Close()
		return nil, nil, err
	}
	src := &source{cfg: img.Config.DeepCopy(), digest: img.ConfigDigest.String(), fs: fs, base: baseOf(img)}
	sb := &sandbox{o: o, cfg: src.cfg, fs: fs, dir: dir, root: os.Geteuid() == 0}
	if !sb.root {
		src.notes = append(src.notes, "sandbox without root: file owners are not kept while running"+
			map[bool]string{true: " and the image's USER " + src.cfg.Config.User + " ran as the namespace's root", false: ""}[src.cfg.Config.User != ""])
	}
	return src, sb, nil
}

// layerStream is a layer's tar read through the walker's stream. Its
// digests are checked when the tar has been read to the end.
type layerStream struct {
	*walk.Stream
	rc   io.ReadCloser
	done bool
}

func (l *layerStream) Read(p []byte) (int, error) {
	n, err := l.Stream.Read(p)
	if err == io.EOF && !l.done {
		l.done = true
		if _, ferr := l.Stream.Finish(); ferr != nil {
			return n, ferr
		}
	}
	return n, err
}

func (l *layerStream) Close() error {
	err := l.Stream.Close()
	if cerr := l.rc.Close(); err == nil {
		err = cerr
	}
	return err
}

func (s *sandbox) close() { os.RemoveAll(s.dir) }

func (s *sandbox) trace(ctx context.Context) ([]probe.Result, []*sensor.Report, error) {
	root := filepath.Join(s.dir, "original")
	if err := os.Mkdir(root, 0o755); err != nil {
		return nil, nil, err
	}
	if err := s.fs.Extract(s.fs.Paths(), root, s.root); err != nil {
		return nil, nil, err
	}
	probes, err := s.run(ctx, root, nil)
	if err != nil {
		return nil, nil, err
	}
	var reps []*sensor.Report
	for i := -1; i < len(s.o.Exec); i++ {
		p := reportPath
		if i >= 0 {
			p = fmt.Sprintf("/.shipshape-exec-%d.json", i)
		}
		r, err := readReport(filepath.Join(root, p))
		if err != nil {
			if i >= 0 {
				continue
			}
			return nil, nil, err
		}
		reps = append(reps, r)
	}
	return probes, reps, nil
}

func (s *sandbox) verify(ctx context.Context, _ v1.Image, kept []string, before []probe.Result, _ []byte) ([]probe.Result, string, error) {
	root := filepath.Join(s.dir, "slimmed")
	if err := os.Mkdir(root, 0o755); err != nil {
		return nil, "", err
	}
	if err := s.fs.Extract(kept, root, s.root); err != nil {
		return nil, "", err
	}
	o := s.o
	o.Crawl, o.HTTPPaths = 0, probedPaths(before)
	after, err := s.run(ctx, root, &o)
	if err != nil {
		return nil, "", err
	}
	return after, "", nil
}

// run starts the image unpacked at root under the sensor, probes it and
// stops it. o overrides the probe options.
func (s *sandbox) run(ctx context.Context, root string, o *Options) ([]probe.Result, error) {
	if o == nil {
		o = &s.o
	}
	cfg := s.cfg
	argv := append(append([]string{}, cfg.Config.Entrypoint...), cfg.Config.Cmd...)
	if len(argv) == 0 {
		return nil, fmt.Errorf("%s has neither an entrypoint nor a command to run", s.o.Image)
	}
	ports := tcpPorts(cfg.Config.ExposedPorts)
	for _, p := range ports {
		addr := "127.0.0.1:" + strings.SplitN(p, "/", 2)[0]
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, fmt.Errorf("--runtime=sandbox shares the host's network and port %s is in use: %w", p, err)
		}
		l.Close()
	}
	sensorArgs := func(mode, report string) []string {
		a := append(append([]string{}, s.o.Sensor.Args...), mode, "--sandbox-root", root, "--report", report)
		if wd := cfg.Config.WorkingDir; wd != "" {
			a = append(a, "--workdir", wd)
		}
		if s.root {
			a = append(a, userArgs(cfg)...)
		}
		return append(a, "--")
	}
	t := &sandboxTarget{s: s, ports: ports, done: make(chan struct{})}
	t.cmd = s.command(ctx, append(sensorArgs("run", reportPath), argv...))
	t.cmd.Stdout = &t.logs
	t.cmd.Stderr = &t.logs
	if err := t.cmd.Start(); err != nil {
		return nil, fmt.Errorf("sandbox: starting the sensor in new user, mount and PID namespaces: %w (are user namespaces disabled? see sysctl user.max_user_namespaces and kernel.unprivileged_userns_clone)", err)
	}
	go func() {
		t.cmd.Wait()
		close(t.done)
	}()
	wrap := func(i int, cmd []string) ([]string, string) {
		return append(sensorArgs("exec", fmt.Sprintf("/.shipshape-exec-%d.json", i)), cmd...), ""
	}
	probes := runProbes(ctx, t, *o, wrap)
	t.stop(10 * time.Second)
	if code := t.cmd.ProcessState.ExitCode(); code == 125 {
		return nil, fmt.Errorf("sandbox: the sensor could not start: %s", strings.TrimSpace(t.logs.String()))
	}
	return probes, nil
}

// command prepares the sensor to run in new namespaces.
func (s *sandbox) command(ctx context.Context, args []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, s.o.Sensor.Path, args...)
	env := append([]string{}, s.cfg.Config.Env...)
	if !hasEnv(env, "PATH") {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	if !hasEnv(env, "HOME") {
		env = append(env, "HOME=/root")
	}
	cmd.Env = env
	attr := &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC,
		Pdeathsig:  syscall.SIGKILL,
	}
	if s.root {
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: 0, Size: 65536}}
		attr.GidMappingsEnableSetgroups = true
	} else {
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
	}
	cmd.SysProcAttr = attr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGKILL) }
	return cmd
}

func readReport(p string) (*sensor.Report, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("the sensor wrote no report: %w", err)
	}
	var r sensor.Report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("sensor report %s: %w", p, err)
	}
	if r.Error != "" && len(r.Touched) == 0 {
		return nil, fmt.Errorf("sensor: %s", r.Error)
	}
	return &r, nil
}

// probedPaths lists the HTTP paths a run probed, in order.
func probedPaths(results []probe.Result) []string {
	var out []string
	seen := map[string]bool{}
	for _, b := range results {
		if b.Kind == "http" {
			p := b.Name[strings.LastIndex(b.Name, " ")+1:]
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// sandboxTarget is a running sandbox.
type sandboxTarget struct {
	s     *sandbox
	cmd   *exec.Cmd
	ports []string
	logs  limitedWriter
	done  chan struct{}
}

func (t *sandboxTarget) SortedPorts() []string {
	out := append([]string{}, t.ports...)
	sort.Strings(out)
	return out
}

func (t *sandboxTarget) Addr(port string) string {
	return "127.0.0.1:" + strings.SplitN(port, "/", 2)[0]
}

func (t *sandboxTarget) Exec(ctx context.Context, _ string, argv []string, timeout time.Duration) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := t.s.command(ctx, argv)
	var stdout, stderr limitedWriter
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), append(stdout.Bytes(), stderr.Bytes()...), nil
	}
	if err != nil {
		return -1, nil, err
	}
	return 0, append(stdout.Bytes(), stderr.Bytes()...), nil
}

func (t *sandboxTarget) Wait(ctx context.Context, d time.Duration) int {
	select {
	case <-t.done:
		return t.cmd.ProcessState.ExitCode()
	case <-time.After(d):
		return -1
	case <-ctx.Done():
		return -1
	}
}

func (t *sandboxTarget) stop(grace time.Duration) {
	select {
	case <-t.done:
		return
	default:
	}
	t.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-t.done:
	case <-time.After(grace):
		t.cmd.Process.Kill()
		<-t.done
	}
}

// limitedWriter keeps the first 1 MiB written to it.
type limitedWriter struct{ bytes.Buffer }

func (l *limitedWriter) Write(p []byte) (int, error) {
	if room := 1<<20 - l.Len(); room > 0 {
		l.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
