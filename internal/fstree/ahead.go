package fstree

import "unsafe"

// blocksAhead makes a layer's blocks of entries on a goroutine of its
// own and writes to every page of each, so that the kernel maps the pages
// there. Where a fresh page costs microseconds to fault in (13–18 µs on a
// virtual machine measured here), a decoder filling a million entries
// spends a fifth of its time in those faults, on the critical path of a
// warm scan, while the other core waits. At most aheadBlocks blocks wait
// to be taken: a count that lies costs no more than that.
type blocksAhead struct {
	c    chan []Entry
	done chan struct{}
}

const (
	// aheadFrom is the count of entries from which ReadLayer makes its
	// blocks ahead.
	aheadFrom   = 1 << 16
	aheadBlocks = 16
	// pageEntries entries span at most a 4 KiB page: writing one in
	// every pageEntries touches every page of a block.
	pageEntries = 4096 / int(unsafe.Sizeof(Entry{}))
)

// newBlocksAhead starts making n blocks.
func newBlocksAhead(n int) *blocksAhead {
	a := &blocksAhead{c: make(chan []Entry, aheadBlocks), done: make(chan struct{})}
	go func() {
		defer close(a.c)
		for range n {
			b := make([]Entry, 1<<blockBits)
			for i := 0; i < len(b); i += pageEntries {
				b[i].nlen = 1 // any write maps the page; Add overwrites the entry
			}
			select {
			case a.c <- b:
			case <-a.done:
				return
			}
		}
	}()
	return a
}

// next returns the next block, or nil once n were made or after stop.
func (a *blocksAhead) next() []Entry { return <-a.c }

// stop ends the goroutine; blocks not taken are dropped. It must be called
// once.
func (a *blocksAhead) stop() { close(a.done) }

// grow gives l its next block of entries, for Add to fill: it must be
// called when the blocks l has are full.
func (l *Layer) grow(b []Entry) {
	if len(b) == 1<<blockBits && l.n == len(l.blocks)<<blockBits {
		l.blocks = append(l.blocks, b)
	}
}
