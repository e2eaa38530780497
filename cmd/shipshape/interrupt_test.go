package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestMain runs the helper process of TestSecondSignal when asked to.
func TestMain(m *testing.M) {
	if os.Getenv("SHIPSHAPE_TEST_SIGNAL_HELPER") == "1" {
		ctx, stop := interruptible()
		defer stop()
		fmt.Println("ready")
		<-ctx.Done()
		fmt.Println("cancelled")
		time.Sleep(time.Minute) // a stop that takes long
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestSecondSignal: the first SIGINT or SIGTERM cancels the context;
// another one ends a process whose stop takes long, by the signal.
func TestSecondSignal(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "SHIPSHAPE_TEST_SIGNAL_HELPER=1")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill()
			lines := bufio.NewScanner(out)
			expect := func(want string) {
				t.Helper()
				if !lines.Scan() || lines.Text() != want {
					t.Fatalf("helper said %q (%v), want %q", lines.Text(), lines.Err(), want)
				}
			}
			expect("ready")
			cmd.Process.Signal(sig)
			expect("cancelled")
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			// The handler is reset just after the context is cancelled: the
			// signal is sent again until the process ends.
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			giveUp := time.After(10 * time.Second)
			for {
				cmd.Process.Signal(sig)
				select {
				case err := <-done:
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						t.Fatalf("after another %s: %v", sig, err)
					}
					if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != sig {
						t.Errorf("after another %s: %v, want the process ended by it", sig, err)
					}
					return
				case <-giveUp:
					t.Fatalf("still running 10s after another %s", sig)
				case <-tick.C:
				}
			}
		})
	}
}
