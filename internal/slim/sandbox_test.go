package slim_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/slim"
	"github.com/shipshape-dev/shipshape/internal/slim/build"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// alpineArchive writes a docker-archive of the Alpine minirootfs plus the
// nc + sh web server listening on port, without any container engine.
func alpineArchive(t *testing.T, port int) string {
	t.Helper()
	rootfs := testenv.SharedData(t, "rootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz")
	dir := t.TempDir()
	layer, baseErr := rootfsLayer(t, rootfs,
		imagetest.Reg("www/index.html", "<h1>sandbox</h1>\n"),
		imagetest.Reg("www/data.txt", strings.Repeat("served from a sandbox\n", 3000)),
		imagetest.File{Name: "www/serve.sh", Content: []byte(serveScript), Mode: 0o755},
	)
	layerPath := filepath.Join(dir, "layer.tar")
	out, err := os.Create(layerPath)
	if err != nil {
		t.Fatal(err)
	}
	err = layer.WriteTar(out)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = baseErr()
	}
	if err != nil {
		t.Fatal(err)
	}
	p := fmt.Sprintf("%d/tcp", port)
	cfg := &v1.ConfigFile{OS: "linux", Architecture: "amd64", Config: v1.Config{
		User: "nobody", WorkingDir: "/www", ExposedPorts: map[string]struct{}{p: {}},
		Env: []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin"},
		Cmd: []string{"/bin/busybox", "nc", "-lk", "-p", fmt.Sprint(port), "-e", "/www/serve.sh"},
	}}
	img, err := build.Image(layerPath, cfg, "test", time.Unix(1700000000, 0), build.Base{})
	if err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "image.tar")
	if err := tarball.WriteToFile(archive, name.MustParseReference("shipshape-test/sandbox:1").(name.Tag), img); err != nil {
		t.Fatal(err)
	}
	return archive
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestSandboxRuntime slims and verifies an image with no container engine.
func TestSandboxRuntime(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes in new namespaces")
	}
	if _, err := os.Stat("/proc/self/ns/user"); err != nil {
		testenv.Require(t, "user namespaces", err)
	}
	archive := alpineArchive(t, freePort(t))
	out := filepath.Join(t.TempDir(), "slim.tar")
	o := options(t, "docker-archive:"+archive)
	o.Runtime = "sandbox"
	o.HTTPPaths = []string{"/", "/data.txt"}
	o.Exec = [][]string{{"cat", "/www/index.html"}}
	o.Outputs = []string{"docker-archive:" + out}
	res, err := slim.Run(context.Background(), o)
	if err != nil && strings.Contains(err.Error(), "user namespaces") {
		testenv.Require(t, "user namespaces", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if res.Verify == nil || !res.Verify.OK || res.Reduction < 3 {
		t.Fatalf("result: verify %+v, %.1fx", res.Verify, res.Reduction)
	}
	for _, p := range res.Probes {
		if p.Error != "" || (p.Kind == "http" && p.Status != 200) || (p.Kind == "exec" && p.Output != "<h1>sandbox</h1>\n") {
			t.Errorf("probe %+v", p)
		}
	}
	img, err := image.Open(context.Background(), "docker-archive:"+out, image.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if len(img.Layers) != 1 || img.Config.Config.User != "nobody" {
		t.Errorf("slimmed image: %d layers, config %+v", len(img.Layers), img.Config.Config)
	}

	// The same missing-file check as with Docker.
	o2 := options(t, "docker-archive:"+archive)
	o2.Runtime = "sandbox"
	o2.HTTPPaths = []string{"/data.txt"}
	o2.Exclude = []string{"/www/data.txt"}
	o2.Outputs = []string{"docker-archive:" + filepath.Join(t.TempDir(), "never.tar")}
	if _, err := slim.Run(context.Background(), o2); !errors.Is(err, slim.ErrVerify) || !strings.Contains(err.Error(), "HTTP status 404, was 200") {
		t.Errorf("err = %v, want a verify failure on /data.txt", err)
	}
	if _, err := os.Stat(o2.Outputs[0][len("docker-archive:"):]); err == nil {
		t.Error("an image was written although verification failed")
	}
}
