package analyze_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/cache"
	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// recorder wants files under a prefix, up to limit bytes, and records a
// hash of what it received per layer as its facts.
type recorder struct {
	name   string
	prefix string
	limit  int64
	mu     sync.Mutex
	calls  int
	finish *analyze.Input
}

func (r *recorder) Name() string    { return r.name }
func (r *recorder) Version() string { return "1" }
func (r *recorder) Wants(e *fstree.Entry) (bool, int64) {
	return strings.HasPrefix(e.Path(), r.prefix), r.limit
}
func (r *recorder) NewLayer(*image.Layer) analyze.LayerScanner {
	return &recLayer{r: r, seen: map[string]string{}}
}
func (r *recorder) Finish(_ context.Context, in *analyze.Input) (*analyze.Output, error) {
	r.finish = in
	out := &analyze.Output{Coverage: []scorecard.Coverage{{Practice: scorecard.P7, Ran: true}}}
	for _, l := range in.Tree.Layers() {
		for _, e := range l.All() {
			if e.Path() == "/app/secret" && e.Type == fstree.Regular && r.name == "whole" {
				f := scorecard.Finding{Practice: scorecard.P7, Rule: "T-1", Severity: scorecard.High}
				in.Locate(&f, e)
				out.Findings = append(out.Findings, f)
			}
		}
	}
	return out, nil
}

type recLayer struct {
	r    *recorder
	seen map[string]string
}

func (l *recLayer) File(_ context.Context, e *fstree.Entry, rd io.Reader) error {
	l.r.mu.Lock()
	l.r.calls++
	l.r.mu.Unlock()
	h := sha256.New()
	n, err := io.Copy(h, rd)
	l.seen[e.Path()] = hex.EncodeToString(h.Sum(nil))[:12] + ":" + itoa(n)
	return err
}
func (l *recLayer) Facts() (json.RawMessage, error) { return json.Marshal(l.seen) }

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func testImage(t *testing.T) *image.Image {
	t.Helper()
	big := strings.Repeat("0123456789", 1_000_000) // 10 MB: above the buffering threshold
	img := imagetest.Image{RepoTag: "t/t:1", Layers: []imagetest.Layer{
		{Files: []imagetest.File{imagetest.Dir("app/"), imagetest.Reg("app/secret", "s3cret"), imagetest.Reg("app/big", big), imagetest.Reg("etc/x", "x")}},
		{Compression: imagetest.Gzip, CreatedBy: "RUN rm /app/secret", Files: []imagetest.File{imagetest.Whiteout("app/secret"), imagetest.Reg("app/new", "new")}},
	}}
	p := filepath.Join(t.TempDir(), "img.tar")
	img.WriteDockerArchive(t, p, false)
	opened, err := image.Open(context.Background(), "docker-archive:"+p, image.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { opened.Close() })
	return opened
}

func facts(t *testing.T, raw json.RawMessage) map[string]string {
	var m map[string]string
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRunDispatchesOnceAndCaches(t *testing.T) {
	img := testImage(t)
	whole := &recorder{name: "whole", prefix: "/app/"}
	head := &recorder{name: "head", prefix: "/app/", limit: 4}
	c, err := cache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	res, err := analyze.Run(context.Background(), img, []analyze.Analyzer{whole, head}, analyze.Options{Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	w1, h1 := facts(t, whole.finish.Facts[0]), facts(t, head.finish.Facts[0])
	if !strings.HasSuffix(w1["/app/big"], ":10000000") || !strings.HasSuffix(h1["/app/big"], ":4") {
		t.Errorf("big file: whole got %s, head got %s", w1["/app/big"], h1["/app/big"])
	}
	if !strings.HasSuffix(w1["/app/secret"], ":6") || !strings.HasSuffix(h1["/app/secret"], ":4") {
		t.Errorf("small file: whole got %s, head got %s", w1["/app/secret"], h1["/app/secret"])
	}
	if _, ok := w1["/etc/x"]; ok {
		t.Error("a file nobody wanted was delivered")
	}
	if len(res.Findings) != 1 || res.Findings[0].Layer != 1 || res.Findings[0].RemovedInLayer != 2 || *res.Findings[0].InFinalImage {
		t.Errorf("findings = %+v", res.Findings)
	}
	if res.Findings[0].LayerDiffID != img.Layers[0].DiffID.String() {
		t.Errorf("diffID %s", res.Findings[0].LayerDiffID)
	}

	// A second run takes every layer from the cache: no file is delivered,
	// and the analyzers finish on the same facts.
	calls := whole.calls
	res2, err := analyze.Run(context.Background(), img, []analyze.Analyzer{whole, head}, analyze.Options{Cache: c})
	if err != nil {
		t.Fatal(err)
	}
	if whole.calls != calls {
		t.Errorf("cached run delivered %d files", whole.calls-calls)
	}
	for i, st := range res2.Layers {
		if !st.Cached {
			t.Errorf("layer %d not cached", i+1)
		}
	}
	if string(whole.finish.Facts[0]) != string(mustJSON(w1)) || len(res2.Findings) != 1 || res2.Findings[0].RemovedInLayer != 2 {
		t.Errorf("cached run differs: facts %s findings %+v", whole.finish.Facts[0], res2.Findings)
	}

	// Skip keeps content away from every analyzer.
	skipped := &recorder{name: "skip", prefix: "/app/"}
	if _, err := analyze.Run(context.Background(), img, []analyze.Analyzer{skipped}, analyze.Options{Skip: func(p string) bool { return p == "/app/big" }}); err != nil {
		t.Fatal(err)
	}
	if _, ok := facts(t, skipped.finish.Facts[0])["/app/big"]; ok {
		t.Error("skipped path delivered")
	}
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }

func TestRunReportsLayerErrors(t *testing.T) {
	img := testImage(t)
	img.Layers[1].DiffID.Hex = strings.Repeat("0", 64)
	_, err := analyze.Run(context.Background(), img, []analyze.Analyzer{&recorder{name: "r", prefix: "/"}}, analyze.Options{})
	if err == nil || !strings.Contains(err.Error(), "layer 2") || !strings.Contains(err.Error(), "diffID mismatch") {
		t.Errorf("err = %v", err)
	}
}

// revealer reports the history line of layer 1 as a secret value, as the
// secret analyzer does for a build-arg it recognises, without changing it.
type revealer struct{ recorder }

func (r *revealer) Finish(_ context.Context, in *analyze.Input) (*analyze.Output, error) {
	return &analyze.Output{Redact: []string{in.Image.Layers[0].CreatedBy}}, nil
}

// TestRunCollectsRedactions: Run gathers the values analyzers want hidden
// and changes nothing itself — neither the image nor any finding; the scan
// pipeline (internal/scan) hides them in the report it builds.
func TestRunCollectsRedactions(t *testing.T) {
	img := testImage(t)
	line := "RUN |1 TOKEN=0123456789abcdef sh -c make"
	img.Layers[0].CreatedBy = line
	first := &recorder{name: "whole", prefix: "/app/"}
	res, err := analyze.Run(context.Background(), img, []analyze.Analyzer{first, &revealer{recorder{name: "rv"}}}, analyze.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if img.Layers[0].CreatedBy != line {
		t.Errorf("Run changed the image's history line to %q", img.Layers[0].CreatedBy)
	}
	if len(res.Redact) != 1 || res.Redact[0] != line {
		t.Errorf("Redact = %q, want the revealer's value", res.Redact)
	}
}
