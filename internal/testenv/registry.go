package testenv

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pickAddr chooses the address for the next registry; tests replace it.
var pickAddr = freeLoopbackAddr

// registryCommand is the program [Registry] runs: Debian's docker-registry
// package (the CNCF distribution registry, v2). Tests of this package point
// it elsewhere.
var registryCommand = "docker-registry"

const (
	// registryFallback is where Debian installs the registry, in case
	// PATH lacks /usr/bin.
	registryFallback = "/usr/bin/docker-registry"
	// registryReadyTimeout bounds the wait for GET /v2/ to answer.
	registryReadyTimeout = 15 * time.Second
	// registryAttempts is how many ports Registry tries: another process
	// may take the free port it picked before the registry binds it.
	registryAttempts = 3
	// registryStopTimeout bounds the wait for a killed registry to exit.
	registryStopTimeout = 10 * time.Second
)

// errRegistryExited marks a registry that exited before it was ready, which
// is what losing the race for its port looks like.
var errRegistryExited = errors.New("registry exited before it was ready")

// Registry starts a private, empty OCI distribution registry (Debian's
// docker-registry) for the test and returns its address, "127.0.0.1:PORT".
// It speaks plain HTTP on the loopback interface, stores blobs in a
// temporary directory, allows deletes and needs no authentication; use it
// with go-containerregistry's name.Insecure option, skopeo's
// --dest-tls-verify=false, and so on. The registry is stopped when the test
// ends. A missing docker-registry program, or one that cannot be started, is
// handled by [Require].
func Registry(t testing.TB) string {
	t.Helper()
	bin, err := registryBinary()
	Require(t, "docker-registry", err)
	addr, err := startRegistry(t, bin)
	Require(t, "docker-registry", err)
	return addr
}

func registryBinary() (string, error) {
	p, err := exec.LookPath(registryCommand)
	if err == nil {
		return p, nil
	}
	if registryCommand == "docker-registry" {
		if st, serr := os.Stat(registryFallback); serr == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
			return registryFallback, nil
		}
	}
	return "", fmt.Errorf("look up %s (Debian package docker-registry): %w", registryCommand, err)
}

// startRegistry runs bin until it answers on a free loopback port, trying
// another port when the registry exits early, and arranges for it to be
// stopped when t ends.
func startRegistry(t testing.TB, bin string) (string, error) {
	t.Helper()
	dir := t.TempDir()
	storage := filepath.Join(dir, "storage")
	if err := os.Mkdir(storage, 0o755); err != nil {
		return "", fmt.Errorf("create registry storage: %w", err)
	}
	var errs []error
	for attempt := 1; attempt <= registryAttempts; attempt++ {
		addr, err := pickAddr()
		if err != nil {
			return "", err
		}
		r, err := launchRegistry(bin, dir, storage, addr, attempt)
		if err != nil {
			return "", err
		}
		if err := r.waitReady(registryReadyTimeout); err != nil {
			r.stop()
			errs = append(errs, fmt.Errorf("attempt %d on %s: %w", attempt, addr, err))
			if errors.Is(err, errRegistryExited) {
				continue
			}
			break
		}
		t.Cleanup(func() {
			if err := r.stop(); err != nil {
				t.Logf("testenv: stop registry on %s: %v", addr, err)
			}
		})
		return addr, nil
	}
	return "", fmt.Errorf("start %s: %w", bin, errors.Join(errs...))
}

// runningRegistry is one registry process.
type runningRegistry struct {
	addr    string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed once cmd.Wait returned
	waitErr error         // cmd.Wait's result, set before exited is closed
}

func launchRegistry(bin, dir, storage, addr string, attempt int) (*runningRegistry, error) {
	config := filepath.Join(dir, fmt.Sprintf("config-%d.yml", attempt))
	if err := os.WriteFile(config, []byte(registryConfig(storage, addr)), 0o644); err != nil {
		return nil, fmt.Errorf("write registry config: %w", err)
	}
	logPath := filepath.Join(dir, fmt.Sprintf("registry-%d.log", attempt))
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create registry log: %w", err)
	}
	defer logFile.Close() // the child has its own descriptor

	cmd := exec.Command(bin, "serve", config)
	cmd.Dir = dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Env = registryEnv()
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("run %s serve %s: %w", bin, config, err)
	}
	r := &runningRegistry{addr: addr, logPath: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() {
		r.waitErr = cmd.Wait()
		close(r.exited)
	}()
	return r, nil
}

// registryConfig is a minimal distribution configuration: filesystem
// storage under storage, deletes allowed, plain HTTP on addr, quiet logs.
func registryConfig(storage, addr string) string {
	return fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
`, strconv.Quote(storage), strconv.Quote(addr))
}

// registryEnv is the test's environment without REGISTRY_* variables, which
// the registry would read as overrides of its configuration.
func registryEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REGISTRY_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitReady polls GET /v2/ until this registry answers it, the process
// exits or timeout passes.
func (r *runningRegistry) waitReady(timeout time.Duration) error {
	hc := &http.Client{Timeout: time.Second}
	defer hc.CloseIdleConnections()
	url := "http://" + r.addr + "/v2/"
	deadline := time.Now().Add(timeout)
	var last error
	for {
		select {
		case <-r.exited:
			return fmt.Errorf("%w (%v); log: %s", errRegistryExited, r.waitErr, r.logTail())
		default:
		}
		last = probeRegistry(hc, url)
		if last == nil {
			// The answer may come from another process that owns
			// the port, with ours about to exit: make sure ours
			// is still up.
			select {
			case <-r.exited:
				return fmt.Errorf("%w (%v); log: %s", errRegistryExited, r.waitErr, r.logTail())
			case <-time.After(50 * time.Millisecond):
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("GET %s did not answer within %s: %v; log: %s", url, timeout, last, r.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// probeRegistry returns nil when url answers as a distribution registry.
func probeRegistry(hc *http.Client, url string) error {
	resp, err := hc.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %s", url, resp.Status)
	}
	if v := resp.Header.Get("Docker-Distribution-Api-Version"); !strings.HasPrefix(v, "registry/2") {
		return fmt.Errorf("GET %s: not a registry (Docker-Distribution-Api-Version %q)", url, v)
	}
	return nil
}

// stop kills the registry and waits for it to exit.
func (r *runningRegistry) stop() error {
	select {
	case <-r.exited:
		return nil
	default:
	}
	if err := r.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill registry (pid %d): %w", r.cmd.Process.Pid, err)
	}
	select {
	case <-r.exited:
		return nil
	case <-time.After(registryStopTimeout):
		return fmt.Errorf("registry (pid %d) still running %s after kill", r.cmd.Process.Pid, registryStopTimeout)
	}
}

// logTail returns the end of the registry's output, for error messages.
func (r *runningRegistry) logTail() string {
	b, err := os.ReadFile(r.logPath)
	if err != nil {
		return fmt.Sprintf("(read %s: %v)", r.logPath, err)
	}
	const max = 2048
	if len(b) > max {
		b = b[len(b)-max:]
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "(empty)"
	}
	return s
}

// freeLoopbackAddr returns "127.0.0.1:PORT" for a port that was free a
// moment ago.
func freeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free loopback port: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("release port %s: %w", addr, err)
	}
	return addr, nil
}
