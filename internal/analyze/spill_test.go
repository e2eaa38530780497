package analyze_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/cache"
	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imagetest"
)

// asideCounter is an analyzer that, when it finishes, counts the shared
// facts set aside in the scan's directory (they are there until Run
// returns).
type asideCounter struct {
	dir   string
	aside int
}

func (a *asideCounter) Name() string                               { return "aside" }
func (a *asideCounter) Version() string                            { return "1" }
func (a *asideCounter) Wants(*fstree.Entry) (bool, int64)          { return false, 0 }
func (a *asideCounter) NewLayer(*image.Layer) analyze.LayerScanner { return noFiles{} }
func (a *asideCounter) Finish(context.Context, *analyze.Input) (*analyze.Output, error) {
	files, _ := filepath.Glob(filepath.Join(a.dir, "facts-*", "facts-*.json"))
	a.aside = len(files)
	return nil, nil
}

// TestFactsSetAside: past the memory budget, the layers' shared facts
// are set aside in the scan's directory — as a layer is walked and as its
// cache entry is read — and read back when decoded: the system is the one
// every fact held in memory gives, an entry written from facts set aside
// reads back whole, and nothing is left in the directory.
func TestFactsSetAside(t *testing.T) {
	var layers []imagetest.Layer
	for i := range 3 {
		var sums strings.Builder
		for j := range 2000 {
			fmt.Fprintf(&sums, "0123456789abcdef0123456789abcdef  usr/share/p%d/f%d\n", i, j)
		}
		layers = append(layers, imagetest.Layer{CreatedBy: fmt.Sprintf("RUN step %d", i), Files: []imagetest.File{
			imagetest.Reg("var/lib/dpkg/status", fmt.Sprintf("Package: p%d\nStatus: install ok installed\nVersion: %d\n\n", i, i)),
			imagetest.Reg(fmt.Sprintf("var/lib/dpkg/info/p%d.md5sums", i), sums.String()),
			imagetest.Reg(fmt.Sprintf("usr/share/p%d/f1", i), "x"),
		}})
	}
	layers[0].Files = append(layers[0].Files, imagetest.Reg("etc/os-release", "ID=debian\nVERSION_ID=\"12\"\n"))
	p := filepath.Join(t.TempDir(), "img.tar")
	imagetest.Image{Layers: layers}.WriteDockerArchive(t, p, false)
	img, err := image.Open(context.Background(), "docker-archive:"+p, image.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()

	run := func(t *testing.T, opts analyze.Options) (*analyze.Result, int) {
		t.Helper()
		a := &asideCounter{dir: opts.TempDir}
		res, err := analyze.Run(context.Background(), img, []analyze.Analyzer{a}, opts)
		if err != nil {
			t.Fatal(err)
		}
		if opts.TempDir != "" {
			if left, _ := os.ReadDir(opts.TempDir); len(left) != 0 {
				t.Errorf("left in the scan's directory: %v", left)
			}
		}
		return res, a.aside
	}
	want, _ := run(t, analyze.Options{})
	if o, _ := want.System.Owner("/usr/share/p2/f1"); o.Package != "p2" || want.System.Owned() != 6000 {
		t.Fatalf("held in memory: owner %+v of %d files", o, want.System.Owned())
	}
	same := func(t *testing.T, res *analyze.Result) {
		t.Helper()
		if !reflect.DeepEqual(res.System, want.System) {
			t.Errorf("system = %+v\nwant %+v", res.System, want.System)
		}
	}

	dir := t.TempDir()
	c, err := cache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name   string
		budget int64
		cache  bool
		aside  int
		cached bool
	}{
		{"walked, none held", -1, false, 3, false},
		{"walked, a budget for one layer", 200_000, false, 2, false},
		{"walked into the cache, none held", -1, true, 3, false},
		{"read from the cache, none held", -1, true, 3, true},
		{"read from the cache, all held", 0, true, 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := analyze.Options{TempDir: dir, FactsInMemory: tt.budget}
			if tt.cache {
				opts.Cache = c
			}
			res, aside := run(t, opts)
			same(t, res)
			if aside != tt.aside {
				t.Errorf("%d layers' facts set aside, want %d", aside, tt.aside)
			}
			for i, st := range res.Layers {
				if st.Cached != tt.cached {
					t.Errorf("layer %d cached = %v, want %v", i+1, st.Cached, tt.cached)
				}
			}
		})
	}
}
