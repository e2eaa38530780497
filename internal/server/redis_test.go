package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/shipshape-dev/shipshape/internal/server"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// startRedis runs Debian's redis-server on a free loopback port for the
// test, without persistence, and returns its URL and a client.
func startRedis(t testing.TB) (string, *redis.Client, *exec.Cmd) {
	t.Helper()
	return startRedisWith(t, "--save", "", "--appendonly", "no", "--dir", t.TempDir())
}

// startRedisWith is startRedis with the persistence arguments given.
func startRedisWith(t testing.TB, persistence ...string) (string, *redis.Client, *exec.Cmd) {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if _, serr := os.Stat("/usr/bin/redis-server"); serr == nil {
			bin, err = "/usr/bin/redis-server", nil
		}
	}
	testenv.Require(t, "redis-server (Debian package redis-server)", err)
	for attempt := 0; attempt < 3; attempt++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		cmd := exec.Command(bin, append([]string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1"}, persistence...)...)
		if err := cmd.Start(); err != nil {
			testenv.Require(t, "redis-server", err)
		}
		url := fmt.Sprintf("redis://127.0.0.1:%d/0", port)
		opt, _ := redis.ParseURL(url)
		c := redis.NewClient(opt)
		for i := 0; i < 100; i++ {
			if c.Ping(context.Background()).Err() == nil {
				t.Cleanup(func() {
					c.Close()
					if cmd.ProcessState == nil {
						cmd.Process.Kill()
						cmd.Wait()
					}
				})
				return url, c, cmd
			}
			time.Sleep(50 * time.Millisecond)
		}
		c.Close()
		cmd.Process.Kill()
		cmd.Wait()
	}
	testenv.Require(t, "redis-server", errors.New("did not answer PING on a free port in 3 attempts"))
	return "", nil, nil
}

func metric(t *testing.T, ts *testServer, name string) string {
	t.Helper()
	_, _, b := ts.do(t, "GET", "/metrics", nil, nil)
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), name+" ") {
			return strings.TrimPrefix(sc.Text(), name+" ")
		}
	}
	return "0"
}

// Two replicas on one Redis: scans sent to one are run by either, each
// exactly once, and either serves every status and report.
func TestRedisReplicas(t *testing.T) {
	url, rc, _ := startRedis(t)
	host := testenv.Registry(t)
	base := alpineBase(t)
	const images = 6
	for i := range images {
		pushApp(t, base, host, fmt.Sprintf("fleet/app%d:1", i), i)
	}
	dbDir := makeDB(t)
	replica := func(name string) *testServer {
		return newServer(t, dbDir, "", func(c *server.Config) {
			c.RedisURL, c.Replica, c.Workers, c.Lease = url, name, 1, 3*time.Second
		})
	}
	a, b := replica("a"), replica("b")
	var ids []string
	for i := range images {
		ids = append(ids, a.submit(t, fmt.Sprintf(`{"image":"docker://%s/fleet/app%d:1"}`, host, i)))
	}
	ids = append(ids, a.submit(t, fmt.Sprintf(`{"image":"docker://%s/fleet/app0:1","credentials":{"username":"robot","password":%q}}`, host, secretPassword)))
	for _, id := range ids {
		if st := b.wait(t, id, 2*time.Minute); st.Status != server.StatusDone {
			t.Fatalf("scan %s: %+v", id, st)
		}
		_, _, ra := a.do(t, "GET", "/v1/scans/"+id+"/report", nil, nil)
		code, _, rb := b.do(t, "GET", "/v1/scans/"+id+"/report", nil, nil)
		if code != 200 || !reflect.DeepEqual(normalise(t, ra), normalise(t, rb)) {
			t.Errorf("report of %s from replica b: %d %.200s", id, code, rb)
		}
		code, _, sb := b.do(t, "GET", "/v1/scans/"+id+"/report?format=cyclonedx", nil, nil)
		if code != 200 || !strings.Contains(string(sb), "libcrypto3") {
			t.Errorf("SBOM of %s from replica b: %d %.200s", id, code, sb)
		}
	}
	ran := 0
	for _, r := range []*testServer{a, b} {
		var n int
		fmt.Sscan(metric(t, r, `shipshape_scans_total{result="ok"}`), &n)
		ran += n
	}
	if ran != len(ids) {
		t.Errorf("%d scans ran for %d jobs; want each exactly once", ran, len(ids))
	}
	// The layer cache is shared: the base and each app layer were
	// analysed once by the two replicas together.
	misses := 0
	for _, r := range []*testServer{a, b} {
		var n int
		fmt.Sscan(metric(t, r, `shipshape_shared_layer_cache_total{result="miss"}`), &n)
		misses += n
	}
	if misses != images+1 {
		t.Errorf("%d layer cache misses in the fleet, want %d (the base once, each app layer once)", misses, images+1)
	}
	if n := rc.LLen(context.Background(), "shipshape:queue").Val() + rc.LLen(context.Background(), "shipshape:processing").Val(); n != 0 {
		t.Errorf("%d jobs left in the queues", n)
	}
	keys, _ := rc.Keys(context.Background(), "*").Result()
	for _, k := range keys {
		if v, _ := rc.Dump(context.Background(), k).Result(); strings.Contains(v, secretPassword) {
			t.Errorf("the password is in Redis key %s", k)
		}
	}
}

// A replica that claimed a scan and died (its lease expires): another
// replica takes the scan over and finishes it; a live lease is respected.
func TestRedisLeaseExpiry(t *testing.T) {
	url, rc, _ := startRedis(t)
	host := testenv.Registry(t)
	pushApp(t, alpineBase(t), host, "team/app:1", 1)
	ctx := context.Background()
	id := "0123456789abcdef0123456789abcdef"
	// What a replica "ghost" leaves behind when it dies mid-scan.
	rc.HSet(ctx, "shipshape:job:"+id, "image", "docker://"+host+"/team/app:1", "status", "running", "attempts", 1, "replica", "ghost", "createdAt", time.Now().UTC().Format(time.RFC3339Nano))
	rc.LPush(ctx, "shipshape:processing", id)
	rc.Set(ctx, "shipshape:lease:"+id, "ghost", 1500*time.Millisecond)

	b := newServer(t, makeDB(t), "", func(c *server.Config) { c.RedisURL, c.Replica, c.Lease = url, "b", 600*time.Millisecond })
	time.Sleep(700 * time.Millisecond)
	if r, n := rc.HGet(ctx, "shipshape:job:"+id, "replica").Val(), rc.HGet(ctx, "shipshape:job:"+id, "attempts").Val(); r != "ghost" || n != "1" {
		t.Errorf("a live lease was not respected: replica %q, attempts %s", r, n)
	}
	st := b.wait(t, id, time.Minute)
	if st.Status != server.StatusDone {
		t.Fatalf("abandoned scan: %+v", st)
	}
	if r, n := rc.HGet(ctx, "shipshape:job:"+id, "replica").Val(), rc.HGet(ctx, "shipshape:job:"+id, "attempts").Val(); r != "b" || n != "2" {
		t.Errorf("finished by %q after %s claims, want b after 2", r, n)
	}
	if !strings.Contains(b.Log.String(), "requeued jobs of a replica that stopped") {
		t.Error("no log of the requeue")
	}
}

// SIGTERM with Redis: a running shared scan goes back to the queue for
// another replica instead of failing.
func TestRedisShutdownHandsBack(t *testing.T) {
	url, rc, _ := startRedis(t)
	hang := hangingRegistry(t)
	a := newServer(t, makeDB(t), "", func(c *server.Config) { c.RedisURL, c.Replica, c.Workers = url, "a", 1 })
	id := a.submit(t, fmt.Sprintf(`{"image":"docker://%s/team/app:1"}`, hang))
	for i := 0; ; i++ {
		if rc.HGet(context.Background(), "shipshape:job:"+id, "status").Val() == "running" {
			break
		}
		if i > 100 {
			t.Fatal("never claimed")
		}
		time.Sleep(50 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	a.Shutdown(ctx)
	if st := rc.HGet(context.Background(), "shipshape:job:"+id, "status").Val(); st != "queued" {
		t.Errorf("after shutdown the scan is %q, want queued", st)
	}
	if q := rc.LRange(context.Background(), "shipshape:queue", 0, -1).Val(); !reflect.DeepEqual(q, []string{id}) {
		t.Errorf("queue %v, want [%s]", q, id)
	}
}

func TestRedisUnreachable(t *testing.T) {
	url, _, cmd := startRedis(t)
	ts := newServer(t, makeDB(t), "", func(c *server.Config) { c.RedisURL = url })
	cmd.Process.Kill()
	cmd.Wait()
	code, _, b := ts.do(t, "GET", "/readyz", nil, nil)
	if code != 503 || !strings.Contains(string(b), "Redis") {
		t.Errorf("readyz with Redis down: %d %s", code, b)
	}
	code, _, b = ts.do(t, "POST", "/v1/scans", []byte(`{"image":"docker://127.0.0.1:1/a:1"}`), nil)
	if code != 503 || !strings.Contains(string(b), "Redis") {
		t.Errorf("scan with Redis down: %d %s", code, b)
	}
	if _, err := server.New(server.Config{Scanner: ts.Scanner, RedisURL: "redis://127.0.0.1:1/0"}); err == nil || !strings.Contains(err.Error(), "--redis") {
		t.Errorf("New with no Redis: %v", err)
	}
}

// Redis restarts (from its append-only file) while replicas have scans
// queued: they reconnect and every scan finishes.
func TestRedisRestart(t *testing.T) {
	dir := t.TempDir()
	url, rc, cmd := startRedisWith(t, "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", dir)
	host := testenv.Registry(t)
	base := alpineBase(t)
	const images = 6
	for i := range images {
		pushApp(t, base, host, fmt.Sprintf("fleet/app%d:1", i), i)
	}
	a := newServer(t, makeDB(t), "", func(c *server.Config) {
		c.RedisURL, c.Replica, c.Workers, c.ScanTimeout = url, "a", 1, 1500*time.Millisecond
	})
	// The one worker is kept busy by a registry that never answers, so
	// the scans are still queued when Redis goes down.
	busy := a.submit(t, fmt.Sprintf(`{"image":"docker://%s/team/app:1"}`, hangingRegistry(t)))
	for i := 0; rc.HGet(context.Background(), "shipshape:job:"+busy, "status").Val() != "running"; i++ {
		if i > 100 {
			t.Fatal("the first scan was never claimed")
		}
		time.Sleep(20 * time.Millisecond)
	}
	var ids []string
	for i := range images {
		ids = append(ids, a.submit(t, fmt.Sprintf(`{"image":"docker://%s/fleet/app%d:1"}`, host, i)))
	}
	if n := rc.LLen(context.Background(), "shipshape:queue").Val(); n != images {
		t.Fatalf("%d scans queued before the restart, want %d", n, images)
	}
	// Restart Redis on the same port and data directory.
	cmd.Process.Kill()
	cmd.Wait()
	port := strings.TrimPrefix(strings.TrimSuffix(url, "/0"), "redis://127.0.0.1:")
	again := exec.Command(cmd.Path, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--appendfsync", "always", "--dir", dir)
	if err := again.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { again.Process.Kill(); again.Wait() })
	for i := 0; rc.Ping(context.Background()).Err() != nil; i++ {
		if i > 100 {
			t.Fatal("redis did not come back")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, id := range ids {
		if st := a.wait(t, id, 2*time.Minute); st.Status != server.StatusDone {
			t.Errorf("scan %s after a Redis restart: %+v", id, st)
		}
	}
	if st := a.wait(t, busy, time.Minute); st.Status != server.StatusFailed || !strings.Contains(st.Error, "took longer than") {
		t.Errorf("the scan running during the restart: %+v", st)
	}
}
