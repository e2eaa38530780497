//go:build !(linux && amd64)

package sensor

// Trace is not available on this platform.
func Trace(o Options, run bool) (*Report, error) { return nil, errUnsupported }
