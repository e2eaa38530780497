package inventory_test

import (
	"context"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/layertest"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// TestApkGroundTruth compares the apk inventory of Alpine's minirootfs
// with what `apk info -v` prints inside a container of the same rootfs:
// the same names and versions, nothing missed, nothing extra.
func TestApkGroundTruth(t *testing.T) {
	if testing.Short() {
		t.Skip("needs docker")
	}
	for _, rel := range []string{"rootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz", "rootfs/alpine-minirootfs-3.12.12-x86_64.tar.gz"} {
		t.Run(rel, func(t *testing.T) {
			tarball := testenv.SharedData(t, rel)
			// Ours: the tarball as a one-layer image.
			l := image.NewLayer(func(context.Context) (io.ReadCloser, error) { return os.Open(tarball) })
			l.Index = 1
			img := &image.Image{Reference: tarball, Config: &v1.ConfigFile{}, Layers: []*image.Layer{l}}
			a, err := inventory.New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			res, err := analyze.Run(context.Background(), img, []analyze.Analyzer{a}, analyze.Options{})
			if err != nil {
				t.Fatal(err)
			}
			inv := res.Sections[inventory.SectionName].(*inventory.Inventory)
			var ours []string
			for _, p := range inv.Packages {
				if p.Type == "apk" {
					ours = append(ours, p.Name+"-"+p.Version)
				}
			}
			slices.Sort(ours)

			// Theirs: apk itself, in a container.
			testenv.Docker(t)
			docker := testenv.DockerCLI(t)
			name := "shipshape-issue4-apk-" + strings.NewReplacer(".", "-", "/", "-").Replace(rel[len("rootfs/alpine-minirootfs-"):len(rel)-len("-x86_64.tar.gz")])
			if out, err := exec.Command(docker, "import", tarball, name).CombinedOutput(); err != nil {
				t.Fatalf("docker import: %v\n%s", err, out)
			}
			t.Cleanup(func() { exec.Command(docker, "rmi", "-f", name).Run() })
			out, err := exec.Command(docker, "run", "--rm", "--network=none", name, "apk", "info", "-v").Output()
			if err != nil {
				t.Fatalf("apk info -v: %v", err)
			}
			var theirs []string
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "WARNING") {
					theirs = append(theirs, line)
				}
			}
			slices.Sort(theirs)
			if !slices.Equal(ours, theirs) {
				t.Errorf("inventory differs from apk info -v:\nours:   %v\ntheirs: %v", ours, theirs)
			}
			if inv.Distro == nil || !strings.HasPrefix(inv.Distro.Ecosystem, "Alpine:v3.") {
				t.Errorf("distro = %+v", inv.Distro)
			}
			t.Logf("%d apk packages match apk info -v", len(ours))
		})
	}
}

// TestDpkgGroundTruth compares the dpkg inventory of this machine's own
// package database with `dpkg-query -W` (installed packages).
func TestDpkgGroundTruth(t *testing.T) {
	query := testenv.Binary(t, "dpkg-query")
	status, err := os.ReadFile("/var/lib/dpkg/status")
	testenv.Require(t, "the dpkg database of a Debian-based machine", err)
	osRelease, _ := os.ReadFile("/etc/os-release")
	inv := run(t, layertest.Layer{Files: map[string]layertest.File{
		"/var/lib/dpkg/status": {Content: status},
		"/etc/os-release":      {Content: osRelease},
	}})
	var ours []string
	for _, p := range inv.Packages {
		ours = append(ours, p.Name+" "+p.Version)
	}
	slices.Sort(ours)
	ours = slices.Compact(ours)
	out, err := exec.Command(query, "-W", "-f", "${db:Status-Abbrev}|${Package} ${Version}\n").Output()
	if err != nil {
		t.Fatal(err)
	}
	var theirs []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		st, pkg, _ := strings.Cut(line, "|")
		if strings.HasPrefix(st, "ii") {
			theirs = append(theirs, pkg)
		}
	}
	slices.Sort(theirs)
	theirs = slices.Compact(theirs)
	if !slices.Equal(ours, theirs) {
		t.Errorf("inventory (%d) differs from dpkg-query -W (%d)", len(ours), len(theirs))
		for _, p := range theirs {
			if !slices.Contains(ours, p) {
				t.Errorf("missed %s", p)
			}
		}
		for _, p := range ours {
			if !slices.Contains(theirs, p) {
				t.Errorf("extra %s", p)
			}
		}
	}
	t.Logf("%d dpkg packages match dpkg-query -W", len(ours))
}
