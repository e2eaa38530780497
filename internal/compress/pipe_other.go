//go:build !linux

package compress

import (
	"errors"
	"os"
)

// growPipe leaves pipes as they are where their size cannot be set.
func growPipe(*os.File) {}

// spliceFile moves nothing where there is no splice(2): the caller copies.
func spliceFile(w, f *os.File, off, n int64) (int64, error) {
	return 0, errors.ErrUnsupported
}
