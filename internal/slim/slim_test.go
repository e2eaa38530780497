package slim_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/client"

	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/slim"
	"github.com/shipshape-dev/shipshape/internal/slim/record"
	"github.com/shipshape-dev/shipshape/internal/slim/runner"
	"github.com/shipshape-dev/shipshape/internal/slim/sensorbin"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// prefix names every image and container these tests create.
const prefix = "shipshape-test-slim-"

var (
	sensorOnce sync.Once
	sensorBin  sensorbin.Binary
	sensorErr  error
	sensorDir  string
)

// TestMain removes the sensor built for the tests, so that no
// shipshape-sensor-* directory is left in TMPDIR.
func TestMain(m *testing.M) {
	code := m.Run()
	if sensorDir != "" {
		os.RemoveAll(sensorDir)
	}
	os.Exit(code)
}

// sensor builds the static sensor once per test binary.
func sensor(t *testing.T) sensorbin.Binary {
	t.Helper()
	sensorOnce.Do(func() {
		dir, err := os.MkdirTemp("", "shipshape-sensor-")
		if err != nil {
			sensorErr = err
			return
		}
		sensorDir = dir
		sensorBin, sensorErr = sensorbin.Locate(context.Background(), sensorbin.Options{CacheDir: dir})
	})
	testenv.Require(t, "go toolchain to build the sensor", sensorErr)
	return sensorBin
}

// file is one file of a test image.
type file struct {
	name, body, link string
	mode             int64
	dir              bool
}

// imagetest is f as a tar entry: a directory, a symbolic link or a regular
// file; a zero mode is the type's default.
func (f file) imagetest() imagetest.File {
	e := imagetest.Reg(f.name, f.body)
	switch {
	case f.dir:
		e = imagetest.Dir(f.name)
	case f.link != "":
		e = imagetest.Symlink(f.name, f.link)
	}
	e.Mode, e.ModTime = f.mode, time.Unix(1700000000, 0)
	return e
}

// rootfsLayer is a layer of the entries of the .tar.gz root filesystem
// base (none when base is ""), then files. The base is read while the
// layer is written; err then reports a read error.
func rootfsLayer(t *testing.T, base string, files ...imagetest.File) (l imagetest.Layer, err func() error) {
	t.Helper()
	baseFiles, baseErr := func(yield func(imagetest.File) bool) {}, func() error { return nil }
	if base != "" {
		f, err := os.Open(base)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		gz, err := gzip.NewReader(f)
		if err != nil {
			t.Fatalf("%s: %v", base, err)
		}
		baseFiles, baseErr = imagetest.ReadTar(gz)
	}
	l.Generate = func(yield func(imagetest.File) bool) {
		for f := range baseFiles {
			if !yield(f) {
				return
			}
		}
		for _, f := range files {
			if !yield(f) {
				return
			}
		}
	}
	return l, baseErr
}

// importImage imports a root filesystem (an optional .tar.gz base plus
// files) into the engine with Dockerfile-style changes.
func importImage(t *testing.T, cli *client.Client, name, base string, files []file, changes ...string) {
	t.Helper()
	var entries []imagetest.File
	for _, f := range files {
		entries = append(entries, f.imagetest())
	}
	layer, baseErr := rootfsLayer(t, base, entries...)
	var buf bytes.Buffer
	if err := layer.WriteTar(&buf); err != nil {
		t.Fatal(err)
	}
	if err := baseErr(); err != nil {
		t.Fatalf("%s: %v", base, err)
	}
	ctx := context.Background()
	rc, err := cli.ImageImport(ctx, client.ImageImportSource{Source: &buf, SourceName: "-"}, name, client.ImageImportOptions{Changes: changes})
	if err != nil {
		t.Fatalf("importing %s: %v", name, err)
	}
	io.Copy(io.Discard, rc)
	rc.Close()
	t.Cleanup(func() { removeImage(cli, name) })
}

func removeImage(cli *client.Client, name string) {
	cli.ImageRemove(context.Background(), name, client.ImageRemoveOptions{Force: true, PruneChildren: true})
}

func options(t *testing.T, img string) slim.Options {
	cache := t.TempDir()
	return slim.Options{
		Image: img, Sensor: sensor(t), CacheDir: cache, TempDir: t.TempDir(), ProbeTimeout: 20 * time.Second,
		Progress: func(f string, a ...any) { t.Logf(f, a...) },
	}
}

// httpGet fetches a URL from a container, retrying while it starts.
func httpGet(t *testing.T, url string) (int, []byte) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err == nil {
				return resp.StatusCode, b
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// serveScript is a tiny HTTP server in busybox sh, run by "nc -lk -e"; the
// CLI's end-to-end test uses the same file.
var serveScript = func() string {
	b, err := os.ReadFile("testdata/serve.sh")
	if err != nil {
		panic(err)
	}
	return string(b)
}()

// alpineServer imports the Alpine 3.20 minirootfs with a busybox web
// server (nc + sh: Alpine's busybox has no httpd applet) serving /www.
func alpineServer(t *testing.T, cli *client.Client, name string) []byte {
	rootfs := testenv.SharedData(t, "rootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz")
	data := bytes.Repeat([]byte("shipshape slim keeps what the app serves\n"), 2000)
	importImage(t, cli, name, rootfs, []file{
		{name: "www", dir: true},
		{name: "www/index.html", body: "<h1>hello</h1><a href=\"/data.txt\">data</a>\n"},
		{name: "www/data.txt", body: string(data)},
		{name: "www/serve.sh", body: serveScript, mode: 0o755},
	},
		`USER nobody`, `EXPOSE 8080`, `WORKDIR /www`, `LABEL org.example.app=web`,
		`CMD ["/bin/busybox","nc","-lk","-p","8080","-e","/www/serve.sh"]`)
	return data
}

func TestSlimAlpineServer(t *testing.T) {
	if testing.Short() {
		t.Skip("runs containers")
	}
	cli := testenv.Docker(t)
	name := prefix + "alpine:1"
	data := alpineServer(t, cli, name)
	tag := prefix + "alpine-slim:1"
	t.Cleanup(func() { removeImage(cli, tag) })
	archive := filepath.Join(t.TempDir(), "slim.tar")
	o := options(t, name)
	o.HTTPPaths = []string{"/", "/nope"}
	o.Crawl = 10 // finds /data.txt
	o.VerifySeccomp = true
	script := filepath.Join(t.TempDir(), "probe.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ncase \"$SHIPSHAPE_PROBE_URL\" in http://127.0.0.1:*) echo ok ;; *) exit 7 ;; esac\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	o.ProbeScript = script
	o.Exec = [][]string{{"cat", "/www/index.html"}}
	o.Tag = tag
	o.Outputs = []string{"docker-archive:" + archive}
	res, err := slim.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("before %d files %d bytes, after %d files %d bytes (%.1fx), %v s", res.Before.Files, res.Before.Bytes, res.After.Files, res.After.Bytes, res.Reduction, res.Seconds)
	if res.Verify == nil || !res.Verify.OK || !res.Verify.Seccomp {
		t.Fatalf("verify: %+v", res.Verify)
	}
	if res.After.Bytes*3 > res.Before.Bytes || res.After.Files*10 > res.Before.Files {
		t.Errorf("not much smaller: %+v -> %+v", res.Before, res.After)
	}
	if res.Removed["package-managers"].Files == 0 {
		t.Errorf("apk not reported removed: %v", res.Removed)
	}
	// musl and busybox stay listed in apk's database, apk-tools does not.
	if p := res.Packages; p == nil || p.After == 0 || p.After >= p.Before {
		t.Errorf("packages: %+v", p)
	}
	wantStatus := map[string]int{"/": 200, "/data.txt": 200, "/nope": 404}
	if n := len(res.Probes); n != 5 {
		t.Errorf("%d probes, want 3 HTTP (one crawled), 1 exec and the script: %+v", n, res.Probes)
	}
	for _, p := range res.Probes {
		if p.Kind == "http" {
			path := p.Name[strings.LastIndex(p.Name, " ")+1:]
			if p.Status != wantStatus[path] {
				t.Errorf("%s: status %d, want %d", p.Name, p.Status, wantStatus[path])
			}
		}
		if p.Kind == "exec" && (p.ExitCode != 0 || !strings.HasPrefix(p.Output, "<h1>hello</h1>")) {
			t.Errorf("exec probe: %+v", p)
		}
		if p.Kind == "script" && (p.ExitCode != 0 || p.Output != "ok\n") {
			t.Errorf("probe script: %+v", p)
		}
	}

	// The slimmed image serves the same bytes when run on its own.
	c, err := runner.Start(context.Background(), cli, runner.Spec{Image: tag, Name: prefix + "alpine-run", Ports: []string{"8080/tcp"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Remove(context.Background())
	status, body := httpGet(t, "http://"+c.Ports["8080/tcp"]+"/data.txt")
	if status != 200 || !bytes.Equal(body, data) {
		t.Errorf("slimmed image: GET /data.txt = %d, %d bytes; want 200, %d bytes", status, len(body), len(data))
	}

	// The archive holds one layer and the original config.
	img, err := image.Open(context.Background(), "docker-archive:"+archive, image.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	cfg := img.Config.Config
	if len(img.Layers) != 1 || cfg.User != "nobody" || cfg.WorkingDir != "/www" || cfg.Labels["org.example.app"] != "web" ||
		len(cfg.Cmd) != 7 || cfg.Cmd[1] != "nc" {
		t.Errorf("slimmed config: %d layers, %+v", len(img.Layers), cfg)
	}
	if _, ok := cfg.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports lost: %v", cfg.ExposedPorts)
	}
	if h := img.Config.History; len(h) != 1 || !strings.Contains(h[0].CreatedBy, res.SourceDigest) {
		t.Errorf("history does not name the source digest %s: %+v", res.SourceDigest, h)
	}

	// The seccomp profile allows what a server needs.
	b, err := os.ReadFile(res.Seccomp)
	if err != nil {
		t.Fatal(err)
	}
	var prof struct {
		DefaultAction string
		Syscalls      []struct{ Names []string }
	}
	if err := json.Unmarshal(b, &prof); err != nil {
		t.Fatal(err)
	}
	if prof.DefaultAction != "SCMP_ACT_ERRNO" || len(prof.Syscalls) != 1 || !contains(prof.Syscalls[0].Names, "accept") || !contains(prof.Syscalls[0].Names, "execve") {
		t.Errorf("seccomp profile: %s", b)
	}
	// A later scan finds the record of this run.
	rec, ok, err := record.Load(o.CacheDir, mustHash(t, res.SourceDigest))
	if err != nil || !ok || !rec.Verified || rec.After.Bytes != res.After.Bytes {
		t.Errorf("cache record: %+v %v %v", rec, ok, err)
	}
	// It keeps the files the run opened, for P5's "in use".
	if ok && (!contains(rec.Used, "/www/serve.sh") || !contains(rec.Used, "/bin/busybox")) {
		t.Errorf("cache record: used files %v lack the server script and busybox", rec.Used)
	}
}

func TestSlimVerifyCatchesMissingFile(t *testing.T) {
	if testing.Short() {
		t.Skip("runs containers")
	}
	cli := testenv.Docker(t)
	name := prefix + "alpine-verify:1"
	alpineServer(t, cli, name)
	tag := prefix + "alpine-verify-slim:1"
	t.Cleanup(func() { removeImage(cli, tag) })
	o := options(t, name)
	o.HTTPPaths = []string{"/", "/data.txt"}
	o.Tag = tag
	// Only /data.txt needs this file; the keep set is told to drop it, as a
	// sensor that missed it would.
	o.Exclude = []string{"/www/data.txt"}
	res, err := slim.Run(context.Background(), o)
	if !errors.Is(err, slim.ErrVerify) {
		t.Fatalf("err = %v, want ErrVerify", err)
	}
	if !strings.Contains(err.Error(), "GET 8080/tcp /data.txt: HTTP status 404, was 200") {
		t.Errorf("error does not say what differs: %v", err)
	}
	if strings.Contains(err.Error(), "/data.txt") && strings.Contains(err.Error(), "GET 8080/tcp /:") {
		t.Errorf("the unaffected probe was reported: %v", err)
	}
	if res == nil || res.Verify == nil || res.Verify.OK {
		t.Errorf("result: %+v", res)
	}
	if _, err := cli.ImageInspect(context.Background(), tag); err == nil {
		t.Errorf("%s was written although verification failed", tag)
	}
}

func mustHash(t *testing.T, s string) v1.Hash {
	h, err := v1.NewHash(s)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func contains(v []string, s string) bool {
	for _, x := range v {
		if x == s {
			return true
		}
	}
	return false
}

// run runs a command and fails the test with its output on error.
func run(t *testing.T, dir, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}
