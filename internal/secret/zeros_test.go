package secret

import (
	"bytes"
	"fmt"
	"testing"
)

// TestZeroRuns checks the prefilter's step over runs of NUL bytes: a
// secret right after zero runs of every length and alignment is found
// where it is, exactly as by the byte-by-byte prefilter.
func TestZeroRuns(t *testing.T) {
	s := newFakeSecrets(t, 3)
	d := NewDetector(Rules())
	if !d.common.zeroFree {
		t.Fatal("a keyword is indexed by a pair starting with NUL: the zero-run step is off")
	}
	// The same rules without the step, as the reference.
	ref := NewDetector(Rules())
	ref.common = newIndex(ref.rules, func(i int, _ *Rule) bool { return ref.commonApplies[i] })
	ref.common.zeroFree = false
	pads := []int{}
	for pad := 0; pad < 300; pad += 7 {
		pads = append(pads, pad)
	}
	// Runs of whole pages and around them (the step past a run's first
	// block compares a page at a time).
	for _, pages := range []int{1, 2, 3} {
		for d := -65; d <= 65; d += 13 {
			pads = append(pads, pages*len(zeroPage)+zeroBlock+d)
		}
	}
	for _, pad := range pads {
		for _, lead := range []int{0, 1, 7} {
			var b bytes.Buffer
			b.Write(bytes.Repeat([]byte{'x'}, lead))
			b.Write(make([]byte, pad))
			b.WriteString(s.RSAKey)
			b.Write(make([]byte, 3*pad))
			got, want := d.ScanBytes(b.Bytes(), "/bin/app"), ref.ScanBytes(b.Bytes(), "/bin/app")
			if len(got) != 1 || brief(got) != brief(want) {
				t.Fatalf("pad %d lead %d: %d matches %s, want %s", pad, lead, len(got), brief(got), brief(want))
			}
			if got[0].Offset != int64(lead+pad) {
				t.Errorf("pad %d lead %d: key at %d, want %d", pad, lead, got[0].Offset, lead+pad)
			}
		}
	}
}

func brief(ms []Match) string {
	var s string
	for _, m := range ms {
		s += fmt.Sprintf("%s@%d:%d ", m.Rule.ID, m.Offset, len(m.Value))
	}
	return s
}

// TestZeroRunsPrefilter compares the prefilter's hits with and without the
// zero-run step, every keyword of every rule placed right after zero runs
// of many lengths (so that its anchor pair starts at every alignment of
// the 64-byte blocks the step tests).
func TestZeroRunsPrefilter(t *testing.T) {
	d := NewDetector(Rules())
	ref := NewDetector(Rules())
	ref.common = newIndex(ref.rules, func(i int, _ *Rule) bool { return ref.commonApplies[i] })
	ref.common.zeroFree = false
	var buf bytes.Buffer
	for _, r := range d.rules {
		for _, kw := range r.Keywords {
			for pad := 0; pad < 200; pad += 3 {
				buf.Write(make([]byte, pad))
				buf.WriteString(kw)
			}
		}
	}
	buf.Write(make([]byte, 13))
	got, want := d.newScan(""), ref.newScan("")
	got.chunk(buf.Bytes(), 0, 0, true)
	want.chunk(buf.Bytes(), 0, 0, true)
	if len(got.hits) == 0 || fmt.Sprint(got.hits) != fmt.Sprint(want.hits) {
		t.Errorf("prefilter hits differ: %d with the zero-run step, %d without", len(got.hits), len(want.hits))
	}
	// After runs of whole pages: the step past a run's first 64-byte
	// block compares a page at a time, so each keyword is placed at every
	// offset of the block where a step over one or two pages ends, and
	// just around it.
	found := 0
	for _, r := range d.rules {
		for _, kw := range r.Keywords {
			for pages := 1; pages <= 2; pages++ {
				for pad := pages*len(zeroPage) + zeroBlock - 2; pad <= pages*len(zeroPage)+2*zeroBlock+2; pad++ {
					b := append(make([]byte, pad), kw...)
					b = append(b, make([]byte, 13)...)
					got, want := d.newScan(""), ref.newScan("")
					got.chunk(b, 0, 0, true)
					want.chunk(b, 0, 0, true)
					found += len(want.hits)
					if fmt.Sprint(got.hits) != fmt.Sprint(want.hits) {
						t.Fatalf("keyword %q after %d zeros: prefilter hits %v with the zero-run step, %v without", kw, pad, got.hits, want.hits)
					}
				}
			}
		}
	}
	if found == 0 {
		t.Error("no keyword after pages of zeros was a prefilter hit: the comparison proves nothing")
	}
}
