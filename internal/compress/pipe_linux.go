package compress

import (
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
