package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/moby/moby/client"
)

// fakeTB records how a helper stopped the test instead of stopping the real
// one; everything else (TempDir, Cleanup, Logf…) goes to the real test.
type fakeTB struct {
	testing.TB
	mu      sync.Mutex
	skipped string
	fatal   string
	errors  []string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Skipf(format string, args ...any) {
	f.mu.Lock()
	f.skipped = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

// run calls fn with a fakeTB in a goroutine of its own, as the testing
// package does, so that Skipf and Fatalf can end it with runtime.Goexit.
// It reports whether fn returned normally.
func run(t *testing.T, fn func(tb testing.TB)) (ft *fakeTB, returned bool) {
	t.Helper()
	ft = &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ft)
		returned = true
	}()
	<-done
	return ft, returned
}

func TestRequire(t *testing.T) {
	boom := errors.New("dial unix /var/run/docker.sock: connect: no such file or directory")

	t.Run("nil error", func(t *testing.T) {
		t.Setenv(EnvRequireIntegration, "1")
		ft, returned := run(t, func(tb testing.TB) { Require(tb, "docker daemon", nil) })
		if !returned || ft.skipped != "" || ft.fatal != "" {
			t.Errorf("Require with a nil error stopped the test: skipped %q, fatal %q", ft.skipped, ft.fatal)
		}
	})

	for _, v := range []string{"", "0", "false", "no"} {
		t.Run("skip when "+EnvRequireIntegration+"="+v, func(t *testing.T) {
			t.Setenv(EnvRequireIntegration, v)
			ft, returned := run(t, func(tb testing.TB) { Require(tb, "docker daemon", boom) })
			if returned || ft.fatal != "" {
				t.Fatalf("want a skip; returned %v, fatal %q", returned, ft.fatal)
			}
			want := "docker daemon unavailable: " + boom.Error() + "; set SHIPSHAPE_REQUIRE_INTEGRATION=1 to make this a failure"
			if ft.skipped != want {
				t.Errorf("skip message\n got %q\nwant %q", ft.skipped, want)
			}
		})
	}

	for _, v := range []string{"1", "true"} {
		t.Run("fail when "+EnvRequireIntegration+"="+v, func(t *testing.T) {
			t.Setenv(EnvRequireIntegration, v)
			ft, returned := run(t, func(tb testing.TB) { Require(tb, "docker daemon", boom) })
			if returned || ft.skipped != "" {
				t.Fatalf("want a failure; returned %v, skipped %q", returned, ft.skipped)
			}
			if !strings.Contains(ft.fatal, "docker daemon unavailable: "+boom.Error()) ||
				!strings.Contains(ft.fatal, EnvRequireIntegration) {
				t.Errorf("failure message %q", ft.fatal)
			}
		})
	}
}

func TestRegistry(t *testing.T) {
	var addr string
	t.Run("serve", func(t *testing.T) {
		addr = Registry(t)
		if !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Fatalf("Registry returned %q, want 127.0.0.1:PORT", addr)
		}

		resp, err := http.Get("http://" + addr + "/v2/")
		if err != nil {
			t.Fatalf("GET /v2/: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Docker-Distribution-Api-Version") != "registry/2.0" {
			t.Fatalf("GET /v2/: %s, API version %q", resp.Status, resp.Header.Get("Docker-Distribution-Api-Version"))
		}

		// Push, pull and delete an image: storage works and deletes
		// are enabled.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		img, err := random.Image(4096, 2)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := name.ParseReference(addr+"/testenv/random:v1", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img, remote.WithContext(ctx)); err != nil {
			t.Fatalf("push %s: %v", ref, err)
		}
		got, err := remote.Image(ref, remote.WithContext(ctx))
		if err != nil {
			t.Fatalf("pull %s: %v", ref, err)
		}
		want, _ := img.Digest()
		if d, _ := got.Digest(); d != want {
			t.Fatalf("pulled digest %s, pushed %s", d, want)
		}
		byDigest := ref.Context().Digest(want.String())
		if err := remote.Delete(byDigest, remote.WithContext(ctx)); err != nil {
			t.Fatalf("delete %s: %v", byDigest, err)
		}
		if _, err := remote.Head(byDigest, remote.WithContext(ctx)); err == nil {
			t.Fatalf("%s still there after delete", byDigest)
		}
	})
	if t.Failed() || addr == "" {
		return
	}
	// The subtest's cleanup stopped the registry.
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Errorf("registry on %s still accepts connections after its test ended", addr)
	}
}

func TestRegistryTwice(t *testing.T) {
	a, b := Registry(t), Registry(t)
	if a == b {
		t.Fatalf("two registries share %s", a)
	}
}

// TestRegistryPortTaken makes the first port Registry tries one that another
// server holds, answering /v2/ but not as a registry: Registry must notice
// that its registry died and move on to another port.
func TestRegistryPortTaken(t *testing.T) {
	if _, err := registryBinary(); err != nil {
		Require(t, "docker-registry", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, "{}") // 200 without Docker-Distribution-Api-Version
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	taken := l.Addr().String()
	calls := 0
	orig := pickAddr
	pickAddr = func() (string, error) {
		calls++
		if calls == 1 {
			return taken, nil
		}
		return orig()
	}
	t.Cleanup(func() { pickAddr = orig })

	addr := Registry(t)
	if addr == taken {
		t.Fatalf("Registry returned the port another server holds (%s)", addr)
	}
	if calls != 2 {
		t.Errorf("picked %d ports, want 2", calls)
	}
}

func TestRegistryUnavailable(t *testing.T) {
	t.Run("missing binary", func(t *testing.T) {
		setRegistryCommand(t, "shipshape-no-such-registry")
		t.Setenv(EnvRequireIntegration, "")
		ft, returned := run(t, func(tb testing.TB) { Registry(tb) })
		if returned || !strings.Contains(ft.skipped, "docker-registry unavailable") || !strings.Contains(ft.skipped, "shipshape-no-such-registry") {
			t.Errorf("returned %v, skipped %q, fatal %q", returned, ft.skipped, ft.fatal)
		}

		t.Setenv(EnvRequireIntegration, "1")
		ft, returned = run(t, func(tb testing.TB) { Registry(tb) })
		if returned || !strings.Contains(ft.fatal, "docker-registry unavailable") {
			t.Errorf("required: returned %v, skipped %q, fatal %q", returned, ft.skipped, ft.fatal)
		}
	})

	t.Run("exits at once", func(t *testing.T) {
		script := filepath.Join(t.TempDir(), "fake-registry")
		if err := os.WriteFile(script, []byte("#!/bin/sh\necho \"fake registry: cannot serve $2\" >&2\nexit 3\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		setRegistryCommand(t, script)
		t.Setenv(EnvRequireIntegration, "1")
		ft, returned := run(t, func(tb testing.TB) { Registry(tb) })
		if returned {
			t.Fatal("Registry returned with a registry that cannot start")
		}
		for _, want := range []string{"docker-registry unavailable", "attempt 3", "fake registry: cannot serve", "exit status 3"} {
			if !strings.Contains(ft.fatal, want) {
				t.Errorf("failure message lacks %q:\n%s", want, ft.fatal)
			}
		}
	})
}

func setRegistryCommand(t *testing.T, cmd string) {
	orig := registryCommand
	registryCommand = cmd
	t.Cleanup(func() { registryCommand = orig })
}

func TestRegistryConfig(t *testing.T) {
	got := registryConfig("/tmp/a b/storage", "127.0.0.1:5000")
	for _, want := range []string{
		"rootdirectory: \"/tmp/a b/storage\"",
		"addr: \"127.0.0.1:5000\"",
		"delete:\n    enabled: true",
		"level: error",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("config lacks %q:\n%s", want, got)
		}
	}
}

func TestDocker(t *testing.T) {
	t.Run("daemon", func(t *testing.T) {
		cli := Docker(t)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := cli.Ping(ctx, client.PingOptions{}); err != nil {
			t.Fatalf("ping after Docker: %v", err)
		}
		if v := cli.ClientVersion(); v == "" {
			t.Error("no API version negotiated")
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		t.Setenv("DOCKER_HOST", "unix://"+filepath.Join(t.TempDir(), "no-docker.sock"))
		t.Setenv(EnvRequireIntegration, "")
		ft, returned := run(t, func(tb testing.TB) { Docker(tb) })
		if returned || !strings.HasPrefix(ft.skipped, "docker daemon unavailable: ") || !strings.Contains(ft.skipped, "no-docker.sock") {
			t.Errorf("returned %v, skipped %q, fatal %q", returned, ft.skipped, ft.fatal)
		}
	})
}

func TestDockerCLI(t *testing.T) {
	p := DockerCLI(t)
	if st, err := os.Stat(p); err != nil || st.IsDir() {
		t.Errorf("DockerCLI returned %q: %v", p, err)
	}
}

func TestBinary(t *testing.T) {
	if p := Binary(t, "sh"); !filepath.IsAbs(p) {
		t.Errorf("Binary(sh) = %q, want an absolute path", p)
	}
	t.Setenv(EnvRequireIntegration, "")
	ft, returned := run(t, func(tb testing.TB) { Binary(tb, "shipshape-no-such-tool") })
	if returned || !strings.HasPrefix(ft.skipped, "shipshape-no-such-tool unavailable: ") {
		t.Errorf("returned %v, skipped %q", returned, ft.skipped)
	}
}

func TestSharedData(t *testing.T) {
	t.Run("beside the repository", func(t *testing.T) {
		t.Setenv(EnvSharedData, "")
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		root, err := repoRoot(wd)
		if err != nil {
			t.Fatal(err)
		}
		if want := filepath.Clean(filepath.Join(wd, "..", "..")); root != want {
			t.Fatalf("repoRoot = %s, want %s", root, want)
		}
		dir := SharedData(t, "")
		if want := filepath.Join(root, "testdata", "data"); dir != want {
			t.Errorf("SharedData(\"\") = %s, want %s", dir, want)
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			t.Errorf("%s is not a directory: %v", dir, err)
		}
	})

	t.Run("override and missing", func(t *testing.T) {
		base := t.TempDir()
		if err := os.MkdirAll(filepath.Join(base, "images"), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv(EnvSharedData, base)
		if got := SharedData(t, "images"); got != filepath.Join(base, "images") {
			t.Errorf("SharedData(images) = %s", got)
		}

		t.Setenv(EnvRequireIntegration, "")
		ft, returned := run(t, func(tb testing.TB) { SharedData(tb, "images/missing.tar") })
		if returned || !strings.HasPrefix(ft.skipped, "shared test data unavailable: ") || !strings.Contains(ft.skipped, "missing.tar") {
			t.Errorf("missing file: returned %v, skipped %q", returned, ft.skipped)
		}

		for _, bad := range []string{"../escape", "/etc/passwd"} {
			ft, returned = run(t, func(tb testing.TB) { SharedData(tb, bad) })
			if returned || !strings.Contains(ft.skipped, "must be relative") {
				t.Errorf("SharedData(%q): returned %v, skipped %q", bad, returned, ft.skipped)
			}
		}
	})
}

// TestRepoRootNone builds the trees it checks under a temporary directory
// that stands for "/", so that what lies above the real temp dir (a go.mod
// in /tmp, say) cannot decide the outcome.
func TestRepoRootNone(t *testing.T) {
	fakeRoot := t.TempDir()
	stat := func(p string) (os.FileInfo, error) { return os.Stat(filepath.Join(fakeRoot, p)) }
	deep := filepath.FromSlash("/a/b/c")
	if err := os.MkdirAll(filepath.Join(fakeRoot, deep), 0o755); err != nil {
		t.Fatal(err)
	}

	// No go.mod anywhere up to the root.
	root, err := findRepoRoot(deep, stat)
	if err == nil || !strings.Contains(err.Error(), "no go.mod at or above "+deep) {
		t.Errorf("no go.mod: findRepoRoot = %q, %v; want the error \"no go.mod at or above %s\"", root, err, deep)
	}

	// A go.mod two levels up is found; one at the very root too.
	for _, dir := range []string{"/a", "/"} {
		gomod := filepath.Join(fakeRoot, filepath.FromSlash(dir), "go.mod")
		if err := os.WriteFile(gomod, []byte("module example.com/x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if root, err := findRepoRoot(deep, stat); err != nil || root != filepath.FromSlash(dir) {
			t.Errorf("go.mod in %s: findRepoRoot = %q, %v", dir, root, err)
		}
		if dir == "/a" {
			os.Remove(gomod)
		}
	}

	// A stat error other than "does not exist" is reported, not skipped.
	denied := func(p string) (os.FileInfo, error) {
		return nil, &os.PathError{Op: "stat", Path: p, Err: os.ErrPermission}
	}
	if _, err := findRepoRoot(deep, denied); err == nil || !errors.Is(err, os.ErrPermission) {
		t.Errorf("unreadable directory: err = %v, want a permission error", err)
	}
}
