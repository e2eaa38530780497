package slim_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shipshape-dev/shipshape/internal/slim"
	"github.com/shipshape-dev/shipshape/internal/slim/runner"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// debianPython returns a Debian bookworm minbase root filesystem with
// python3 as a .tar.gz, built with debootstrap once and cached outside the
// repository (testenv.DebianRootfs). The first build takes about a minute.
func debianPython(t *testing.T) string {
	t.Helper()
	return testenv.DebianRootfs(t, "python3", "python3")
}

const pyInit = ``

const pyServer = `import http.server

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/lazy":
            from myapp import lazy  # imported only when /lazy is asked for
            body = lazy.message().encode()
        else:
            body = b"hello from python\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

http.server.HTTPServer(("", 8000), Handler).serve_forever()
`

const pyLazy = `def message():
    return "lazily imported module works\n"
`

// TestSlimPythonLazyImport slims python3 on Debian: the probe never asks
// for /lazy, yet the module it imports survives because the whole myapp
// package is kept, and the image shrinks at least 5x.
func TestSlimPythonLazyImport(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Debian rootfs and runs containers")
	}
	cli := testenv.Docker(t)
	base := debianPython(t)
	name := prefix + "python:1"
	importImage(t, cli, name, base, []file{
		{name: "app", dir: true},
		{name: "app/myapp", dir: true},
		{name: "app/myapp/__init__.py", body: pyInit},
		{name: "app/myapp/server.py", body: pyServer},
		{name: "app/myapp/lazy.py", body: pyLazy},
	}, `USER nobody`, `WORKDIR /app`, `EXPOSE 8000`, `ENV PYTHONDONTWRITEBYTECODE=1`, `CMD ["python3", "-m", "myapp.server"]`)
	tag := prefix + "python-slim:1"
	t.Cleanup(func() { removeImage(cli, tag) })
	o := options(t, name)
	o.Tag = tag
	o.VerifySeccomp = true
	start := time.Now()
	res, err := slim.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("python: before %d files %d bytes, after %d files %d bytes (%.1fx) in %s; removed %v", res.Before.Files, res.Before.Bytes,
		res.After.Files, res.After.Bytes, res.Reduction, time.Since(start), res.Removed)
	if res.Verify == nil || !res.Verify.Seccomp {
		t.Errorf("not verified under the seccomp profile: %+v", res.Verify)
	}
	if res.Reduction < 5 {
		t.Errorf("shrank only %.1fx, want at least 5x", res.Reduction)
	}
	if p := res.Packages; p == nil || p.After == 0 || p.After*2 > p.Before {
		t.Errorf("dpkg database not trimmed: %+v", p)
	}
	if res.KeptBecause["python-package"] == 0 {
		t.Errorf("no python package kept whole: %v", res.KeptBecause)
	}
	for _, cat := range []string{"package-managers", "docs", "shells"} {
		if res.Removed[cat].Files == 0 {
			t.Errorf("nothing removed in %s: %v", cat, res.Removed)
		}
	}
	c, err := runner.Start(context.Background(), cli, runner.Spec{Image: tag, Name: prefix + "python-run", Ports: []string{"8000/tcp"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Remove(context.Background())
	status, body := httpGet(t, "http://"+c.Ports["8000/tcp"]+"/lazy")
	if status != 200 || string(body) != "lazily imported module works\n" {
		t.Errorf("GET /lazy on the slimmed image: %d %q; container output: %s", status, body, c.Logs(context.Background()))
	}
	if strings.Contains(string(body), "Traceback") {
		t.Errorf("python failed: %s", body)
	}
}
