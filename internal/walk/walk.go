// Package walk reads one layer blob once, as a stream: it detects and
// undoes the compression, verifies the blob digest and the diffID while
// reading, indexes every tar entry (whiteouts and opaque markers included)
// and hands the content of the files a visitor asks for to that visitor.
// Nothing is extracted to disk. Limits bound the work a hostile layer can
// cause.
package walk

import (
	"archive/tar"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/image"
)

// Version changes whenever the walk's output for the same layer changes; it
// is part of cache keys.
const Version = "1"

// Limits bound the work one layer may cause.
type Limits struct {
	// MaxLayerBytes bounds the uncompressed size of one layer.
	MaxLayerBytes int64
	// MaxEntries bounds the number of tar entries in one layer.
	MaxEntries int
	// MaxRatio bounds uncompressed/compressed size once the layer has
	// expanded past RatioFloor bytes: a gzip or zstd bomb stops early.
	MaxRatio   int64
	RatioFloor int64
	// MaxPathLen bounds the length of an entry name.
	MaxPathLen int
}

// DefaultLimits fit a 10 GB image with room to spare.
var DefaultLimits = Limits{
	MaxLayerBytes: 32 << 30,
	MaxEntries:    2_000_000,
	MaxRatio:      1000,
	RatioFloor:    1 << 30,
	MaxPathLen:    4096,
}

// ErrLimit marks errors caused by a limit, so callers can tell a hostile
// or oversized layer from a broken one.
var ErrLimit = errors.New("limit exceeded")

// Visitor receives the files of a layer as they stream past.
type Visitor interface {
	// Wants reports whether the visitor wants the content of e.
	Wants(e *fstree.Entry) bool
	// File receives the content of an entry Wants accepted. r is valid only
	// during the call; what File leaves unread is skipped.
	File(ctx context.Context, e *fstree.Entry, r io.Reader) error
}

// linkHardlinks gives each hardlink the size of its target, which must be
// a file earlier in the same layer, and warns about the others. Only the
// targets are looked up, so that the common case (no hardlinks) costs
// nothing.
func linkHardlinks(layer int, entries *fstree.Layer, links []*fstree.Entry) []string {
	if len(links) == 0 {
		return nil
	}
	targets := map[string]*fstree.Entry{}
	for _, h := range links {
		targets[h.Linkname()] = nil
	}
	var (
		warns []string
		p     []byte // each path, built in one buffer: the lookup builds no string
	)
	for _, e := range entries.All() {
		if e.Type == fstree.Hardlink {
			if t := targets[e.Linkname()]; t == nil || t.Type != fstree.Regular {
				warns = append(warns, fmt.Sprintf("layer %d: hardlink %s points to %s, which is not a file earlier in the layer", layer, fstree.Display(e.Path()), fstree.Display(e.Linkname())))
			} else {
				e.Size = t.Size
			}
			continue
		}
		p = e.AppendPath(p[:0])
		if _, ok := targets[string(p)]; ok && e.Type != fstree.Whiteout && e.Type != fstree.Opaque {
			targets[e.Path()] = e
		}
	}
	return warns
}

// Result is what one walk produced.
type Result struct {
	Index *fstree.Layer
	// DiffID is the digest of the uncompressed tar as read.
	DiffID v1.Hash
	// RawBytes is the size of the blob as stored; Bytes uncompressed.
	RawBytes, Bytes int64
	// Compression is "gzip", "zstd" or "none".
	Compression string
	// Warnings name entries that were hostile or odd but did not stop the
	// walk (escaping names, whiteouts of the root, dangling hardlinks).
	Warnings []string
}

// Options tune how a layer is read.
type Options struct {
	// Limits bound the work (zero: DefaultLimits).
	Limits Limits
	// GzipHelper is the path of a program that inflates gzip faster than
	// the in-process inflater (compress.LookHelper); "" inflates in
	// process. Only blobs of compress.HelperMinBytes or more are given to it.
	GzipHelper string
	// Progress, when set, is called with the number of blob bytes read
	// since the last call.
	Progress func(int64)
}

// Layer walks one layer.
func Layer(ctx context.Context, l *image.Layer, v Visitor, o Options) (*Result, error) {
	rc, err := l.Open(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	res, err := walk(ctx, l, rc, v, o)
	if err != nil {
		return nil, fmt.Errorf("layer %d (%s): %w", l.Index, l.Name(), err)
	}
	return res, nil
}

// counter counts and optionally hashes the bytes that pass through it.
type counter struct {
	r        io.Reader
	n        atomic.Int64
	h        hash.Hash
	progress func(int64)
	ctx      context.Context
}

func (c *counter) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	if n > 0 {
		c.n.Add(int64(n))
		if c.h != nil {
			c.h.Write(p[:n])
		}
		if c.progress != nil {
			c.progress(int64(n))
		}
	}
	return n, err
}

func (c *counter) count() int64 { return c.n.Load() }

func sum(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

func walk(ctx context.Context, l *image.Layer, rc io.Reader, v Visitor, o Options) (*Result, error) {
	if o.Limits == (Limits{}) {
		o.Limits = DefaultLimits
	}
	st, err := Open(ctx, l, rc, o)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	res := &Result{Index: &fstree.Layer{Index: l.Index}, Compression: string(st.Compression())}
	if err := index(ctx, l.Index, tar.NewReader(st), o.Limits, v, res); err != nil {
		return nil, err
	}
	sums, err := st.Finish()
	if err != nil {
		return nil, err
	}
	res.RawBytes, res.Bytes, res.DiffID = sums.RawBytes, sums.Bytes, sums.DiffID
	return res, nil
}

// index reads every tar entry of a layer into res, handing the files v
// wants to v, within the entry limits.
func index(ctx context.Context, layer int, tr *tar.Reader, lim Limits, v Visitor, res *Result) error {
	var (
		slot      fstree.Entry // where entryOf builds an entry; the layer keeps a copy
		paths     fstree.Paths // each directory stored once, names in blocks
		hardlinks []*fstree.Entry
	)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading tar after %d entries: %w", res.Index.Len(), err)
		}
		if res.Index.Len() >= lim.MaxEntries {
			return fmt.Errorf("more than %d entries (raise --max-entries): %w", lim.MaxEntries, ErrLimit)
		}
		if len(h.Name) > lim.MaxPathLen || len(h.Linkname) > lim.MaxPathLen {
			return fmt.Errorf("entry name of %d bytes is longer than %d: %w", max(len(h.Name), len(h.Linkname)), lim.MaxPathLen, ErrLimit)
		}
		e, warn := entryOf(h, &slot, &paths)
		if warn != "" {
			res.Warnings = append(res.Warnings, fmt.Sprintf("layer %d: %s", layer, warn))
		}
		if e == nil {
			continue
		}
		e.Layer = uint16(layer)
		e = res.Index.Add(e)
		if e.Type == fstree.Hardlink {
			hardlinks = append(hardlinks, e)
		}
		if e.Type == fstree.Regular {
			res.Index.Bytes += e.Size
			if v != nil && v.Wants(e) {
				if err := v.File(ctx, e, tr); err != nil {
					return fmt.Errorf("%s: %w", fstree.Display(e.Path()), err)
				}
			}
		}
	}
	res.Warnings = append(res.Warnings, linkHardlinks(layer, res.Index, hardlinks)...)
	return nil
}

const (
	whiteoutPrefix = ".wh."
	opaqueMarker   = ".wh..wh..opq"
)

// entryOf turns a tar header into an entry. It returns a nil entry for
// headers that do not describe a file (and says why when that is odd).
func entryOf(h *tar.Header, e *fstree.Entry, paths *fstree.Paths) (*fstree.Entry, string) {
	*e = fstree.Entry{UID: uint32(h.Uid), GID: uint32(h.Gid)}
	warn := ""
	if paths.Member(e, h.Name) {
		warn = fmt.Sprintf("entry %q leaves the image root; read as %s", h.Name, fstree.Display(e.Path()))
	}
	e.SetMode(h.FileInfo().Mode())
	switch base := e.Name(); {
	case base == opaqueMarker:
		e.Type = fstree.Opaque
		paths.Set(e, e.Dir())
		return e, warn
	case strings.HasPrefix(base, whiteoutPrefix):
		target := strings.TrimPrefix(base, whiteoutPrefix)
		if target == "" || target == "." || target == ".." {
			return nil, fmt.Sprintf("whiteout %q names no file; ignored", h.Name)
		}
		e.Type = fstree.Whiteout
		paths.Set(e, path.Join(e.Dir(), target))
		return e, warn
	}
	link := ""
	switch h.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse: // archive/tar reads the old '\x00' type as TypeReg
		e.Type = fstree.Regular
		e.Size = h.Size
	case tar.TypeDir:
		e.Type = fstree.Dir
	case tar.TypeSymlink:
		e.Type = fstree.Symlink
		link = h.Linkname
	case tar.TypeLink:
		e.Type = fstree.Hardlink
		lp, esc := fstree.CleanPath(h.Linkname)
		if esc {
			warn = fmt.Sprintf("hardlink %s points to %q, outside the image root; read as %s", fstree.Display(e.Path()), h.Linkname, fstree.Display(lp))
		}
		link = lp
	case tar.TypeChar:
		e.Type = fstree.Char
	case tar.TypeBlock:
		e.Type = fstree.Block
	case tar.TypeFifo:
		e.Type = fstree.FIFO
	default:
		return nil, ""
	}
	if e.Name() == "" && e.Type != fstree.Dir { // the root
		return nil, fmt.Sprintf("entry %q would replace the root with a non-directory; ignored", h.Name)
	}
	var capability []byte
	if c, ok := h.PAXRecords["SCHILY.xattr.security.capability"]; ok {
		capability = []byte(c)
	}
	paths.SetMore(e, link, capability)
	return e, warn
}
