package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// RedisProcess is a redis-server started for one test on a free loopback
// port. It is stopped when the test ends.
type RedisProcess struct {
	// Addr is HOST:PORT; URL is redis://HOST:PORT/0.
	Addr, URL string
	bin       string
	args      []string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Redis starts Debian's redis-server (package redis-server) on a free
// loopback port with the extra arguments (persistence: "--appendonly",
// "yes", "--dir", DIR; without them nothing is saved). It skips the test
// when redis-server is not installed, unless integration is required.
func Redis(t testing.TB, args ...string) *RedisProcess {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if _, serr := os.Stat("/usr/bin/redis-server"); serr == nil {
			bin, err = "/usr/bin/redis-server", nil
		}
	}
	Require(t, "redis-server (Debian package redis-server)", err)
	if len(args) == 0 {
		args = []string{"--save", "", "--appendonly", "no", "--dir", t.TempDir()}
	}
	var last error
	for attempt := 0; attempt < 3; attempt++ {
		addr, err := freeLoopbackAddr()
		if err != nil {
			t.Fatal(err)
		}
		r := &RedisProcess{Addr: addr, URL: "redis://" + addr + "/0", bin: bin, args: args}
		if last = r.start(); last == nil {
			t.Cleanup(r.Kill)
			return r
		}
	}
	Require(t, "redis-server", fmt.Errorf("did not answer PING on a free port in 3 attempts: %w", last))
	return nil
}

func (r *RedisProcess) start() error {
	_, port, _ := net.SplitHostPort(r.Addr)
	cmd := exec.Command(r.bin, append([]string{"--port", port, "--bind", "127.0.0.1"}, r.args...)...)
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if ping(r.Addr) == nil {
			r.mu.Lock()
			r.cmd = cmd
			r.mu.Unlock()
			return nil
		}
		select {
		case <-exited:
			return errors.New("redis-server exited")
		case <-time.After(50 * time.Millisecond):
		}
	}
	cmd.Process.Kill()
	<-exited
	return errors.New("redis-server did not answer PING")
}

// ping sends PING in the Redis protocol.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING: %q", line)
	}
	return nil
}

// Kill stops redis-server at once (SIGKILL).
func (r *RedisProcess) Kill() {
	r.mu.Lock()
	cmd := r.cmd
	r.cmd = nil
	r.mu.Unlock()
	if cmd != nil && cmd.Process != nil {
		cmd.Process.Kill()
		for i := 0; i < 100 && ping(r.Addr) == nil; i++ {
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// Restart kills redis-server and starts it again on the same port and
// arguments (with persistence, from its files).
func (r *RedisProcess) Restart() error {
	r.Kill()
	var err error
	for i := 0; i < 20; i++ {
		if err = r.start(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}
