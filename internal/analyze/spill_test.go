package analyze_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/cache"
	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imagetest"
)

// asideCounter is an analyzer that counts the shared facts set aside in
// the scan's directory when it finishes (they are there until Run
// returns), and the layers that saw facts set aside while they were
// walked, past their file lists: it wants a file each layer holds after
// its lists.
type asideCounter struct {
	dir     string
	aside   int
	walking atomic.Int32
}

func (a *asideCounter) Name() string    { return "aside" }
func (a *asideCounter) Version() string { return "1" }
func (a *asideCounter) Wants(e *fstree.Entry) (bool, int64) {
	return strings.HasPrefix(e.Path(), "/usr/share/p") && strings.HasSuffix(e.Path(), "/f1"), 1
}
func (a *asideCounter) NewLayer(*image.Layer) analyze.LayerScanner { return walkingCounter{a} }
func (a *asideCounter) Finish(context.Context, *analyze.Input) (*analyze.Output, error) {
	a.aside = count(a.dir)
	return nil, nil
}

// count counts the files of facts set aside in dir.
func count(dir string) int {
	files, _ := filepath.Glob(filepath.Join(dir, "facts-*", "facts-*.json"))
	return len(files)
}

type walkingCounter struct{ a *asideCounter }

func (c walkingCounter) File(context.Context, *fstree.Entry, io.Reader) error {
	if count(c.a.dir) > 0 {
		c.a.walking.Add(1)
	}
	return nil
}
func (walkingCounter) Facts() (json.RawMessage, error) { return nil, nil }

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

	run := func(t *testing.T, opts analyze.Options) (*analyze.Result, int, int) {
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
		return res, a.aside, int(a.walking.Load())
	}
	want, _, _ := run(t, analyze.Options{})
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
		name     string
		budget   int64
		parallel int
		cache    bool
		aside    int // layers' facts set aside
		walking  int // layers that saw facts set aside as they were walked
		cached   bool
	}{
		{"walked, none held", -1, 0, false, 3, 3, false},
		// One layer at a time: the first one's facts (about 150 kB) are
		// held, the second's go to a file when they pass the budget, the
		// third's from the start.
		{"walked, a budget for one layer", 200_000, 1, false, 2, 2, false},
		{"walked into the cache, none held", -1, 0, true, 3, 3, false},
		{"read from the cache, none held", -1, 0, true, 3, 0, true},
		{"read from the cache, all held", 0, 0, true, 0, 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			opts := analyze.Options{TempDir: dir, FactsInMemory: tt.budget, Parallel: tt.parallel}
			if tt.cache {
				opts.Cache = c
			}
			res, aside, walking := run(t, opts)
			same(t, res)
			if aside != tt.aside {
				t.Errorf("%d layers' facts set aside, want %d", aside, tt.aside)
			}
			if walking != tt.walking {
				t.Errorf("%d layers saw facts set aside as they were walked, want %d", walking, tt.walking)
			}
			for i, st := range res.Layers {
				if st.Cached != tt.cached {
					t.Errorf("layer %d cached = %v, want %v", i+1, st.Cached, tt.cached)
				}
			}
		})
	}
}
