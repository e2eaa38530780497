package testenv

import "syscall"

// sysProcAttr makes the kernel kill a helper process started for a test
// when the test binary dies without running its cleanups (a timeout panic,
// a kill), so that no registry outlives the run.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
