package compress

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// pipeSize is what growPipe asks for: Linux's default limit for an
// unprivileged process (/proc/sys/fs/pipe-max-size).
const pipeSize = 1 << 20

// growPipe enlarges the pipe f is an end of from 64 KiB, if the system
// lets it; a pipe it cannot grow works as it is.
func growPipe(f *os.File) {
	rc, err := f.SyscallConn() // not f.Fd(), which would make f blocking
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		unix.FcntlInt(fd, unix.F_SETPIPE_SZ, pipeSize)
	})
}

// spliceFile moves n bytes of f, from offset off, into the pipe w with
// splice(2): the kernel hands the file's pages to the pipe, and nothing is
// copied through this process. f's own offset is left alone. It returns
// the bytes moved; errors.ErrUnsupported (with nothing moved) when f cannot
// be spliced, for the caller to copy instead; io.ErrUnexpectedEOF when f
// ends before off+n. It waits for room in the pipe through the runtime's
// poller, so a full pipe holds no thread.
func spliceFile(w, f *os.File, off, n int64) (int64, error) {
	src, err := f.SyscallConn()
	if err != nil {
		return 0, errors.ErrUnsupported
	}
	dst, err := w.SyscallConn()
	if err != nil {
		return 0, errors.ErrUnsupported
	}
	var moved int64
	var serr error
	cerr := src.Control(func(sfd uintptr) {
		for moved < n && serr == nil {
			werr := dst.Write(func(dfd uintptr) bool {
				at := off + moved
				m, err := unix.Splice(int(sfd), &at, int(dfd), nil, int(min(n-moved, pipeSize)), unix.SPLICE_F_MOVE|unix.SPLICE_F_NONBLOCK)
				switch {
				case err == unix.EAGAIN:
					return false // the pipe is full: wait for room
				case err == unix.EINTR:
					return true
				case err != nil:
					if moved == 0 && (err == unix.EINVAL || err == unix.ENOSYS) {
						err = errors.ErrUnsupported
					}
					serr = err
				case m == 0:
					serr = io.ErrUnexpectedEOF
				default:
					moved += m
				}
				return true
			})
			if werr != nil && serr == nil {
				serr = werr
			}
		}
	})
	if cerr != nil && serr == nil {
		serr = cerr
	}
	if serr != nil && !errors.Is(serr, errors.ErrUnsupported) {
		serr = fmt.Errorf("splice: %w", serr)
	}
	return moved, serr
}
