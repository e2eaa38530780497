// Package analyze runs analyzers over an image in one pass: every layer is
// walked once (layers in parallel), each file's content is handed once to
// the analyzers that asked for it, per-layer facts are cached by diffID,
// and then each analyzer turns the facts of all layers, the squashed
// filesystem and the image config into findings.
package analyze

import (
	"bytes"
	"context"
	"encoding/json"
	"io"

	"github.com/shipshape-dev/shipshape/internal/facts"
	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// Analyzer checks one concern of an image.
type Analyzer interface {
	// Name identifies the analyzer in cache keys and reports.
	Name() string
	// Version changes whenever the analyzer's per-layer facts for the same
	// layer would change, which invalidates cached facts.
	Version() string
	// Wants reports whether the analyzer needs the content of e, and how
	// many bytes of it at most (0: all). Called for regular files only.
	Wants(e *fstree.Entry) (bool, int64)
	// NewLayer starts the scan of one layer.
	NewLayer(l *image.Layer) LayerScanner
	// Finish turns the facts of every layer into findings.
	Finish(ctx context.Context, in *Input) (*Output, error)
}

// LayerScanner collects an analyzer's facts about one layer. Calls for one
// layer come from one goroutine; different layers run concurrently.
type LayerScanner interface {
	// File receives the content of a file the analyzer wanted, at most the
	// bytes it asked for. r is valid only during the call. When the
	// content is already in memory, Whole(r) returns it without a copy.
	File(ctx context.Context, e *fstree.Entry, r io.Reader) error
	// Facts returns the layer's facts, serialised for the cache.
	Facts() (json.RawMessage, error)
}

// Input is everything an analyzer sees when it finishes.
type Input struct {
	Image *image.Image
	// Tree is the final filesystem; its Layers hold every layer's entries
	// with their fates (removed, overwritten).
	Tree *fstree.Tree
	// System is what the layer pass learnt once for every analyzer: the
	// release, the users and groups, the package databases and the files
	// they own, as the final image has them.
	System *facts.System
	// Facts holds this analyzer's facts per layer (Facts[0] is layer 1).
	Facts []json.RawMessage
}

// Output is what an analyzer reports.
type Output struct {
	Findings []scorecard.Finding
	// Coverage says which practices the analyzer checked (or why not).
	Coverage []scorecard.Coverage
	// Sections are named report sections (inventory, metrics).
	Sections map[string]any
	// Redact lists secret values found by the analyzer. They must never leave the process: the scan
	// replaces them everywhere in the report (and every other output) unless secrets are to be shown.
	Redact []string
}

// Locate fills a finding's evidence from the entry that carries it: layer,
// diffID, history line, path, and the entry's fate in the final image.
func (in *Input) Locate(f *scorecard.Finding, e *fstree.Entry) {
	f.Path = fstree.Display(e.Path())
	f.InFinalImage = scorecard.Bool(e.InFinal())
	f.RemovedInLayer = int(e.RemovedIn())
	f.OverwrittenInLayer = int(e.OverwrittenIn())
	in.LocateLayer(f, int(e.Layer))
}

// LocateLayer fills a finding's layer evidence.
func (in *Input) LocateLayer(f *scorecard.Finding, layer int) {
	if layer < 1 || layer > len(in.Image.Layers) {
		return
	}
	l := in.Image.Layers[layer-1]
	f.Layer = layer
	f.LayerDiffID = l.DiffID.String()
	f.CreatedBy = l.CreatedBy
}

// Empty reports whether the image holds no file at all (no regular file or
// symbolic link in any layer): practices judged from files then have
// nothing to judge and must say so instead of passing.
func (in *Input) Empty() bool {
	if in.Tree == nil {
		return true
	}
	for _, l := range in.Tree.Layers() {
		for _, e := range l.All() {
			if e.Type == fstree.Regular || e.Type == fstree.Symlink {
				return false
			}
		}
	}
	return true
}

// NoFiles is embedded by analyzers that need no file content: they work
// from the squashed tree and the image config alone, and keep no per-layer
// facts.
type NoFiles struct{}

// Wants implements Analyzer: no file content.
func (NoFiles) Wants(*fstree.Entry) (bool, int64) { return false, 0 }

// NewLayer implements Analyzer.
func (NoFiles) NewLayer(*image.Layer) LayerScanner { return noFacts{} }

type noFacts struct{}

func (noFacts) File(context.Context, *fstree.Entry, io.Reader) error { return nil }
func (noFacts) Facts() (json.RawMessage, error)                      { return nil, nil }

// Needs says what an analyzer needs beyond the image's own bytes.
type Needs struct {
	// Network: the analyzer asks a server (a registry, a transparency
	// log, a package index) while it finishes.
	Network bool
	// Engine: the analyzer runs the image on a container engine.
	Engine bool
}

// Capable is implemented by analyzers that need more than the image. A
// scan that cannot give them what they need (offline, no engine) does not
// run them and reports their practices as not run, with the reason.
type Capable interface {
	Analyzer
	// Needs says what the analyzer needs.
	Needs() Needs
	// Practices lists the practices the analyzer judges.
	Practices() []scorecard.Practice
}

// content is the reader File gets when the file's content is already in
// memory (read once for several analyzers).
type content struct {
	bytes.Reader
	b []byte
}

func (c *content) reset(b []byte) {
	c.b = b
	c.Reader.Reset(b)
}

// Whole returns the whole content behind r, the reader a LayerScanner's
// File got, when it is already in memory: an analyzer that needs the whole
// file then uses it in place instead of copying it. The bytes are the
// whole file whatever was read from r before, are valid only during the
// File call, and must not be modified.
func Whole(r io.Reader) ([]byte, bool) {
	if c, ok := r.(*content); ok {
		return c.b, true
	}
	return nil, false
}
