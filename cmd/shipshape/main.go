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
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, inv.Args, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
