// Command buildimage builds shipshape's own container image without a
// Dockerfile, a base image or a pull: one layer on an empty image holding
// the static shipshape binary, the host's CA certificates (Debian's
// ca-certificates) and an /etc/passwd and /etc/group with an unprivileged
// user that the config's USER names, with OCI labels and annotations for
// the source, the revision and the base ("scratch"). The image is written
// with shipshape's own image writer, to any of its destinations:
//
//	go run ./tools/buildimage -o docker-daemon:shipshape:dev
//	go run ./tools/buildimage -o oci:out/shipshape-oci:dev -o docker-archive:out/shipshape.tar:shipshape:dev
//
// The build is reproducible: file times and the image's creation time come
// from -epoch (default: SOURCE_DATE_EPOCH, else the last commit's time).
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/shipshape-dev/shipshape/internal/imageout"
)

// The image's user: unprivileged, the uid distroless images use.
const (
	uid      = 65532
	userName = "shipshape"
	home     = "/home/shipshape"
	binPath  = "/usr/local/bin/shipshape"
	caPath   = "/etc/ssl/certs/ca-certificates.crt"
	source   = "https://github.com/shipshape-dev/shipshape"
)

// options are the command line.
type options struct {
	outputs  []string
	binary   string // a prebuilt static binary; built when empty
	ca       string
	version  string
	revision string
	epoch    int64
	repo     string // the module root, for go build and git
}

func main() {
	var o options
	flag.Func("o", "destination (repeatable): docker-archive:PATH[:TAG], oci:DIR[:TAG], docker-daemon:NAME:TAG, docker://REF", func(s string) error {
		o.outputs = append(o.outputs, s)
		return nil
	})
	flag.StringVar(&o.binary, "binary", "", "use this static shipshape binary instead of building one")
	flag.StringVar(&o.ca, "ca", caPath, "CA certificate bundle to include (Debian's ca-certificates)")
	flag.StringVar(&o.version, "version", "", "version stamped into the binary and the labels (default: git describe)")
	flag.StringVar(&o.revision, "revision", "", "source revision for the labels (default: git rev-parse HEAD)")
	flag.Int64Var(&o.epoch, "epoch", -1, "file and creation time, Unix seconds (default: SOURCE_DATE_EPOCH, else the last commit's time)")
	flag.StringVar(&o.repo, "repo", ".", "the shipshape module root")
	flag.Parse()
	if len(o.outputs) == 0 || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: buildimage -o DEST [-o DEST…] [-binary PATH] [-ca FILE] [-version V] [-revision R] [-epoch SECONDS]")
		os.Exit(2)
	}
	if err := run(context.Background(), o, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "buildimage: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, stdout io.Writer) error {
	if err := o.defaults(); err != nil {
		return err
	}
	bin := o.binary
	if bin == "" {
		tmp, err := os.MkdirTemp("", "shipshape-buildimage-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if bin, err = buildBinary(ctx, o, tmp); err != nil {
			return err
		}
	}
	img, err := build(o, bin)
	if err != nil {
		return err
	}
	dig, err := img.Digest()
	if err != nil {
		return err
	}
	for _, dest := range o.outputs {
		where, err := imageout.Write(ctx, img, dest, imageout.Options{})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s (%s)\n", where, dig)
	}
	return nil
}

// defaults fills version, revision and epoch from git and the environment.
func (o *options) defaults() error {
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", o.repo}, args...)...).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	if o.version == "" {
		if o.version = git("describe", "--tags", "--always", "--dirty"); o.version == "" {
			o.version = "dev"
		}
	}
	if o.revision == "" {
		o.revision = git("rev-parse", "HEAD")
	}
	if o.epoch < 0 {
		s := os.Getenv("SOURCE_DATE_EPOCH")
		if s == "" {
			s = git("log", "-1", "--format=%ct")
		}
		if s == "" {
			s = "0"
		}
		e, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("epoch %q: %w", s, err)
		}
		o.epoch = e
	}
	return nil
}

// buildBinary builds a static, stripped, reproducible cmd/shipshape.
func buildBinary(ctx context.Context, o options, dir string) (string, error) {
	out := filepath.Join(dir, "shipshape")
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("go build ./cmd/shipshape: %w", err)
	}
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-buildvcs=false",
		"-ldflags", "-s -w -X github.com/shipshape-dev/shipshape/internal/cli.Version="+o.version,
		"-o", out, "./cmd/shipshape")
	cmd.Dir = o.repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/shipshape: %w\n%s", err, b)
	}
	return out, nil
}

// build makes the image: one layer on nothing.
func build(o options, bin string) (v1.Image, error) {
	t := time.Unix(o.epoch, 0).UTC()
	exe, err := os.ReadFile(bin)
	if err != nil {
		return nil, fmt.Errorf("binary: %w", err)
	}
	if !isStatic(exe) {
		return nil, fmt.Errorf("binary %s is not a static ELF executable (build it with CGO_ENABLED=0)", bin)
	}
	ca, err := os.ReadFile(o.ca)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("CA certificates %s: not found (apt-get install ca-certificates, or -ca FILE)", o.ca)
	}
	if err != nil {
		return nil, fmt.Errorf("CA certificates: %w", err)
	}
	layer, err := rootfsLayer(t, exe, ca)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: t},
			CreatedBy: "shipshape tools/buildimage: static shipshape binary, CA certificates, /etc/passwd with user " + userName,
			Comment:   "built without a Dockerfile or a base image",
		},
		MediaType: types.OCILayer,
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Created = v1.Time{Time: t}
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	labels := map[string]string{
		"org.opencontainers.image.title":       "shipshape",
		"org.opencontainers.image.description": "Audit and harden container images",
		"org.opencontainers.image.source":      source,
		"org.opencontainers.image.version":     o.version,
		"org.opencontainers.image.created":     t.Format(time.RFC3339),
		"org.opencontainers.image.base.name":   "scratch",
	}
	if o.revision != "" {
		labels["org.opencontainers.image.revision"] = o.revision
	}
	cf.Config = v1.Config{
		User:       strconv.Itoa(uid) + ":" + strconv.Itoa(uid),
		Entrypoint: []string{binPath},
		Cmd:        []string{"--help"},
		Env:        []string{"PATH=/usr/local/bin", "HOME=" + home, "SSL_CERT_FILE=" + caPath},
		WorkingDir: home,
		Labels:     labels,
	}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}
	// Registries and OCI layouts keep manifest annotations too.
	return mutate.Annotations(img, labels).(v1.Image), nil
}

// isStatic reports whether b is an ELF executable without an interpreter.
func isStatic(b []byte) bool {
	return len(b) > 4 && string(b[:4]) == "\x7fELF" && !bytes.Contains(b[:min(len(b), 4096)], []byte("/lib64/ld-linux")) && !bytes.Contains(b[:min(len(b), 4096)], []byte("/lib/ld-"))
}

// rootfsLayer writes the image's only layer, every entry with time t.
func rootfsLayer(t time.Time, exe, ca []byte) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dir := func(name string, mode int64, owner int) error {
		return tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode, Uid: owner, Gid: owner, ModTime: t, Format: tar.FormatPAX})
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(data)), ModTime: t, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:%s:/sbin/nologin\n", userName, uid, uid, userName, home)
	group := fmt.Sprintf("root:x:0:\n%s:x:%d:\n", userName, uid)
	steps := []func() error{
		func() error { return dir("etc/", 0o755, 0) },
		func() error { return file("etc/group", 0o644, []byte(group)) },
		func() error { return file("etc/passwd", 0o644, []byte(passwd)) },
		func() error { return dir("etc/ssl/", 0o755, 0) },
		func() error { return dir("etc/ssl/certs/", 0o755, 0) },
		func() error { return file(strings.TrimPrefix(caPath, "/"), 0o644, ca) },
		func() error { return dir("home/", 0o755, 0) },
		func() error { return dir(strings.TrimPrefix(home, "/")+"/", 0o700, uid) },
		func() error { return dir("tmp/", 0o1777, 0) },
		func() error { return dir("usr/", 0o755, 0) },
		func() error { return dir("usr/local/", 0o755, 0) },
		func() error { return dir("usr/local/bin/", 0o755, 0) },
		func() error { return file(strings.TrimPrefix(binPath, "/"), 0o755, exe) },
		tw.Close,
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return nil, fmt.Errorf("layer: %w", err)
		}
	}
	b := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer))
}
