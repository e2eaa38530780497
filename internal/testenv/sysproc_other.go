//go:build !linux

package testenv

import "syscall"

// sysProcAttr has nothing to add outside Linux: helpers are stopped by the
// tests' cleanups only.
func sysProcAttr() *syscall.SysProcAttr { return nil }
