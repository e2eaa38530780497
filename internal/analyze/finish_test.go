package analyze_test

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// finisher is an analyzer that reads no file; its Finish waits for wait
// (when set), closes done (when set), then reports one coverage line for
// its practice, or panics.
type finisher struct {
	name     string
	practice scorecard.Practice
	wait     <-chan struct{}
	done     chan<- struct{}
	panics   bool
}

func (f *finisher) Name() string                               { return f.name }
func (f *finisher) Version() string                            { return "1" }
func (f *finisher) Wants(*fstree.Entry) (bool, int64)          { return false, 0 }
func (f *finisher) NewLayer(*image.Layer) analyze.LayerScanner { return noFiles{} }
func (f *finisher) Finish(ctx context.Context, _ *analyze.Input) (*analyze.Output, error) {
	if f.wait != nil {
		select {
		case <-f.wait:
		case <-time.After(10 * time.Second):
			return nil, context.DeadlineExceeded
		}
	}
	if f.done != nil {
		close(f.done)
	}
	if f.panics {
		panic("boom")
	}
	return &analyze.Output{Coverage: []scorecard.Coverage{{Practice: f.practice, Ran: true}}}, nil
}

type noFiles struct{}

func (noFiles) File(context.Context, *fstree.Entry, io.Reader) error { return nil }
func (noFiles) Facts() (json.RawMessage, error)                      { return nil, nil }

// TestFinishConcurrent: every analyzer's Finish runs at once, the outputs
// keep the analyzers' order whatever order they end in, and a panic in one
// is the scan's error, naming the analyzer, not a crash.
func TestFinishConcurrent(t *testing.T) {
	img := testImage(t)
	ch := make(chan struct{})
	// The first waits for the second to finish: run one after the other,
	// the first would time out.
	first := &finisher{name: "first", practice: scorecard.P1, wait: ch}
	second := &finisher{name: "second", practice: scorecard.P2, done: ch}
	res, err := analyze.Run(context.Background(), img, []analyze.Analyzer{first, second}, analyze.Options{Parallel: 2})
	if err != nil {
		t.Fatal(err)
	}
	var got []scorecard.Practice
	for _, c := range res.Coverage {
		got = append(got, c.Practice)
	}
	if len(got) != 2 || got[0] != scorecard.P1 || got[1] != scorecard.P2 {
		t.Errorf("coverage order = %v, want [P1 P2] (the analyzers' order)", got)
	}
	if res.Outputs["first"] == nil || res.Outputs["second"] == nil {
		t.Errorf("outputs = %v, want both analyzers'", res.Outputs)
	}

	_, err = analyze.Run(context.Background(), img, []analyze.Analyzer{&finisher{name: "ok", practice: scorecard.P1}, &finisher{name: "crashy", practice: scorecard.P2, panics: true}}, analyze.Options{})
	if err == nil || !strings.Contains(err.Error(), "analyzer crashy") || !strings.Contains(err.Error(), "boom") {
		t.Errorf("a panicking Finish: err = %v, want an error naming analyzer crashy and the panic", err)
	}
}

// panicky wants files under prefix and panics on each.
type panicky struct{ prefix string }

func (p *panicky) Name() string    { return "panicky" }
func (p *panicky) Version() string { return "1" }
func (p *panicky) Wants(e *fstree.Entry) (bool, int64) {
	return strings.HasPrefix(e.Path(), p.prefix), 0
}
func (p *panicky) NewLayer(*image.Layer) analyze.LayerScanner { return panicLayer{} }
func (p *panicky) Finish(context.Context, *analyze.Input) (*analyze.Output, error) {
	return nil, nil
}

type panicLayer struct{}

func (panicLayer) File(context.Context, *fstree.Entry, io.Reader) error { panic("boom") }
func (panicLayer) Facts() (json.RawMessage, error)                      { return nil, nil }

// TestFilePanic: an analyzer that panics on a file fails the scan with an
// error naming it and the file, on each way content reaches analyzers —
// streamed to it alone, read once into memory for several, streamed to
// several through pipes (a file over the in-memory size) — and the
// process goes on.
func TestFilePanic(t *testing.T) {
	img := testImage(t)
	for _, tt := range []struct {
		name      string
		analyzers []analyze.Analyzer
		file      string
	}{
		{"alone", []analyze.Analyzer{&panicky{prefix: "/app/secret"}}, "/app/secret"},
		{"in memory for two", []analyze.Analyzer{&recorder{name: "whole", prefix: "/app/"}, &panicky{prefix: "/app/secret"}}, "/app/secret"},
		{"piped to two", []analyze.Analyzer{&recorder{name: "whole", prefix: "/app/"}, &panicky{prefix: "/app/big"}}, "/app/big"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := analyze.Run(context.Background(), img, tt.analyzers, analyze.Options{})
			if err == nil {
				t.Fatal("a panicking analyzer: the scan succeeded")
			}
			for _, want := range []string{"analyzer panicky", "internal error", "boom", tt.file} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("err = %v, want it to name %q", err, want)
				}
			}
		})
	}
}
