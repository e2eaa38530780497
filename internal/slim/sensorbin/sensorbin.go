// Package sensorbin finds a static sensor binary to mount into containers:
// an explicit path, the running shipshape binary when it is static (release
// builds use CGO_ENABLED=0 and carry a hidden "sensor" command), or — when
// running from a source checkout, as with "go run" and "go test" — one
// built on demand with CGO_ENABLED=0 into the cache directory.
package sensorbin

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// Binary is a sensor program and the arguments that select the sensor.
type Binary struct {
	Path string
	Args []string // e.g. ["sensor"] for the shipshape binary itself
}

// Options say where to look.
type Options struct {
	// Path is an explicit sensor (--sensor); it must be static.
	Path string
	// SelfIsShipshape says the running executable has the sensor command.
	SelfIsShipshape bool
	// CacheDir receives a sensor built from source.
	CacheDir string
}

// Static reports whether the file at p is a statically linked ELF
// executable for this machine.
func Static(p string) (bool, error) {
	f, err := elf.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[runtime.GOARCH]
	if f.Machine != want {
		return false, nil
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return false, nil
		}
	}
	return true, nil
}

// Locate returns a usable sensor.
func Locate(ctx context.Context, o Options) (Binary, error) {
	if o.Path != "" {
		ok, err := Static(o.Path)
		if err != nil {
			return Binary{}, fmt.Errorf("sensor %s: %w", o.Path, err)
		}
		if !ok {
			return Binary{}, fmt.Errorf("sensor %s: not a static %s executable (build it with CGO_ENABLED=0 go build ./cmd/shipshape-sensor)", o.Path, runtime.GOARCH)
		}
		return Binary{Path: o.Path}, nil
	}
	if o.SelfIsShipshape {
		// A test binary is not shipshape, even when it runs the CLI.
		if self, err := os.Executable(); err == nil && !strings.HasSuffix(self, ".test") {
			if ok, _ := Static(self); ok {
				return Binary{Path: self, Args: []string{"sensor"}}, nil
			}
		}
	}
	src := sourceDir()
	gobin, err := exec.LookPath("go")
	if src == "" || err != nil {
		return Binary{}, fmt.Errorf("no static sensor: this shipshape binary is dynamically linked; rebuild it with CGO_ENABLED=0, or build the sensor with \"CGO_ENABLED=0 go build ./cmd/shipshape-sensor\" and pass --sensor PATH")
	}
	dir := filepath.Join(o.CacheDir, "sensor")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Binary{}, fmt.Errorf("sensor: %w", err)
	}
	out := filepath.Join(dir, "shipshape-sensor-"+runtime.GOARCH)
	tmp := out + fmt.Sprintf(".%d.tmp", os.Getpid())
	cmd := exec.CommandContext(ctx, gobin, "build", "-trimpath", "-o", tmp, "./cmd/shipshape-sensor")
	cmd.Dir = src
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return Binary{}, fmt.Errorf("building the sensor in %s: %w: %s", src, err, strings.TrimSpace(stderr.String()))
	}
	if err := os.Rename(tmp, out); err != nil {
		return Binary{}, fmt.Errorf("sensor: %w", err)
	}
	return Binary{Path: out}, nil
}

// sourceDir returns the module root of a source checkout this binary was
// built from, or "" when the sources are not on this machine.
func sourceDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		return ""
	}
	dir := filepath.Dir(file)
	for i := 0; i < 6; i++ {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			if strings.Contains(string(b), "module github.com/shipshape-dev/shipshape\n") {
				if _, err := os.Stat(filepath.Join(dir, "cmd/shipshape-sensor/main.go")); err == nil {
					return dir
				}
			}
			return ""
		}
		dir = filepath.Dir(dir)
	}
	return ""
}
