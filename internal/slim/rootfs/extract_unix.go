package rootfs

import "syscall"

const noFollow = syscall.O_NOFOLLOW
