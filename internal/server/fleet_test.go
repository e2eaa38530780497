package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/redis/go-redis/v9"

	"github.com/shipshape-dev/shipshape/internal/imageout"
	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/server"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// replicaProcess is "shipshape server" run by the test binary as its own
// process.
type replicaProcess struct {
	name string
	cmd  *exec.Cmd
	url  string
	logs *syncBuffer
	dead atomic.Bool
}

func startReplica(t *testing.T, name string, args ...string) *replicaProcess {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	cmd := exec.Command(os.Args[0], append([]string{"server", "--listen", addr, "--replica", name}, args...)...)
	cmd.Env = append(os.Environ(), "SHIPSHAPE_TEST_AS_CLI=1", "SHIPSHAPE_SERVER_TOKEN="+testToken)
	p := &replicaProcess{name: name, cmd: cmd, url: "http://" + addr, logs: &syncBuffer{}}
	cmd.Stderr = p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !p.dead.Load() {
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				<-done
			}
		}
		if t.Failed() {
			t.Logf("replica %s log (tail):\n%s", name, tailOf(p.logs.String(), 3000))
		}
	})
	for i := 0; ; i++ {
		if resp, err := http.Get(p.url + "/healthz"); err == nil {
			resp.Body.Close()
			return p
		}
		if i > 200 {
			t.Fatalf("replica %s did not come up: %s", name, p.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func tailOf(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// peakRSSMiB is a live process's peak resident set (VmHWM).
func peakRSSMiB(pid int) float64 {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(st), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	return 0
}

// kill SIGKILLs the replica.
func (p *replicaProcess) kill() {
	p.dead.Store(true)
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

// call sends one API request; err is a transport error.
func (p *replicaProcess) call(method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, p.url+path, rd)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// fleetImage pushes an image of the given layers plus an app layer of
// its own.
func fleetImage(t testing.TB, host, repo string, n int, bases ...v1.Layer) {
	t.Helper()
	var adds []mutate.Addendum
	for i, b := range bases {
		adds = append(adds, mutate.Addendum{Layer: b, History: v1.History{CreatedBy: fmt.Sprintf("base layer %d", i)}})
	}
	adds = append(adds, mutate.Addendum{Layer: layerOf(t, imagetest.Dir("app/"), imagetest.Reg("app/run", fmt.Sprintf("#!/bin/sh\necho app %d\n", n))), History: v1.History{CreatedBy: "COPY run /app/run"}})
	img, err := mutate.Append(empty.Image, adds...)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.User = "1000:1000"
	cf.Config.Cmd = []string{"/app/run"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	if _, err := imageout.Write(context.Background(), img, "docker://"+host+"/"+repo, imageout.Options{Insecure: true}); err != nil {
		t.Fatalf("push %s: %v", repo, err)
	}
}

// TestFleet: three replica processes on one Redis scan 30 registry images
// sharing base layers, 300 requests. One replica is SIGKILLed mid-run and
// Redis is restarted mid-run. Every scan completes exactly once, each
// report is what a CLI scan of the image says, and each base layer is
// analysed once in the whole fleet.
func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("fleet test: -short")
	}
	rdir := t.TempDir()
	rds := testenv.Redis(t, "--save", "", "--appendonly", "yes", "--appendfsync", "everysec", "--dir", rdir)
	host := testenv.Registry(t)
	opt, _ := redis.ParseURL(rds.URL)
	rc := redis.NewClient(opt)
	defer rc.Close()
	ctx := context.Background()

	const images, requests = 30, 300
	baseOS := alpineBase(t)
	baseRuntime := layerOf(t, imagetest.Dir("usr/"), imagetest.Dir("usr/lib/"), imagetest.Reg("usr/lib/runtime.so", strings.Repeat("runtime ", 4096)))
	var refs []string
	for i := range images {
		bases := []v1.Layer{baseOS}
		if i%2 == 0 {
			bases = append(bases, baseRuntime)
		}
		fleetImage(t, host, fmt.Sprintf("fleet/app%d:1", i), i, bases...)
		refs = append(refs, fmt.Sprintf("docker://%s/fleet/app%d:1", host, i))
	}
	dbDir := makeDB(t)

	// What the CLI says about each image.
	want := make([]map[string]any, images)
	cliCache := t.TempDir()
	for i, ref := range refs {
		want[i] = normalise(t, cliScan(t, "--format", "json", "--insecure", "--cache-dir", cliCache, "--db-dir", dbDir, ref))
	}

	var replicas []*replicaProcess
	for i := range 3 {
		replicas = append(replicas, startReplica(t, fmt.Sprint("r", i), "--insecure", "--workers", "2", "--queue", "400",
			"--redis", rds.URL, "--lease", "2s", "--cache-dir", t.TempDir(), "--db-dir", dbDir, "--timeout", "60s"))
	}
	live := func(i int) *replicaProcess {
		for {
			p := replicas[i%len(replicas)]
			if !p.dead.Load() {
				return p
			}
			i++
		}
	}
	deadline := time.Now().Add(150 * time.Second)

	// Submit the requests, 8 at a time, to the live replicas in turn,
	// retrying while Redis restarts.
	ids := make([]string, requests)
	var idsMu sync.Mutex // the submitters write ids while the watcher reads them
	snapshot := func() []string {
		idsMu.Lock()
		defer idsMu.Unlock()
		return slices.Clone(ids)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				n := int(next.Add(1)) - 1
				if n >= requests {
					return
				}
				body := fmt.Sprintf(`{"image":%q}`, refs[n%images])
				for try := 0; ; try++ {
					code, b, err := live(n+try).call("POST", "/v1/scans", []byte(body))
					if err == nil && code == http.StatusAccepted {
						var a server.ScanAccepted
						json.Unmarshal(b, &a)
						idsMu.Lock()
						ids[n] = a.ID
						idsMu.Unlock()
						break
					}
					if time.Now().After(deadline) {
						t.Errorf("request %d never accepted: %d %s %v", n, code, b, err)
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
	}

	// Watch the scans through Redis; kill a replica and restart Redis on
	// the way.
	done := func() (int, int) {
		d, f := 0, 0
		for _, id := range snapshot() {
			if id == "" {
				continue
			}
			switch rc.HGet(ctx, "shipshape:job:"+id, "status").Val() {
			case server.StatusDone:
				d++
			case server.StatusFailed:
				f++
			}
		}
		return d, f
	}
	start := time.Now()
	killed, restarted := false, false
	var orphans []string // scans r0 held when it was killed
	var rssKilled float64
	for {
		d, f := done()
		if f > 0 {
			for _, id := range snapshot() {
				if id != "" && rc.HGet(ctx, "shipshape:job:"+id, "status").Val() == server.StatusFailed {
					t.Errorf("scan %s failed: %s", id, rc.HGet(ctx, "shipshape:job:"+id, "error").Val())
				}
			}
			t.FailNow()
		}
		if !killed && d >= 60 {
			rssKilled = peakRSSMiB(replicas[0].cmd.Process.Pid)
			running, _ := rc.LLen(ctx, "shipshape:processing").Result()
			for _, k := range rc.Keys(ctx, "shipshape:lease:*").Val() {
				if rc.Get(ctx, k).Val() == "r0" {
					orphans = append(orphans, strings.TrimPrefix(k, "shipshape:lease:"))
				}
			}
			replicas[0].kill()
			killed = true
			t.Logf("%s: %d done; SIGKILLed replica r0 (%d scans were running in the fleet)", time.Since(start).Round(time.Millisecond), d, running)
		}
		if killed && !restarted && d >= 150 {
			if err := rds.Restart(); err != nil {
				t.Fatalf("restarting Redis: %v", err)
			}
			restarted = true
			t.Logf("%s: %d done; restarted Redis", time.Since(start).Round(time.Millisecond), d)
		}
		if d == requests {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %d of %d scans done", time.Since(start), d, requests)
		}
		time.Sleep(200 * time.Millisecond)
	}
	wg.Wait()
	took := time.Since(start)

	// Each scan was recorded once, and its report is the CLI's.
	for n, id := range ids {
		h := rc.HGetAll(ctx, "shipshape:job:"+id).Val()
		if h["finished"] != "1" {
			t.Errorf("scan %s (%s): result recorded %q times, want once (attempts %s)", id, h["image"], h["finished"], h["attempts"])
		}
		code, b, err := live(n).call("GET", "/v1/scans/"+id+"/report", nil)
		if err != nil || code != 200 {
			t.Errorf("report of %s: %d %v %.200s", id, code, err, b)
			continue
		}
		if got := normalise(t, b); !reflect.DeepEqual(got, want[n%images]) {
			g, _ := json.MarshalIndent(got, "", " ")
			w, _ := json.MarshalIndent(want[n%images], "", " ")
			t.Errorf("report of %s differs from the CLI's:\n%.2000s\nwant\n%.2000s", refs[n%images], g, w)
			break
		}
	}
	for _, id := range orphans {
		h := rc.HGetAll(ctx, "shipshape:job:"+id).Val()
		if h["replica"] == "r0" || h["attempts"] < "2" {
			t.Errorf("scan %s held by the killed replica: finished by %s after %s claims", id, h["replica"], h["attempts"])
		}
	}
	t.Logf("%d scans held by r0 when it was killed were finished by the others", len(orphans))
	if n := rc.LLen(ctx, "shipshape:queue").Val() + rc.LLen(ctx, "shipshape:processing").Val(); n != 0 {
		t.Errorf("%d jobs left in the queues", n)
	}

	// Base layers were analysed once in the fleet; app layers once each,
	// but for those the killed replica was reading.
	analysed := rc.HGetAll(ctx, "shipshape:stats:analysed").Val()
	for name, l := range map[string]v1.Layer{"os": baseOS, "runtime": baseRuntime} {
		d, _ := l.DiffID()
		if analysed[d.String()] != "1" {
			t.Errorf("base layer %s analysed %q times in the fleet, want once", name, analysed[d.String()])
		}
	}
	total, twice := 0, 0
	for _, v := range analysed {
		n, _ := strconv.Atoi(v)
		total += n
		if n > 1 {
			twice++
		}
	}
	if len(analysed) != images+2 || twice > 2 {
		t.Errorf("%d layers analysed %d times (%d more than once), want %d layers, at most 2 again after the kill", len(analysed), total, twice, images+2)
	}
	var rss []string
	for _, p := range replicas[1:] {
		rss = append(rss, fmt.Sprintf("%.0f", peakRSSMiB(p.cmd.Process.Pid)))
	}
	t.Logf("%d scans of %d images on 3→2 replicas in %s (%.0f scans/min); layers analysed %d times for %d layers; peak RSS MiB: r0 %.0f (at kill), r1/r2 %s",
		requests, images, took.Round(time.Millisecond), float64(requests)/took.Minutes(), total, len(analysed), rssKilled, strings.Join(rss, "/"))
}
