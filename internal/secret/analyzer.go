// Package secret finds build secrets in container images (practice P1):
// credentials in the content of every file of every layer — including
// files that later layers deleted or replaced, which anyone who pulls the
// image can still read — and in the image config (Env, Labels, history
// lines with BuildKit build-arg values, annotations).
//
// Content is scanned in the analyzer's single layer pass: a cheap keyword
// prefilter (one linear pass over each chunk) decides which rules'
// expressions run, and only in a window around each keyword. Files owned
// by the distribution's package manager and unchanged from the package
// (dpkg md5sums, apk checksums) are reported in a separate "vendor" class
// at info severity, so that test keys shipped inside packages do not fail
// a pipeline.
package secret

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"
	"sync/atomic"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/image"
)

// Defaults for the analyzer's limits.
const (
	// DefaultMaxFileBytes is the most content read from one text file.
	DefaultMaxFileBytes = 256 << 20
	// DefaultMaxBinaryBytes is the largest binary file scanned; larger
	// binaries (executables, libraries, archives, media) are skipped, as
	// Trivy and gitleaks skip all binaries. Raise it to look for secrets
	// compiled into programs.
	DefaultMaxBinaryBytes = 2 << 20
	// hashBelow is the size up to which a file is held in memory, so that
	// its checksum can be compared with the package manager's.
	hashBelow  = 4 << 20
	sniffBytes = 8 << 10
)

// Analyzer finds secrets. The zero value uses the defaults.
type Analyzer struct {
	// ShowSecrets keeps secret values whole in findings (--show-secrets).
	// Without it, only redacted values leave the layer pass, and only
	// redacted values reach the layer cache.
	ShowSecrets bool
	// ConfigOnly judges the config, history and annotations only, and
	// reads no file (what "inspect" needs to redact history lines).
	ConfigOnly bool
	// MaxFileBytes and MaxBinaryBytes override the defaults (0: default;
	// negative MaxBinaryBytes: scan binaries of any size up to MaxFileBytes).
	MaxFileBytes   int64
	MaxBinaryBytes int64

	det atomic.Pointer[Detector]
}

// Name implements analyze.Analyzer.
func (a *Analyzer) Name() string { return "secret" }

// Version implements analyze.Analyzer. Facts with whole secrets are cached
// apart from redacted ones.
func (a *Analyzer) Version() string {
	v := "4"
	if a.ConfigOnly {
		v += "+config"
	}
	if a.ShowSecrets {
		v += "+show"
	}
	return fmt.Sprintf("%s/%d/%d", v, a.maxFile(), a.maxBinary())
}

func (a *Analyzer) maxFile() int64 {
	if a.MaxFileBytes > 0 {
		return a.MaxFileBytes
	}
	return DefaultMaxFileBytes
}

func (a *Analyzer) maxBinary() int64 {
	switch {
	case a.MaxBinaryBytes > 0:
		return a.MaxBinaryBytes
	case a.MaxBinaryBytes < 0:
		return a.maxFile()
	}
	return DefaultMaxBinaryBytes
}

func (a *Analyzer) detector() *Detector {
	if d := a.det.Load(); d != nil {
		return d
	}
	a.det.CompareAndSwap(nil, NewDetector(Rules()))
	return a.det.Load()
}

// skipExt lists extensions of files that are compressed or media: their
// bytes cannot hold a readable secret.
var skipExt = map[string]bool{
	".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".webp": true, ".ico": true, ".bmp": true, ".tif": true, ".tiff": true,
	".woff": true, ".woff2": true, ".ttf": true, ".otf": true, ".eot": true, ".pfb": true,
	".mp3": true, ".mp4": true, ".ogg": true, ".wav": true, ".avi": true, ".mov": true,
	".gz": true, ".tgz": true, ".xz": true, ".bz2": true, ".zst": true, ".lz4": true, ".zip": true, ".7z": true, ".jar": true, ".war": true, ".ear": true, ".whl": true, ".egg": true, ".deb": true, ".rpm": true, ".apk": true,
	".pyc": true, ".pyo": true, ".class": true, ".mo": true, ".gmo": true, ".pdf": true, ".svgz": true, ".jmod": true,
}

// Wants implements analyze.Analyzer.
func (a *Analyzer) Wants(e *fstree.Entry) (bool, int64) {
	if e.Size == 0 || a.ConfigOnly {
		return false, 0
	}
	if e.HasPathPrefix("/proc/") || e.HasPathPrefix("/sys/") || e.HasPathPrefix("/dev/") {
		return false, 0
	}
	if skipExt[strings.ToLower(path.Ext(e.Name()))] {
		return false, 0
	}
	return true, a.maxFile()
}

// layerFacts is what one layer contributes, cached by diffID.
type layerFacts struct {
	Files []fileFacts `json:"files,omitempty"`
	// Scanned counts files and bytes scanned; Skipped counts binaries
	// over the size limit.
	Scanned      int   `json:"scanned"`
	ScannedBytes int64 `json:"scannedBytes"`
	Skipped      int   `json:"skipped,omitempty"`
	SkippedBytes int64 `json:"skippedBytes,omitempty"`
	Truncated    int   `json:"truncated,omitempty"`
	// BinaryBytes counts the scanned bytes of binary files.
	BinaryBytes int64 `json:"binaryBytes,omitempty"`
}

// fileFacts are the secrets found in one file of one layer.
type fileFacts struct {
	Path    string      `json:"path"`
	MD5     string      `json:"md5,omitempty"`
	SHA1    string      `json:"sha1,omitempty"`
	Binary  bool        `json:"binary,omitempty"`
	Matches []matchFact `json:"matches"`
}

type matchFact struct {
	Rule      string `json:"rule"`
	Line      int    `json:"line,omitempty"`
	Redacted  string `json:"redacted"`
	Value     string `json:"value,omitempty"` // only with ShowSecrets
	Hash      string `json:"hash"`
	Encrypted bool   `json:"encrypted,omitempty"`
	// Key, Confidence and Default come from format rules.
	Key        string     `json:"key,omitempty"`
	Confidence Confidence `json:"confidence,omitempty"`
	Default    bool       `json:"default,omitempty"`
}

type layerScanner struct {
	a     *Analyzer
	det   *Detector
	facts layerFacts
	// head and body are reused across the files of the layer.
	head, body []byte
}

// NewLayer implements analyze.Analyzer.
func (a *Analyzer) NewLayer(*image.Layer) analyze.LayerScanner {
	return &layerScanner{a: a, det: a.detector()}
}

// File implements analyze.LayerScanner.
func (s *layerScanner) File(ctx context.Context, e *fstree.Entry, r io.Reader) error {
	// Content already in memory is scanned in place.
	whole, inMemory := analyze.Whole(r)
	// Read the head first (one read), to skip large binaries unread.
	var head []byte
	if inMemory {
		head = whole[:min(len(whole), sniffBytes)]
	} else {
		if cap(s.head) < sniffBytes {
			s.head = make([]byte, sniffBytes)
		}
		n, err := io.ReadFull(r, s.head[:min(int64(sniffBytes), max(e.Size, 1))])
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return fmt.Errorf("%s: %w", fstree.Display(e.Path()), err)
		}
		head = s.head[:n]
	}
	binary := bytes.IndexByte(head, 0) >= 0
	if binary && e.Size > s.a.maxBinary() {
		s.facts.Skipped++
		s.facts.SkippedBytes += e.Size
		return nil
	}
	if e.Size > s.a.maxFile() {
		s.facts.Truncated++
	}
	s.facts.Scanned++
	var (
		matches []Match
		ff      = fileFacts{Path: e.Path(), Binary: binary}
	)
	if e.Size <= hashBelow {
		// Small files are read whole, in as few reads as possible.
		b := whole
		if !inMemory {
			if int64(cap(s.body)) < e.Size {
				s.body = make([]byte, e.Size)
			}
			b = s.body[:e.Size]
			n := copy(b, head)
			m, err := io.ReadFull(r, b[n:])
			if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
				return fmt.Errorf("%s: %w", fstree.Display(e.Path()), err)
			}
			b = b[:n+m]
		}
		s.facts.ScannedBytes += int64(len(b))
		if binary {
			s.facts.BinaryBytes += int64(len(b))
		}
		matches = s.det.ScanBytes(b, ff.Path)
		if len(matches) > 0 {
			m := md5.Sum(b)
			h := sha1.Sum(b)
			ff.MD5 = hex.EncodeToString(m[:])
			ff.SHA1 = "Q1" + base64.StdEncoding.EncodeToString(h[:])
		}
	} else {
		src := r // in memory, r was not read: it starts at the head
		if !inMemory {
			src = io.MultiReader(bytes.NewReader(head), r)
		}
		cr := &countReader{r: src}
		var err error
		matches, err = s.det.Scan(cr, ff.Path)
		s.facts.ScannedBytes += cr.n
		if binary {
			s.facts.BinaryBytes += cr.n
		}
		if err != nil {
			return fmt.Errorf("%s: %w", fstree.Display(e.Path()), err)
		}
	}
	if len(matches) == 0 {
		return ctx.Err()
	}
	if len(matches) > MaxMatches {
		matches = matches[:MaxMatches]
	}
	for _, m := range matches {
		mf := matchFact{Rule: m.Rule.ID, Line: m.Line, Redacted: Redact(m.Value), Hash: m.Hash(), Encrypted: m.Encrypted,
			Key: m.Key, Confidence: m.Confidence, Default: m.Default}
		if s.a.ShowSecrets {
			mf.Value = m.Value
		}
		ff.Matches = append(ff.Matches, mf)
	}
	s.facts.Files = append(s.facts.Files, ff)
	return nil
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Facts implements analyze.LayerScanner.
func (s *layerScanner) Facts() (json.RawMessage, error) { return json.Marshal(&s.facts) }
