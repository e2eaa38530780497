// Command shipshape audits and hardens container images.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/shipshape-dev/shipshape/internal/cli"
)

// softMemoryLimit keeps the garbage collector working before the heap
// doubles, so that peak memory stays near what a scan really holds. It is a
// soft limit: GOMEMLIMIT overrides it, and a scan that needs more gets more.
const softMemoryLimit = 160 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(softMemoryLimit)
	}
	// Run by the Docker CLI as "docker shipshape …": take its global options.
	inv, err := cli.DockerPlugin(os.Args[1:], os.Getenv)
	if err != nil {
		os.Exit(cli.Fail(os.Stderr, err))
	}
	for k, v := range inv.Env {
		os.Setenv(k, v)
	}
	ctx, stop := interruptible()
	code := cli.Main(ctx, inv.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// interruptible is a context that the first SIGINT or SIGTERM cancels:
// the command stops and removes what it wrote. A second one ends the
// process at once (the signal's default action), as a user pressing
// Ctrl-C again expects when the stop takes long.
func interruptible() (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // back to the default action for the next signal
	}()
	return ctx, stop
}
