//go:build linux

package sensor

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fanotify records the files opened or executed on the mount holding "/"
// by any process, including opens ptrace cannot see (the interpreter of a
// script the kernel starts). It needs CAP_SYS_ADMIN, which containers
// normally lack; then it reports why it is off and ptrace alone is used.
type fanotify struct {
	mu    sync.Mutex
	paths set
}

func startFanotify() (*fanotify, string) {
	fd, err := unix.FanotifyInit(unix.FAN_CLASS_NOTIF|unix.FAN_CLOEXEC, unix.O_RDONLY|unix.O_LARGEFILE|unix.O_CLOEXEC)
	if err != nil {
		return nil, fmt.Sprintf("off: fanotify_init: %v", err)
	}
	mask := uint64(unix.FAN_OPEN | unix.FAN_OPEN_EXEC)
	if err := unix.FanotifyMark(fd, unix.FAN_MARK_ADD|unix.FAN_MARK_MOUNT, mask, unix.AT_FDCWD, "/"); err != nil {
		mask = unix.FAN_OPEN // kernels before 5.0 lack FAN_OPEN_EXEC
		if err := unix.FanotifyMark(fd, unix.FAN_MARK_ADD|unix.FAN_MARK_MOUNT, mask, unix.AT_FDCWD, "/"); err != nil {
			unix.Close(fd)
			return nil, fmt.Sprintf("off: fanotify_mark: %v", err)
		}
	}
	f := &fanotify{paths: set{}}
	go f.read(fd)
	return f, "on"
}

func (f *fanotify) read(fd int) {
	self := int32(os.Getpid())
	buf := make([]byte, 64<<10)
	size := int(unsafe.Sizeof(unix.FanotifyEventMetadata{}))
	for {
		n, err := unix.Read(fd, buf)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			return
		}
		for off := 0; off+size <= n; {
			ev := (*unix.FanotifyEventMetadata)(unsafe.Pointer(&buf[off]))
			if ev.Event_len < uint32(size) {
				break
			}
			if ev.Fd >= 0 {
				if ev.Pid != self {
					if p, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", ev.Fd)); err == nil && strings.HasPrefix(p, "/") {
						f.mu.Lock()
						f.paths.add(p)
						f.mu.Unlock()
					}
				}
				unix.Close(int(ev.Fd))
			}
			off += int(ev.Event_len)
		}
	}
}

// seen returns the paths recorded so far.
func (f *fanotify) seen() []string {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.paths.sorted()
}
