package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// EnvTestCache names an optional environment variable holding the directory
// where tests keep what is slow to build (Debian root filesystems). When it
// is unset, [CacheDir] uses /var/cache/shipshape-test, or the user cache
// directory when that cannot be created.
const EnvTestCache = "SHIPSHAPE_TEST_CACHE"

// DebianMirror is the archive [DebianRootfs] installs from.
const DebianMirror = "http://deb.debian.org/debian"

// DebianSuite is the release [DebianRootfs] installs.
const DebianSuite = "bookworm"

// CacheDir returns the directory where tests cache what is slow to build,
// outside the repository; see [EnvTestCache]. It is created if missing.
func CacheDir(t testing.TB) string {
	t.Helper()
	dir, err := cacheDir()
	Require(t, "a test cache directory", err)
	return dir
}

func cacheDir() (string, error) {
	if dir := os.Getenv(EnvTestCache); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("%s: %w", EnvTestCache, err)
		}
		return dir, nil
	}
	dir := "/var/cache/shipshape-test"
	if err := os.MkdirAll(dir, 0o755); err == nil {
		return dir, nil
	}
	ucd, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	dir = filepath.Join(ucd, "shipshape-test")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, nil
}

var cacheName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)

// DebianRootfs returns a Debian bookworm minbase root filesystem with the
// packages include (and what they depend on) as a .tar.gz, built with
// debootstrap once and kept in [CacheDir] as debian-bookworm-NAME.tar.gz;
// name must be a lowercase word that stands for include. The first build
// takes one to several minutes, depending on the packages. debootstrap,
// root and the Debian archive are handled by [Require].
func DebianRootfs(t testing.TB, name string, include ...string) string {
	t.Helper()
	if !cacheName.MatchString(name) {
		t.Fatalf("testenv.DebianRootfs: bad name %q", name)
	}
	dir := CacheDir(t)
	out := filepath.Join(dir, "debian-"+DebianSuite+"-"+name+".tar.gz")
	if _, err := os.Stat(out); err == nil {
		return out
	}
	// Test binaries of several packages run at once: one builds, the
	// others wait for it and find the result.
	unlock, err := lockFile(out + ".lock")
	if err != nil {
		t.Fatalf("testenv: lock %s: %v", out, err)
	}
	defer unlock()
	if _, err := os.Stat(out); err == nil {
		return out
	}
	debootstrap := Binary(t, "debootstrap")
	if os.Geteuid() != 0 {
		Require(t, "root (debootstrap)", fmt.Errorf("running as uid %d", os.Geteuid()))
	}
	root, err := os.MkdirTemp(dir, "debroot-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(root)
	start := time.Now()
	args := []string{"--variant=minbase"}
	if len(include) > 0 {
		args = append(args, "--include="+strings.Join(include, ","))
	}
	args = append(args, DebianSuite, root, DebianMirror)
	if b, err := exec.Command(debootstrap, args...).CombinedOutput(); err != nil {
		Require(t, "debootstrap of Debian "+DebianSuite, fmt.Errorf("%v: %s", err, tail(b, 2000)))
	}
	// Written beside out and renamed: nobody sees half of it.
	tmp := fmt.Sprintf("%s.%d.tmp", out, os.Getpid())
	if b, err := exec.Command("tar", "-C", root, "-czf", tmp, ".").CombinedOutput(); err != nil {
		os.Remove(tmp)
		t.Fatalf("tar %s: %v: %s", root, err, tail(b, 2000))
	}
	if err := os.Rename(tmp, out); err != nil {
		t.Fatal(err)
	}
	t.Logf("testenv: built %s in %s", out, time.Since(start).Round(time.Second))
	return out
}

// DebianImage returns "docker-archive:PATH" for a one-layer image whose
// layer is [DebianRootfs](name, include...), written once and kept in
// [CacheDir] as debian-bookworm-NAME.docker.tar, tagged
// shipshape-test/debian-NAME:bookworm. It needs no Docker Engine.
func DebianImage(t testing.TB, name string, include ...string) string {
	t.Helper()
	rootfs := DebianRootfs(t, name, include...)
	out := strings.TrimSuffix(rootfs, ".tar.gz") + ".docker.tar"
	if _, err := os.Stat(out); err == nil {
		return "docker-archive:" + out
	}
	unlock, err := lockFile(out + ".lock")
	if err != nil {
		t.Fatalf("testenv: lock %s: %v", out, err)
	}
	defer unlock()
	if _, err := os.Stat(out); err == nil {
		return "docker-archive:" + out
	}
	if err := writeRootfsImage(rootfs, out, "shipshape-test/debian-"+name+":"+DebianSuite); err != nil {
		t.Fatalf("testenv.DebianImage: %v", err)
	}
	return "docker-archive:" + out
}

// writeRootfsImage writes a docker-archive at out holding one image, tagged
// tag, whose only layer is the root filesystem tarball rootfs.
func writeRootfsImage(rootfs, out, tag string) error {
	layer, err := tarball.LayerFromFile(rootfs)
	if err != nil {
		return fmt.Errorf("layer %s: %w", rootfs, err)
	}
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:   layer,
		History: v1.History{CreatedBy: "debootstrap --variant=minbase " + DebianSuite},
	})
	if err != nil {
		return fmt.Errorf("image of %s: %w", rootfs, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", runtime.GOARCH
	cf.Config.Cmd = []string{"/bin/bash"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return err
	}
	ref, err := name.NewTag(tag)
	if err != nil {
		return err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", out, os.Getpid())
	if err := tarball.WriteToFile(tmp, ref, img); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", out, err)
	}
	return os.Rename(tmp, out)
}

// tail returns the last n bytes of b, for error messages.
func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// CleanDebianPackages are the packages of [CleanDebianImage]: language
// runtimes whose files are full of key-like test data and documentation.
var CleanDebianPackages = []string{"python3", "nodejs", "ruby", "openjdk-17-jdk-headless"}

// CleanDebianImage returns "docker-archive:PATH" for a clean Debian
// bookworm image with python3, nodejs, ruby and a JDK ([CleanDebianPackages]),
// built by [DebianImage] once and cached: the real image that the secret
// analyzer's false-positive test and the whole-scan benchmarks read. The
// first build downloads about 150 MB from the Debian archive.
func CleanDebianImage(t testing.TB) string {
	t.Helper()
	return DebianImage(t, "clean", CleanDebianPackages...)
}
