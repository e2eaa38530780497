package waste

import (
	"math"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/fstree"
)

func TestMeasure(t *testing.T) {
	entry := func(p string, t fstree.Type, n int64) *fstree.Entry {
		e := &fstree.Entry{Type: t, Size: n}
		e.SetPath(p)
		return e
	}
	reg := func(p string, n int64) *fstree.Entry { return entry(p, fstree.Regular, n) }
	layers := []*fstree.Layer{
		fstree.NewLayer(1, reg("/a", 100), reg("/b", 50), reg("/keep", 850)),
		fstree.NewLayer(2, reg("/a", 10), entry("/b", fstree.Whiteout, 0)),
	}
	for _, l := range layers {
		for _, e := range l.All() {
			if e.Type == fstree.Regular {
				l.Bytes += e.Size
			}
		}
	}
	m := Measure(fstree.Squash(layers), 10)
	// Copies: /a 100+10 (min 10), /b 50+0 (min 0), /keep 850.
	if m.TotalBytes != 1010 || m.WastedBytes != 160 {
		t.Errorf("total %d wasted %d; want 1010 and 160", m.TotalBytes, m.WastedBytes)
	}
	if want := 860.0 / 1010.0; math.Abs(m.Efficiency-want) > 1e-9 {
		t.Errorf("efficiency %v, want %v", m.Efficiency, want)
	}
	if want := 160.0 / 10.0; m.UserWastedPercent != want {
		t.Errorf("user wasted %v, want %v", m.UserWastedPercent, want)
	}
	if len(m.Paths) != 2 || m.Paths[0].Path != "/a" || m.Paths[0].Copies != 2 || m.Paths[1].Path != "/b" {
		t.Errorf("paths = %+v", m.Paths)
	}
	if e := Measure(fstree.Squash(layers[:1]), 10); e.Efficiency != 1 || e.WastedBytes != 0 {
		t.Errorf("single layer: %+v", e)
	}
}
