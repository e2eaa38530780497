//go:build linux

package sensor

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// enterSandbox prepares root — an unpacked image, in new user, mount and
// PID namespaces the caller created — and chroots into it: /proc is
// mounted and the usual device nodes are bind-mounted from the host.
func enterSandbox(root string) error {
	for _, d := range []string{"proc", "dev"} {
		p := filepath.Join(root, d)
		fi, err := os.Lstat(p)
		switch {
		case os.IsNotExist(err):
			if err := os.Mkdir(p, 0o755); err != nil {
				return fmt.Errorf("sandbox: %w", err)
			}
		case err != nil:
			return fmt.Errorf("sandbox: %w", err)
		case !fi.IsDir():
			return fmt.Errorf("sandbox: the image's /%s is not a directory", d)
		}
	}
	if err := syscall.Mount("proc", filepath.Join(root, "proc"), "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("sandbox: mounting /proc: %w", err)
	}
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		dst := filepath.Join(root, "dev", d)
		f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|syscall.O_NOFOLLOW, 0o666)
		if err != nil {
			continue // a link or something odd: leave it alone
		}
		f.Close()
		syscall.Mount("/dev/"+d, dst, "", syscall.MS_BIND, "")
	}
	if err := syscall.Chroot(root); err != nil {
		return fmt.Errorf("sandbox: chroot %s: %w", root, err)
	}
	return os.Chdir("/")
}
