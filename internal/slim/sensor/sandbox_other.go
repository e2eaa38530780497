//go:build !linux

package sensor

func enterSandbox(root string) error { return errUnsupported }
