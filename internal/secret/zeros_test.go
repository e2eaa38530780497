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
	for pad := 0; pad < 300; pad += 7 {
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
	var b bytes.Buffer
	for _, r := range d.rules {
		for _, kw := range r.Keywords {
			for pad := 0; pad < 200; pad += 3 {
				b.Write(make([]byte, pad))
				b.WriteString(kw)
			}
		}
	}
	b.Write(make([]byte, 13))
	got, want := d.newScan(""), ref.newScan("")
	got.chunk(b.Bytes(), 0, 0, true)
	want.chunk(b.Bytes(), 0, 0, true)
	if len(got.hits) == 0 || fmt.Sprint(got.hits) != fmt.Sprint(want.hits) {
		t.Errorf("prefilter hits differ: %d with the zero-run step, %d without", len(got.hits), len(want.hits))
	}
}
