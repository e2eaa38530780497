package cli

import (
	"fmt"
	"sync"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/image"
)

// progress shows one bar per layer on stderr while layers are read. It is
// shown only when stderr is a terminal and --quiet is off.
type progress struct {
	p    *mpb.Progress
	mu   sync.Mutex
	bars map[int]*mpb.Bar
}

func (a *app) newProgress(img *image.Image) *progress {
	if a.quiet || !isTerminal(a.stderr) {
		return nil
	}
	pr := &progress{p: mpb.New(mpb.WithOutput(a.stderr), mpb.WithWidth(40)), bars: map[int]*mpb.Bar{}}
	for _, l := range img.Layers {
		total := l.Size
		if total <= 0 {
			total = 0
		}
		pr.bars[l.Index] = pr.p.AddBar(total,
			mpb.PrependDecorators(decor.Name(fmt.Sprintf("layer %2d ", l.Index)), decor.CountersKibiByte("% .1f / % .1f")),
			mpb.AppendDecorators(decor.OnComplete(decor.Percentage(), "done")),
		)
	}
	return pr
}

func (p *progress) hook(o *analyze.Options) {
	if p == nil {
		return
	}
	o.Progress = func(l *image.Layer, n int64) {
		p.mu.Lock()
		b := p.bars[l.Index]
		p.mu.Unlock()
		b.IncrInt64(n)
	}
	o.LayerDone = func(l *image.Layer, _ bool) {
		p.mu.Lock()
		b := p.bars[l.Index]
		p.mu.Unlock()
		b.SetTotal(-1, true)
	}
}

func (p *progress) done() {
	if p == nil {
		return
	}
	for _, b := range p.bars {
		b.Abort(false)
	}
	p.p.Wait()
}
