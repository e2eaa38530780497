package scan

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// fixedNow pins the clock of test scans.
func fixedNow() time.Time { return time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC) }

// testImage is the i-th of a family of small images that differ in what
// they carry: users, secrets, packages, wasted bytes.
func testImage(i int) imagetest.Image {
	files := []imagetest.File{
		imagetest.Dir("etc/"),
		imagetest.Reg("etc/os-release", "ID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n"),
		imagetest.Reg("etc/passwd", fmt.Sprintf("root:x:0:0:root:/root:/bin/sh\napp%d:x:%d:%d::/home/app:/bin/sh\n", i, 1000+i, 1000+i)),
		imagetest.Reg("etc/group", fmt.Sprintf("root:x:0:\napp%d:x:%d:\n", i, 1000+i)),
	}
	app := []imagetest.File{
		imagetest.Dir("app/"),
		imagetest.Reg(fmt.Sprintf("app/main%d.sh", i), "#!/bin/sh\necho hello\n"),
	}
	if i%2 == 0 {
		app = append(app, imagetest.Reg("app/.env", fmt.Sprintf("GITHUB_TOKEN=ghp_%036d\n", i)))
	}
	if i%3 == 0 {
		app = append(app, imagetest.File{Name: "app/big.bin", Size: 2 << 20})
	}
	layers := []imagetest.Layer{
		{Compression: imagetest.Gzip, CreatedBy: "ADD rootfs /", Files: files},
		{Compression: imagetest.Gzip, CreatedBy: fmt.Sprintf("COPY app%d /app", i), Files: app},
	}
	if i%3 == 0 {
		layers = append(layers, imagetest.Layer{CreatedBy: "RUN rm /app/big.bin", Files: []imagetest.File{imagetest.Whiteout("app/big.bin")}})
	}
	user := fmt.Sprintf("app%d", i)
	if i%4 == 1 {
		user = "root"
	}
	return imagetest.Image{
		RepoTag: fmt.Sprintf("shipshape.test/app%d:1.0", i),
		Layers:  layers,
		Config:  imagetest.ConfigOptions{User: user, Cmd: []string{"/app/main.sh"}},
	}
}

// normalise drops what legitimately differs between two scans of the same
// image: cache hits.
func normalise(t *testing.T, r *scorecard.Report) string {
	t.Helper()
	for i := range r.Image.Layers {
		r.Image.Layers[i].Cached = false
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestConcurrentScans runs 8 scans of different images at once through one
// Scanner and expects the reports of 8 scans run one after another. Run it
// with -race: a Scanner keeps no per-scan state.
func TestConcurrentScans(t *testing.T) {
	const n = 8
	dir := t.TempDir()
	refs := make([]string, n)
	for i := range refs {
		p := filepath.Join(dir, fmt.Sprintf("app%d.tar", i))
		testImage(i).WriteDockerArchive(t, p, i%2 == 0)
		refs[i] = "docker-archive:" + p
	}
	newScanner := func() *Scanner {
		s, err := New(Options{CacheDir: t.TempDir(), DBDir: t.TempDir(), Now: fixedNow, ToolVersion: "test"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	ctx := context.Background()
	want := make([]string, n)
	seq := newScanner()
	for i, ref := range refs {
		r, err := seq.Scan(ctx, ref, nil)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		want[i] = normalise(t, r)
	}
	// The images differ, so the reports must too: a scanner that mixed
	// them up could not pass otherwise.
	if want[0] == want[1] {
		t.Fatal("two different images gave the same report")
	}
	if !strings.Contains(want[0], "SS-P1-") || strings.Contains(want[1], "SS-P1-") {
		t.Fatalf("the secret planted in image 0 (and only there) is not reported")
	}
	par := newScanner()
	got := make([]string, n)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, ref := range refs {
		wg.Go(func() {
			r, err := par.Scan(ctx, ref, nil)
			if err != nil {
				errs[i] = err
				return
			}
			got[i] = normalise(t, r)
		})
	}
	wg.Wait()
	for i := range refs {
		if errs[i] != nil {
			t.Errorf("%s: %v", refs[i], errs[i])
			continue
		}
		if got[i] != want[i] {
			t.Errorf("%s: the concurrent report differs from the sequential one\nconcurrent: %s\nsequential: %s", refs[i], got[i], want[i])
		}
	}
	// A warm re-scan (every layer cached) gives the same reports again.
	for i, ref := range refs {
		r, err := par.Scan(ctx, ref, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := normalise(t, r); got != want[i] {
			t.Errorf("%s: the cached re-scan differs", ref)
		}
	}
}

func TestOffline(t *testing.T) {
	s, err := New(Options{CacheDir: t.TempDir(), DBDir: t.TempDir(), Offline: true, Analyzers: []string{Waste}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, ref := range []string{"docker://registry.example/app:1", "registry:registry.example/app:1"} {
		_, err := s.Scan(context.Background(), ref, nil)
		if err == nil || !strings.Contains(err.Error(), "offline") || !strings.Contains(err.Error(), "local transport") {
			t.Errorf("offline scan of %s: %v, want a refusal naming the local transports", ref, err)
		}
	}
	// A bare name is looked up in the local Engine only, never in a
	// registry: the error names the daemon and nothing else.
	_, err = s.Scan(context.Background(), "no-such-image-shipshape:1", nil)
	if err == nil || strings.Contains(err.Error(), "registry") {
		t.Errorf("offline scan of a bare name: %v, want a daemon-only error", err)
	}
}

// networkAnalyzer needs the network.
type networkAnalyzer struct{ analyze.NoFiles }

func (networkAnalyzer) Name() string    { return "net" }
func (networkAnalyzer) Version() string { return "1" }
func (networkAnalyzer) Finish(context.Context, *analyze.Input) (*analyze.Output, error) {
	return &analyze.Output{Coverage: []scorecard.Coverage{{Practice: scorecard.P6, Ran: true}}}, nil
}
func (networkAnalyzer) Needs() analyze.Needs            { return analyze.Needs{Network: true} }
func (networkAnalyzer) Practices() []scorecard.Practice { return []scorecard.Practice{scorecard.P6} }

func TestFilterNeeds(t *testing.T) {
	as := []analyze.Analyzer{networkAnalyzer{}}
	kept, skipped := filterNeeds(as, false)
	if len(kept) != 1 || len(skipped) != 0 {
		t.Errorf("online: kept %d, skipped %v", len(kept), skipped)
	}
	kept, skipped = filterNeeds(as, true)
	if len(kept) != 0 || len(skipped) != 1 || skipped[0].Practice != scorecard.P6 || skipped[0].Ran ||
		!strings.Contains(skipped[0].Reason, "--offline") {
		t.Errorf("offline: kept %d, skipped %+v", len(kept), skipped)
	}
	res := scorecard.Evaluate(nil, skipped)
	for _, p := range res {
		if p.ID == scorecard.P6 && p.Status != scorecard.NotRun {
			t.Errorf("P6 offline is %s, want not-run", p.Status)
		}
	}
}

func TestUnknownAnalyzer(t *testing.T) {
	if _, err := New(Options{CacheDir: t.TempDir(), Analyzers: []string{"nope"}}); err == nil {
		t.Error("an unknown analyzer name was accepted")
	}
}

// recordingStore is a shared layer cache in memory that keeps every value
// put in it.
type recordingStore struct {
	mu     sync.Mutex
	values map[string][]byte
}

func (s *recordingStore) Get(key string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.values[key]
	return b, ok
}

func (s *recordingStore) Put(key string, b []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values[key] = b
	return nil
}

// TestArchiveIndexStaysLocal scans a gzip docker-save archive whose config
// holds a secret through a Scanner whose layer results go to a shared
// store: the layer results reach it, the archive's index (the config as
// it is) does not, and a re-scan still opens from the local index.
func TestArchiveIndexStaysLocal(t *testing.T) {
	const secret = "AKIA" + "Q3EGRV5WJXN7ZK2P"
	img := testImage(0)
	img.Config.Env = []string{"AWS_ACCESS_KEY_ID=" + secret}
	p := filepath.Join(t.TempDir(), "app.tar.gz")
	imagetest.DockerArchive{Images: []imagetest.Image{img}, Compression: imagetest.Gzip}.WriteArchive(t, p)
	local := t.TempDir()
	s, err := New(Options{CacheDir: local, DBDir: t.TempDir(), Now: fixedNow, ToolVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	shared := &recordingStore{values: map[string][]byte{}}
	fleet := s.WithLayerCache(shared)
	for range 2 {
		// The second scan, with a tiny --max-archive-bytes, opens from the
		// local index without inflating.
		r, err := fleet.Scan(context.Background(), "docker-archive:"+p, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(normalise(t, r), "AWS_ACCESS_KEY_ID") {
			t.Fatal("the secret in the config's Env is not reported")
		}
		fleet.opts.MaxArchiveBytes = 1000
	}
	if len(shared.values) == 0 {
		t.Fatal("no layer result reached the shared store")
	}
	for key, b := range shared.values {
		if holds(b, secret) {
			t.Errorf("the shared store's entry %s holds the config: %.300s", key, b)
		}
	}
}

// holds tells whether b holds s: as it is, or in a base64 string of a JSON
// document (how encoding/json writes bytes).
func holds(b []byte, s string) bool {
	if strings.Contains(string(b), s) {
		return true
	}
	var doc any
	if json.Unmarshal(b, &doc) != nil {
		return false
	}
	var walk func(v any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case string:
			d, err := base64.StdEncoding.DecodeString(v)
			return err == nil && strings.Contains(string(d), s)
		case map[string]any:
			for _, e := range v {
				if walk(e) {
					return true
				}
			}
		case []any:
			for _, e := range v {
				if walk(e) {
					return true
				}
			}
		}
		return false
	}
	return walk(doc)
}
