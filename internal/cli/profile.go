package cli

import (
	"bytes"
	"fmt"
	"os"
	"runtime/metrics"
	"runtime/pprof"
	"time"
)

// startPeakHeapProfile writes the heap profile of the moment the live heap
// was largest to path, for --memprofile (a developer's flag, hidden): a
// profile taken at exit shows what is left, not what made the peak RSS.
// The live heap is read every 20 ms; the profile is the one of the last
// collection before it, so it is sampled, not exact (and writing it
// allocates a little). A command too short for one sample gets the
// profile of its end. The returned function stops sampling and writes the
// file.
func startPeakHeapProfile(path string) (stop func() error) {
	done := make(chan struct{})
	finished := make(chan struct{})
	var best bytes.Buffer
	var peak uint64
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	go func() {
		defer close(finished)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			metrics.Read(sample)
			// The profile lags a collection behind the live heap: take it
			// again while the heap stays near its peak.
			if live := sample[0].Value.Uint64(); live >= peak-peak/20 {
				peak = max(peak, live)
				best.Reset()
				pprof.Lookup("heap").WriteTo(&best, 0)
			}
		}
	}()
	return func() error {
		close(done)
		<-finished
		if best.Len() == 0 {
			pprof.Lookup("heap").WriteTo(&best, 0)
		}
		if err := os.WriteFile(path, best.Bytes(), 0o644); err != nil {
			return fmt.Errorf("memory profile: %w", err)
		}
		return nil
	}
}
