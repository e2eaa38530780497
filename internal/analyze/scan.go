package analyze

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shipshape-dev/shipshape/internal/cache"
	"github.com/shipshape-dev/shipshape/internal/facts"
	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/walk"
	"golang.org/x/sync/errgroup"
)

// Options tune a scan.
type Options struct {
	// Parallel is the number of layers walked at once (0: GOMAXPROCS).
	Parallel int
	Limits   walk.Limits
	// GzipHelper inflates big gzip layers (walk.Options); "" in process.
	GzipHelper string
	// Cache keeps layer results (the directory cache, or a fleet's
	// shared one: a cache.Claimer is asked before a layer is analysed).
	Cache cache.Store
	// Skip, when set, names paths whose content no analyzer receives
	// (--skip-path). Their entries are still indexed.
	Skip func(path string) bool
	// Progress, when set, is told how many blob bytes of a layer were read.
	Progress func(l *image.Layer, n int64)
	// LayerDone, when set, is called as each layer finishes.
	LayerDone func(l *image.Layer, cached bool)
	Logger    *slog.Logger
	// TempDir is a directory of the scan's own where the layers' shared
	// facts past FactsInMemory are set aside until they are decoded; ""
	// holds them all in memory.
	TempDir string
	// FactsInMemory bounds the bytes of serialised shared facts held in
	// memory when TempDir is set (0: DefaultFactsInMemory; negative: none).
	FactsInMemory int64
}

// LayerStats describes how one layer was processed.
type LayerStats struct {
	Files  int
	Bytes  int64
	Cached bool
}

// Result is a finished scan before it is put into a report.
type Result struct {
	Tree *fstree.Tree
	// System is the final image's system, as every analyzer saw it.
	System   *facts.System
	Layers   []LayerStats
	Outputs  map[string]*Output
	Findings []scorecard.Finding
	Coverage []scorecard.Coverage
	Sections map[string]any
	Warnings []string
	// Redact is the union of the analyzers' Output.Redact: secret values
	// that no output may show (redact.New(res.Redact...)).
	Redact []string
}

// systemFacts runs the shared facts collector in the layer pass like any
// analyzer: its content comes from the same single read, and its per-layer
// facts are cached with the layer.
type systemFacts struct{}

// sharedFacts names the shared facts among the analyzers' facts.
const sharedFacts = "facts"

func (systemFacts) Name() string                                    { return sharedFacts }
func (systemFacts) Version() string                                 { return facts.Version }
func (systemFacts) Wants(e *fstree.Entry) (bool, int64)             { return facts.Wants(e) }
func (systemFacts) NewLayer(*image.Layer) LayerScanner              { return &facts.Collector{} }
func (systemFacts) Finish(context.Context, *Input) (*Output, error) { return nil, nil }

// cached is a layer's result, as the cache stores it.
type cached struct {
	Layer *fstree.Layer
	Facts map[string]json.RawMessage
	// Files holds, by analyzer name, facts set aside in a file instead of
	// held in Facts (the shared facts past the scan's memory budget).
	Files    map[string]string
	Warnings []string
}

// cacheFormat names the layout of a cache entry; it is part of the key. An
// entry is cacheMagic, a small JSON cachedHeader (length first), each
// analyzer's facts as raw bytes (name and facts, lengths first: they are
// JSON the analyzer parses itself, so they are not parsed twice), then
// the layer's entries in fstree's binary form. It streams both ways: a
// layer of a million entries is never held twice in memory.
const (
	cacheFormat = "4"
	cacheMagic  = "shipshape-layer/4\n"
	// maxHeaderBytes bounds the header and each analyzer's facts.
	maxHeaderBytes = 512 << 20
)

type cachedHeader struct {
	Bytes    int64    `json:"bytes"`
	Warnings []string `json:"warnings,omitempty"`
	Facts    int      `json:"facts"`
}

// streamer is a Store that writes and reads entries as streams (the
// directory Cache): an entry then never has to fit in memory.
type streamer interface {
	Write(key string, write func(w io.Writer) error) error
	Reader(key string) (io.ReadCloser, bool)
}

// writeCached stores a layer's result: streamed into a directory cache,
// encoded in memory for other stores (a fleet's shared cache caps its
// entries anyway).
func writeCached(s cache.Store, key string, v *cached) error {
	if st, ok := s.(streamer); ok {
		return st.Write(key, func(w io.Writer) error { return encodeCached(w, v) })
	}
	var buf bytes.Buffer
	if err := encodeCached(&buf, v); err != nil {
		return err
	}
	return s.Put(key, buf.Bytes())
}

// encodeCached writes the entry format: magic, header, each analyzer's
// facts, then the entry index.
func encodeCached(w io.Writer, v *cached) error {
	hdr, err := json.Marshal(cachedHeader{Bytes: v.Layer.Bytes, Warnings: v.Warnings, Facts: len(v.Facts) + len(v.Files)})
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.WriteString(cacheMagic)
	put := func(b []byte) {
		bw.Write(binary.AppendUvarint(nil, uint64(len(b))))
		bw.Write(b)
	}
	put(hdr)
	names := slices.Concat(slices.Collect(maps.Keys(v.Facts)), slices.Collect(maps.Keys(v.Files)))
	slices.Sort(names)
	for _, name := range names {
		put([]byte(name))
		if p, ok := v.Files[name]; ok {
			if err := putFile(bw, p); err != nil {
				return fmt.Errorf("facts of %s: %w", name, err)
			}
			continue
		}
		put(v.Facts[name])
	}
	return fstree.WriteLayer(bw, v.Layer)
}

// putFile writes the file at p as put writes bytes: length, then content.
func putFile(w *bufio.Writer, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	w.Write(binary.AppendUvarint(nil, uint64(fi.Size())))
	if _, err := io.CopyN(w, f, fi.Size()); err != nil {
		return fmt.Errorf("%s: %w", p, err)
	}
	return nil
}

// readCached reads a layer's result from the cache; a missing, damaged or
// foreign entry is a miss. The shared facts past the memory budget are
// set aside (sp may be nil: all are held).
func readCached(s cache.Store, key string, layer int, sp *spill) (*cached, bool) {
	if st, ok := s.(streamer); ok {
		rc, ok := st.Reader(key)
		if !ok {
			return nil, false
		}
		defer rc.Close()
		return decodeCached(rc, layer, sp)
	}
	b, ok := s.Get(key)
	if !ok {
		return nil, false
	}
	return decodeCached(bytes.NewReader(b), layer, sp)
}

// decodeCached reads the entry format; anything damaged or foreign is a
// miss.
func decodeCached(r io.Reader, layer int, sp *spill) (*cached, bool) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic := make([]byte, len(cacheMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != cacheMagic {
		return nil, false
	}
	read := func(n uint64) ([]byte, bool) {
		if n > 16<<20 {
			// Larger than any real facts: read it as it comes, so that a
			// damaged length costs no more than the bytes that are there.
			b, err := io.ReadAll(io.LimitReader(br, int64(n)))
			return b, err == nil && uint64(len(b)) == n
		}
		b := make([]byte, n)
		_, err := io.ReadFull(br, b)
		return b, err == nil
	}
	length := func() (uint64, bool) {
		n, err := binary.ReadUvarint(br)
		return n, err == nil && n <= maxHeaderBytes
	}
	get := func() ([]byte, bool) {
		n, ok := length()
		if !ok {
			return nil, false
		}
		return read(n)
	}
	raw, ok := get()
	var hdr cachedHeader
	if !ok || json.Unmarshal(raw, &hdr) != nil || hdr.Facts < 0 || hdr.Facts > 1<<10 {
		return nil, false
	}
	c := &cached{Facts: make(map[string]json.RawMessage, hdr.Facts), Warnings: hdr.Warnings}
	held := int64(0) // of the memory budget
	miss := func() (*cached, bool) {
		for _, p := range c.Files {
			os.Remove(p)
		}
		sp.release(held)
		return nil, false
	}
	for range hdr.Facts {
		name, ok := get()
		if !ok {
			return miss()
		}
		n, ok := length()
		if !ok {
			return miss()
		}
		if string(name) == sharedFacts && n > 0 {
			if !sp.hold(int64(n)) {
				// Past the memory budget the shared facts go to a file
				// as they are read.
				p, err := sp.copy(int64(n), br)
				if err != nil {
					return miss()
				}
				c.Files = map[string]string{sharedFacts: p}
				continue
			}
			held += int64(n)
		}
		f, ok := read(n)
		if !ok {
			return miss()
		}
		if len(f) == 0 {
			f = nil // as stored: an analyzer without facts
		}
		c.Facts[string(name)] = f
	}
	l, err := fstree.ReadLayer(br, layer)
	if err != nil {
		return miss()
	}
	l.Bytes = hdr.Bytes
	c.Layer = l
	return c, true
}

// Run scans img with the analyzers.
func Run(ctx context.Context, img *image.Image, analyzers []Analyzer, opts Options) (*Result, error) {
	if opts.Parallel <= 0 {
		opts.Parallel = runtime.GOMAXPROCS(0)
	}
	if opts.Limits == (walk.Limits{}) {
		opts.Limits = walk.DefaultLimits
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	// The facts every analyzer shares are collected in the same pass.
	analyzers = append([]Analyzer{systemFacts{}}, analyzers...)
	keyParts := []string{"walk", walk.Version, "cache", cacheFormat}
	for _, a := range analyzers {
		keyParts = append(keyParts, a.Name(), a.Version())
	}

	n := len(img.Layers)
	if n > fstree.MaxLayers {
		return nil, fmt.Errorf("image has %d layers; at most %d can be read", n, fstree.MaxLayers)
	}
	sp := &spill{budget: opts.FactsInMemory}
	if sp.budget == 0 {
		sp.budget = DefaultFactsInMemory
	}
	if opts.TempDir != "" {
		dir, err := os.MkdirTemp(opts.TempDir, "facts-")
		if err != nil {
			return nil, fmt.Errorf("scan directory: %w", err)
		}
		// Removed after the cache writes, which read the facts set aside.
		defer os.RemoveAll(dir)
		sp.dir = dir
	}
	results := make([]*cached, n)
	stats := make([]LayerStats, n)
	// Start the biggest layers first: the scan ends when the last one does.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return img.Layers[order[a]].Size > img.Layers[order[b]].Size })
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Parallel)
	// A layer read afresh is written to the cache while the scan goes on:
	// for the last layer to finish, the encoding and the durable write
	// would otherwise add to the scan's wall time. Nothing writes the
	// fields the encoder reads once the walk is done (Squash sets only
	// each entry's Layer and fate). Run returns after every write.
	var writes sync.WaitGroup
	defer writes.Wait()
	for _, i := range order {
		l := img.Layers[i]
		g.Go(func() (err error) {
			defer recovered(opts.Logger, fmt.Sprintf("layer %d (%s)", l.Index, l.Name()), &err)
			start := time.Now()
			c, hit, persist, err := scanLayer(gctx, l, analyzers, keyParts, sp, opts)
			if err != nil {
				return err
			}
			if persist != nil {
				writes.Go(func() {
					if err := persist(); err != nil {
						opts.Logger.Warn("could not cache layer result", "layer", l.Index, "err", err)
					}
				})
			}
			opts.Logger.Debug("layer read", "layer", l.Index, "cached", hit, "files", c.Layer.Len(), "factsSetAside", c.Files[sharedFacts] != "", "took", time.Since(start))
			results[i] = c
			stats[i] = LayerStats{Files: c.Layer.Len(), Bytes: c.Layer.Bytes, Cached: hit}
			if opts.LayerDone != nil {
				opts.LayerDone(l, hit)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	layers := make([]*fstree.Layer, n)
	res := &Result{Layers: stats, Outputs: map[string]*Output{}, Sections: map[string]any{}}
	for i, c := range results {
		layers[i] = c.Layer
		res.Warnings = append(res.Warnings, c.Warnings...)
	}
	// The shared facts are decoded while the layers are squashed: neither
	// needs the other, and on a warm scan both are most of the work left.
	raw := make([]facts.Source, n)
	for i, c := range results {
		raw[i] = source(c, sharedFacts)
	}
	var (
		decoded   []facts.Layer
		decodeErr error
		done      = make(chan struct{})
	)
	go func() {
		defer close(done)
		decoded, decodeErr = facts.Decode(raw, opts.Parallel)
	}()
	start := time.Now()
	res.Tree = fstree.Squash(layers)
	<-done
	if decodeErr != nil {
		return nil, decodeErr
	}
	// The serialised shared facts are not needed once decoded (the cache
	// writes have their own references): on an image whose packages own
	// hundreds of thousands of files they are tens of megabytes.
	for _, c := range results {
		delete(c.Facts, sharedFacts)
	}
	sys := facts.Assemble(res.Tree, decoded)
	res.System = sys
	opts.Logger.Debug("layers squashed", "files", res.Tree.Len(), "took", time.Since(start))
	outs, err := finish(ctx, analyzers[1:], &Input{Image: img, Tree: res.Tree, System: sys}, results, opts)
	if err != nil {
		return nil, err
	}
	for i, out := range outs {
		if out == nil {
			continue
		}
		res.Outputs[analyzers[1+i].Name()] = out
		res.Findings = append(res.Findings, out.Findings...)
		res.Coverage = append(res.Coverage, out.Coverage...)
		res.Redact = append(res.Redact, out.Redact...)
		for k, v := range out.Sections {
			res.Sections[k] = v
		}
	}
	scorecard.SortFindings(res.Findings)
	return res, nil
}

// finish runs every analyzer's Finish at once (up to parallel at a time):
// they read the same tree and facts and share nothing they write, and on a
// warm scan they are most of the work. The outputs are in analyzers' order,
// whatever order they ended in. A panic in one is its error, not a crash of
// the process (its stack is logged at debug level).
func finish(ctx context.Context, analyzers []Analyzer, shared *Input, results []*cached, opts Options) ([]*Output, error) {
	outs := make([]*Output, len(analyzers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Parallel)
	for i, a := range analyzers {
		in := *shared
		in.Facts = make([]json.RawMessage, len(results))
		for l, c := range results {
			in.Facts[l] = c.Facts[a.Name()]
		}
		g.Go(func() (err error) {
			defer recovered(opts.Logger, "analyzer "+a.Name(), &err)
			start := time.Now()
			out, err := a.Finish(gctx, &in)
			if err != nil {
				return fmt.Errorf("analyzer %s: %w", a.Name(), err)
			}
			opts.Logger.Debug("analyzer finished", "analyzer", a.Name(), "took", time.Since(start))
			outs[i] = out
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return outs, nil
}

// recovered, deferred in a goroutine of the scan, turns a panic there (a
// bug, or an analyzer meeting input it did not expect) into the scan's
// error, naming what panicked, instead of a crash of the process; the
// stack is logged at debug level (log may be nil).
func recovered(log *slog.Logger, what string, err *error) {
	r := recover()
	if r == nil {
		return
	}
	if log != nil {
		log.Debug("panic", "in", what, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	}
	*err = fmt.Errorf("%s: internal error: %v", what, r)
}

// scanLayer reads layer l from the cache or, on a miss, walks it. For a
// layer walked with a cache, persist writes the result to the cache (a
// panic there is its error) and then lets go of a shared cache's claim on
// it; the caller must call it.
func scanLayer(ctx context.Context, l *image.Layer, analyzers []Analyzer, keyParts []string, sp *spill, opts Options) (c *cached, hit bool, persist func() error, err error) {
	key := ""
	release := func() {}
	defer func() {
		if persist == nil {
			release()
		}
	}()
	if l.DiffID.Hex != "" && opts.Cache != nil {
		// The blob digest is part of the key: a hit then means this very
		// blob was read and verified before, and a manifest that lies about
		// a layer's digest can never be answered from the cache.
		key = cache.Key(append([]string{l.DiffID.String(), l.Digest.String()}, keyParts...)...)
		hit := func(c *cached) (*cached, bool, func() error, error) {
			if opts.Progress != nil && l.Size > 0 {
				opts.Progress(l, l.Size)
			}
			return c, true, nil, nil
		}
		if c, ok := readCached(opts.Cache, key, l.Index, sp); ok {
			return hit(c)
		}
		if cl, ok := opts.Cache.(cache.Claimer); ok {
			// A shared cache: wait for another process analysing this
			// layer, or analyse it while the others wait.
			var b []byte
			b, ok, release = cl.Claim(ctx, key)
			if ok {
				if c, ok := decodeCached(bytes.NewReader(b), l.Index, sp); ok {
					return hit(c)
				}
				opts.Logger.Debug("ignoring unreadable cache entry", "layer", l.Index, "key", key)
			}
		}
		opts.Logger.Debug("layer not in the cache", "layer", l.Index, "key", key)
	}
	d := newDispatcher(l, analyzers)
	d.skip = opts.Skip
	// The shared facts are written as the layer is walked: held while the
	// memory budget allows, in a file past it.
	out := &spillWriter{s: sp}
	defer func() {
		if err != nil {
			out.discard()
		}
	}()
	for _, s := range d.scanners {
		if c, ok := s.(*facts.Collector); ok {
			c.Out = out
		}
	}
	var progress func(int64)
	if opts.Progress != nil {
		progress = func(n int64) { opts.Progress(l, n) }
	}
	wr, err := walk.Layer(ctx, l, d, walk.Options{Limits: opts.Limits, GzipHelper: opts.GzipHelper, Progress: progress})
	if err != nil {
		return nil, false, nil, err
	}
	c = &cached{Layer: wr.Index, Facts: map[string]json.RawMessage{}, Warnings: wr.Warnings}
	for i, a := range analyzers {
		if fc, ok := d.scanners[i].(*facts.Collector); ok && a.Name() == sharedFacts {
			err := fc.End()
			var f []byte
			var p string
			if err == nil {
				f, p, err = out.end()
			}
			if err != nil {
				return nil, false, nil, fmt.Errorf("layer %d (%s): analyzer %s: %w", l.Index, l.Name(), a.Name(), err)
			}
			if p != "" {
				c.Files = map[string]string{sharedFacts: p}
				continue
			}
			c.Facts[a.Name()] = f
			continue
		}
		f, err := d.scanners[i].Facts()
		if err != nil {
			return nil, false, nil, fmt.Errorf("layer %d (%s): analyzer %s: %w", l.Index, l.Name(), a.Name(), err)
		}
		c.Facts[a.Name()] = f
	}
	if l.DiffID.Hex == "" {
		l.DiffID = wr.DiffID
	}
	if key == "" {
		return c, false, nil, nil
	}
	// The write has its own map of the facts: Run drops the shared facts
	// from c once decoded, while the write may still be going.
	w := &cached{Layer: c.Layer, Facts: maps.Clone(c.Facts), Files: c.Files, Warnings: c.Warnings}
	persist = func() (err error) {
		defer release()
		defer recovered(opts.Logger, fmt.Sprintf("cache write of layer %d", l.Index), &err)
		return writeCached(opts.Cache, key, w)
	}
	return c, false, persist, nil
}

// dispatcher hands each file's content to the analyzers that want it,
// reading it from the layer once.
type dispatcher struct {
	analyzers []Analyzer
	scanners  []LayerScanner
	wanted    []int
	limits    []int64
	buf       []byte // content wanted by several analyzers, replayed to each
	content   content
	skip      func(string) bool
}

func newDispatcher(l *image.Layer, analyzers []Analyzer) *dispatcher {
	d := &dispatcher{analyzers: analyzers}
	for _, a := range analyzers {
		d.scanners = append(d.scanners, a.NewLayer(l))
	}
	return d
}

func (d *dispatcher) Wants(e *fstree.Entry) bool {
	d.wanted, d.limits = d.wanted[:0], d.limits[:0]
	if d.skip != nil && d.skip(e.Path()) {
		return false
	}
	for i, a := range d.analyzers {
		if ok, limit := a.Wants(e); ok {
			d.wanted = append(d.wanted, i)
			d.limits = append(d.limits, limit)
		}
	}
	return len(d.wanted) > 0
}

// bufferBelow is the size under which content wanted by several analyzers
// is read into memory once and replayed; larger files are streamed to all
// of them at once through pipes.
const bufferBelow = 8 << 20

// keepBuffer is the largest buffer a dispatcher keeps for the next file:
// a layer's dispatcher lives as long as its walk, and the garbage
// collector lets the heap grow to twice what is held.
const keepBuffer = 1 << 20

func (d *dispatcher) File(ctx context.Context, e *fstree.Entry, r io.Reader) error {
	if len(d.wanted) == 1 {
		return d.file(ctx, d.wanted[0], e, limited(r, d.limits[0]))
	}
	need := int64(0)
	for _, l := range d.limits {
		if l == 0 || e.Size <= l {
			need = e.Size
			break
		}
		need = max(need, l)
	}
	if need <= bufferBelow {
		// Read at once into a buffer of the size the header gives (a
		// growing buffer zeroed and copied its content at every doubling).
		b := d.buf
		if int64(cap(b)) < need {
			b = make([]byte, need)
		}
		n, err := io.ReadFull(r, b[:need])
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return err
		}
		b = b[:n]
		if cap(b) <= keepBuffer {
			d.buf = b[:0]
		} else {
			d.buf = nil // not kept for the next file: see keepBuffer
		}
		for j, i := range d.wanted {
			part := b
			if l := d.limits[j]; l > 0 && int64(len(part)) > l {
				part = part[:l]
			}
			d.content.reset(part)
			if err := d.file(ctx, i, e, &d.content); err != nil {
				return err
			}
		}
		return nil
	}
	return d.fanOut(ctx, e, io.LimitReader(r, need))
}

// file hands a file to analyzer i; its errors name it, and a panic in it
// is such an error, not a crash.
func (d *dispatcher) file(ctx context.Context, i int, e *fstree.Entry, r io.Reader) (err error) {
	name := "analyzer " + d.analyzers[i].Name()
	defer recovered(nil, name, &err)
	if err := d.scanners[i].File(ctx, e, r); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// fanOut streams r to every wanting analyzer concurrently.
func (d *dispatcher) fanOut(ctx context.Context, e *fstree.Entry, r io.Reader) error {
	var (
		wg      sync.WaitGroup
		writers []io.Writer
		pipes   []*io.PipeWriter
		errs    = make([]error, len(d.wanted))
	)
	for j, i := range d.wanted {
		pr, pw := io.Pipe()
		pipes = append(pipes, pw)
		writers = append(writers, &tolerantWriter{w: pw})
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[j] = d.file(ctx, i, e, limited(pr, d.limits[j]))
			// An analyzer that stops early (a binary it skips, the bytes it
			// asked for) closes its pipe: the rest of the file is then not
			// copied to it, and the other readers are not blocked.
			pr.CloseWithError(errStopped)
		}()
	}
	_, err := io.Copy(io.MultiWriter(writers...), r)
	for _, p := range pipes {
		p.CloseWithError(err)
	}
	wg.Wait()
	return errors.Join(append(errs, err)...)
}

// errStopped is what writing to an analyzer that stopped reading gives
// (and tolerantWriter ignores).
var errStopped = errors.New("analyzer stopped reading")

// tolerantWriter writes to a pipe whose reader may have given up.
type tolerantWriter struct{ w *io.PipeWriter }

func (t *tolerantWriter) Write(p []byte) (int, error) {
	t.w.Write(p)
	return len(p), nil
}

func limited(r io.Reader, n int64) io.Reader {
	if n <= 0 {
		return r
	}
	return io.LimitReader(r, n)
}

// Names lists analyzer names, for logs.
func Names(as []Analyzer) string {
	var s []string
	for _, a := range as {
		s = append(s, a.Name()+"@"+a.Version())
	}
	slices.Sort(s)
	return strings.Join(s, ",")
}
