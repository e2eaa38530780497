package walk

import (
	"context"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
)

// FuzzLayer feeds arbitrary blobs to the walk: it must return a result or an
// error, never panic, whatever the compression sniffing and tar parsing see.
func FuzzLayer(f *testing.F) {
	f.Add(tarOf(imagetest.Reg("etc/passwd", "root:x:0:0::/root:/bin/sh\n"), imagetest.Opaque("a"), imagetest.Symlink("l", "../../x")))
	f.Add(blobOf(imagetest.Gzip, imagetest.Reg("../../x", "y"), imagetest.Hardlink("h", "nope")))
	f.Add(blobOf(imagetest.Zstd, imagetest.Reg(".wh.", "")))
	f.Add([]byte{0x1f, 0x8b, 0x08, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, blob []byte) {
		lim := DefaultLimits
		lim.MaxLayerBytes = 64 << 20
		lim.RatioFloor = 1 << 20
		type outcome struct {
			res *Result
			err error
		}
		done := make(chan outcome, 1)
		go func() {
			res, err := Layer(context.Background(), layerOf(blob, v1.Hash{}, v1.Hash{}), &collect{files: map[string]string{}}, Options{Limits: lim})
			done <- outcome{res, err}
		}()
		select {
		case o := <-done:
			if o.err == nil && o.res == nil {
				t.Fatal("nil result without error")
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("walk of a %d-byte blob did not finish in 20 s", len(blob))
		}
	})
}
