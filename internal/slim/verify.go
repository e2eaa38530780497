package slim

import (
	"errors"
	"fmt"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/slim/build"
	"github.com/shipshape-dev/shipshape/internal/slim/probe"
)

// ErrNoProbeAnswered is returned (as a *NoAnswerError) when no probe
// succeeded on the original image: what the application needs cannot be
// known from a run in which it was never seen working, and a verification
// would compare two failures. Nothing is written.
var ErrNoProbeAnswered = errors.New("no probe succeeded on the original image")

// NoAnswerError lists the probes of the traced run and why each failed.
type NoAnswerError struct {
	Image  string
	Probes []probe.Result
}

func (e *NoAnswerError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v %s; nothing was written", ErrNoProbeAnswered, e.Image)
	if len(e.Probes) == 0 {
		b.WriteString(":\n  no probe ran (no exposed TCP port, no --exec, no --probe-script) and the main process neither exited within 30s nor was watched with --duration")
	}
	for _, p := range e.Probes {
		fmt.Fprintf(&b, ":\n  %s: %s", p.Key(), p.Failure())
	}
	b.WriteString("\nTell slim how to see the application work:" +
		"\n  --http-probe-path PATH    a path that answers (an HTTP status below 500) on an exposed port" +
		"\n  --exec \"CMD ARGS\"         a command run inside the container that exits 0" +
		"\n  --probe-script FILE       a host script that exercises the app and exits 0" +
		"\n  --no-http-probe --duration 20s   for an application without a port: it must keep running (or exit 0)")
	return b.String()
}

// Is makes errors.Is(err, ErrNoProbeAnswered) true.
func (e *NoAnswerError) Is(target error) bool { return target == ErrNoProbeAnswered }

// NotVerifiedError is returned when the slimmed image did not behave like
// the original; Differences lists every way it differed.
type NotVerifiedError struct {
	Differences []string
}

func (e *NotVerifiedError) Error() string {
	return fmt.Sprintf("%v; the original image is unchanged and nothing was written:\n  %s", ErrVerify, strings.Join(e.Differences, "\n  "))
}

// Is makes errors.Is(err, ErrVerify) true.
func (e *NotVerifiedError) Is(target error) bool { return target == ErrVerify }

// requireAnswer fails unless at least one probe of the traced run
// succeeded.
func requireAnswer(o Options, probes []probe.Result) error {
	for _, p := range probes {
		if p.Succeeded() {
			return nil
		}
	}
	return &NoAnswerError{Image: o.Image, Probes: probes}
}

// compare turns the probes of both runs into the verification: every
// difference, and how many probes were proven equal.
func compare(before, after []probe.Result, logs string, seccomp bool) *Verify {
	v := &Verify{Probes: after, Differences: probe.Compare(before, after), Seccomp: seccomp, Answered: probe.Answered(before, after)}
	if len(v.Differences) == 0 && v.Answered == 0 {
		v.Differences = []string{"no probe that succeeded on the original succeeded on the slimmed image"}
	}
	if len(v.Differences) > 0 && logs != "" {
		v.Differences = append(v.Differences, "slimmed container output: "+logs)
	}
	v.OK = len(v.Differences) == 0
	return v
}

// baseOf reads the base image an image's manifest annotations name, so
// that the slimmed image keeps it.
func baseOf(img *image.Image) build.Base {
	if img == nil || img.Manifest == nil {
		return build.Base{}
	}
	a := img.Manifest.Annotations
	return build.Base{Name: a[build.BaseNameKey], Digest: a[build.BaseDigestKey]}
}
