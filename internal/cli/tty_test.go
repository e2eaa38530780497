//go:build linux

package cli_test

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
)

// openPTY opens a pseudo-terminal of 24 rows by 100 columns: the master
// to read what is written, the slave to give a process as a terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening a pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if err := unix.IoctlSetWinsize(int(s.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 24, Col: 100}); err != nil {
		t.Fatal(err)
	}
	return m, s
}

// TestProgressOnTerminal: on a terminal, scan draws a bar per layer on
// stderr — through the redaction every stderr line passes — and stdout
// (not a terminal here) gets the report alone.
func TestProgressOnTerminal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layout")
	img := imagetest.Image{Layers: []imagetest.Layer{
		{Files: []imagetest.File{imagetest.Dir("etc/"), imagetest.Reg("etc/motd", "hello\n")}},
		{Files: []imagetest.File{imagetest.Reg("etc/issue", "shipshape\n")}},
	}}
	img.WriteOCILayout(t, dir)
	master, slave := openPTY(t)
	cmd := command("scan", "--no-cache", "-f", "json", "oci:"+dir)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, slave
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	slave.Close() // the child holds it; reads end when the child does
	var tty bytes.Buffer
	done := make(chan struct{})
	go func() {
		io.Copy(&tty, master) // ends with EIO once the child is gone
		close(done)
	}()
	err := cmd.Wait()
	<-done
	if err != nil {
		t.Fatalf("scan: %v\nterminal: %q", err, tty.String())
	}
	for _, want := range []string{"layer  1", "layer  2", "done"} {
		if !strings.Contains(tty.String(), want) {
			t.Errorf("terminal shows no %q: %q", want, tty.String())
		}
	}
	if !strings.HasPrefix(strings.TrimSpace(stdout.String()), "{") || strings.Contains(stdout.String(), "layer  1") {
		t.Errorf("stdout is not the report alone: %q", stdout.String())
	}
}
