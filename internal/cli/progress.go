package cli

import (
	"fmt"
	"sync"

	"github.com/vbauerster/cupwriter"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/scan"
)

// progress shows one bar per layer on stderr while layers are read; it is
// the scan's observer. It is shown only when stderr is a terminal and
// --quiet is off.
type progress struct {
	a    *app
	p    *mpb.Progress
	mu   sync.Mutex
	bars map[int]*mpb.Bar
}

// newProgress returns the scan observer for this terminal, or nil.
func (a *app) newProgress() scan.Observer {
	if a.quiet || a.stderrTTY == nil {
		return nil
	}
	return &progress{a: a, bars: map[int]*mpb.Bar{}}
}

// Started implements scan.Observer.
func (p *progress) Started(img *image.Image) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// The bars are written through stderr's redaction to the terminal
	// behind it, whose size mpb reads from its descriptor.
	cw := cupwriter.New(p.a.stderr, false)
	cw.SetTermFd(int(p.a.stderrTTY.Fd()))
	p.p = mpb.New(mpb.WithConsoleWriter(cw), mpb.WithWidth(40))
	for _, l := range img.Layers {
		p.bars[l.Index] = p.p.AddBar(max(l.Size, 0),
			mpb.PrependDecorators(decor.Name(fmt.Sprintf("layer %2d ", l.Index)), decor.CountersKibiByte("% .1f / % .1f")),
			mpb.AppendDecorators(decor.OnComplete(decor.Percentage(), "done")),
		)
	}
}

func (p *progress) bar(l *image.Layer) *mpb.Bar {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bars[l.Index]
}

// LayerRead implements scan.Observer.
func (p *progress) LayerRead(l *image.Layer, n int64) {
	if b := p.bar(l); b != nil {
		b.IncrInt64(n)
	}
}

// LayerDone implements scan.Observer.
func (p *progress) LayerDone(l *image.Layer, _ bool) {
	if b := p.bar(l); b != nil {
		b.SetTotal(-1, true)
	}
}

// Finished implements scan.Observer.
func (p *progress) Finished() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.p == nil {
		return
	}
	for _, b := range p.bars {
		b.Abort(false)
	}
	p.p.Wait()
}
