package server_test

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/cli"
)

// TestMain lets the test binary act as the shipshape command, so that the
// fleet test runs replicas as separate processes it can SIGKILL.
func TestMain(m *testing.M) {
	if os.Getenv("SHIPSHAPE_TEST_AS_CLI") == "1" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	os.Exit(m.Run())
}
