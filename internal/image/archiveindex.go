package image

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/shipshape-dev/shipshape/internal/cache"
	"github.com/shipshape-dev/shipshape/internal/compress"
)

// An archive index remembers what opening an image read from a compressed
// archive file ("docker save | gzip"): the names and sizes of the
// archive's members and the content of the small ones opening read
// (manifest.json, index.json, configs, manifests) and, for an OCI archive,
// of the small blobs beside the image (signatures: see layoutBlobs). It
// is kept in the layer cache under the SHA-256 of the compressed file, so
// a re-scan of the same file opens the image from it and inflates the
// archive only if a layer is read — never, when every layer's result is
// cached too.
// Hashing the file costs a fraction of inflating it, and the first scan
// hashes it while the archive inflates; a file hashed before and not
// changed since is not hashed again (see fileID).
type archiveIndex struct {
	Version int               `json:"version"`
	Members map[string]int64  `json:"members"`
	Content map[string][]byte `json:"content"`
}

// openCompressed opens the members of a compressed archive file f (at p).
// When opts.ArchiveCache holds the archive's index, the members come from
// it and the archive inflates only when a member outside it is read. The
// index is found under the file's SHA-256, or, for a file already hashed
// and not changed since (see fileID), under the digest recorded then;
// otherwise the archive inflates into a temporary file while its digest is
// taken, and on a miss the members are read from the inflated file and
// recorded until opened is called: opened(img), the image opened, stores
// the index (opened(nil): it did not). closer removes what the store keeps.
func openCompressed(ctx context.Context, p string, f *os.File, kind compress.Kind, opts Options) (store archiveStore, opened func(*Image), closer func() error, err error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("archive %s: %w", p, err)
	}
	size := fi.Size()
	opts.Logger = opts.log().With("archive", p)
	var key string
	id, known := fileIdentity(fi)
	if opts.ArchiveCache != nil && known {
		if sum, ok := loadFileDigest(opts.ArchiveCache, id); ok {
			key = archiveIndexKey(sum)
			if idx, ok := loadArchiveIndex(opts.ArchiveCache, key); ok {
				logIndexFound(opts, idx, "found", "by the file's identity")
				l := openFromIndex(ctx, p, f, size, kind, opts, idx)
				return l, func(*Image) {}, l.close, nil
			}
			opts.Logger.Debug("archive file identity known, its index is not in the cache", "digest", sum)
		}
	}
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		f   *os.File
		by  string
		err error
	}
	inflated := make(chan result, 1)
	inflating := time.Now()
	go func() {
		tmp, by, err := decompressArchive(ictx, f, size, kind, opts)
		inflated <- result{tmp, by, err}
	}()
	if opts.ArchiveCache != nil && key == "" {
		start := time.Now()
		sum, err := fileDigest(ctx, f, size)
		if err != nil {
			opts.Logger.Debug("archive not hashed: its index is not looked up", "err", err)
		} else {
			key = archiveIndexKey(sum)
		}
		switch {
		case err != nil || !known:
		case settled(id, start) && unchanged(f, id):
			storeFileDigest(opts.ArchiveCache, id, sum)
		default:
			// The next scan hashes it again, and records it then.
			opts.Logger.Debug("archive file identity not recorded: the file changed too recently", "changed", time.Unix(0, id.Ctime), "margin", settleTime)
		}
		if idx, ok := loadArchiveIndex(opts.ArchiveCache, key); ok {
			cancel()
			if r := <-inflated; r.f != nil {
				removeTemp(r.f)
			}
			logIndexFound(opts, idx, "found", "by its digest", "digest", sum, "hashed", time.Since(start))
			l := openFromIndex(ctx, p, f, size, kind, opts, idx)
			return l, func(*Image) {}, l.close, nil
		}
	}
	r := <-inflated
	if r.err != nil {
		return nil, nil, nil, fmt.Errorf("archive %s: %w", p, r.err)
	}
	logInflated(opts.Logger, r.f, r.by, inflating)
	t, err := indexTar(ctx, p, r.f)
	if err != nil {
		removeTemp(r.f)
		return nil, nil, nil, err
	}
	closer = func() error { return removeTemp(r.f) }
	if key == "" {
		return t, func(*Image) {}, closer, nil
	}
	rec := newRecordingStore(t)
	opened = func(img *Image) {
		idx := rec.stop(img)
		if idx == nil {
			if img != nil {
				opts.Logger.Debug("archive index not kept: opening read more than an index keeps", "limit", maxIndexContent)
			}
			return
		}
		b, err := json.Marshal(idx)
		if err == nil {
			err = opts.ArchiveCache.Put(key, b)
		}
		if err != nil {
			// A cache that cannot keep it costs the next open an
			// inflate, nothing else.
			opts.Logger.Debug("archive index not kept", "err", err)
			return
		}
		opts.Logger.Debug("archive index kept", "members", len(idx.Members), "kept", len(idx.Content), "bytes", len(b))
	}
	return rec, opened, closer, nil
}

// logIndexFound logs an archive opened from its index idx.
func logIndexFound(opts Options, idx *archiveIndex, args ...any) {
	opts.Logger.Debug("archive opened from its index", append(args, "members", len(idx.Members), "kept", len(idx.Content))...)
}

// openFromIndex opens the archive f (at p, size bytes) from its index. A
// layer read later inflates it within ctx: a scan that stops stops it.
func openFromIndex(ctx context.Context, p string, f *os.File, size int64, kind compress.Kind, opts Options, idx *archiveIndex) *lazyStore {
	lctx, stop := context.WithCancel(ctx)
	l := &lazyStore{name: p, idx: idx, stop: stop, log: opts.Logger}
	l.inflate = func() (*os.File, *tarStore, error) {
		start := time.Now()
		tmp, by, err := decompressArchive(lctx, f, size, kind, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("archive %s: %w", p, err)
		}
		logInflated(opts.Logger, tmp, by, start)
		t, err := indexTar(lctx, p, tmp)
		return tmp, t, err
	}
	return l
}

// archiveIndexVersion changes whenever what opening reads, or how the
// index is written, changes.
const archiveIndexVersion = 2

// maxIndexContent bounds the member content an index keeps: an archive
// whose metadata is bigger is not indexed.
const maxIndexContent = 64 << 20

// maxMembers bounds an archive's members (indexTar's bound).
const maxMembers = 1 << 20

func archiveIndexKey(fileDigest string) string {
	return cache.Key("archive-index", strconv.Itoa(archiveIndexVersion), fileDigest)
}

// loadArchiveIndex reads the index under key; no store or key, and
// anything missing, unreadable or inconsistent, is a miss.
func loadArchiveIndex(s cache.Store, key string) (*archiveIndex, bool) {
	if s == nil || key == "" {
		return nil, false
	}
	b, ok := s.Get(key)
	if !ok {
		return nil, false
	}
	var idx archiveIndex
	if err := json.Unmarshal(b, &idx); err != nil || idx.Version != archiveIndexVersion ||
		len(idx.Members) == 0 || len(idx.Members) > maxMembers {
		return nil, false
	}
	var total int64
	for name, c := range idx.Content {
		if size, ok := idx.Members[name]; !ok || size != int64(len(c)) {
			return nil, false
		}
		total += int64(len(c))
	}
	if total > maxIndexContent {
		return nil, false
	}
	return &idx, true
}

// fileDigest is the SHA-256 of the file's first size bytes (all of it),
// read independently of its offset.
func fileDigest(ctx context.Context, f *os.File, size int64) (string, error) {
	h := sha256.New()
	if _, err := io.CopyBuffer(h, ctxReader{ctx, io.NewSectionReader(f, 0, size)}, make([]byte, 1<<20)); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// recordingStore is a tarStore that, until stop, keeps the content of the
// members it opens, for an archive index.
type recordingStore struct {
	*tarStore
	stopped atomic.Bool

	mu      sync.Mutex
	content map[string][]byte
	total   int64
	over    bool // more was read than an index keeps
}

func newRecordingStore(t *tarStore) *recordingStore {
	return &recordingStore{tarStore: t, content: map[string][]byte{}}
}

func (r *recordingStore) open(name string) (io.ReadCloser, int64, error) {
	rc, size, err := r.tarStore.open(name)
	if err != nil || r.stopped.Load() {
		return rc, size, err
	}
	if size > maxMetadataBytes {
		// No metadata is this big; whatever opened it reads on its own.
		r.mu.Lock()
		r.over = true
		r.mu.Unlock()
		return rc, size, nil
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, 0, fmt.Errorf("%s: member %s: %w", r.name, name, err)
	}
	r.mu.Lock()
	if _, ok := r.content[memberName(name)]; !ok {
		r.content[memberName(name)] = b
		r.total += int64(len(b))
		r.over = r.over || r.total > maxIndexContent
	}
	r.mu.Unlock()
	return io.NopCloser(bytes.NewReader(b)), size, nil
}

// stop ends the recording and returns the index of the image img opened
// from the archive, or nil when it did not open (img nil) or the archive
// read more than an index keeps. Beside what opening read, the index keeps
// the small blobs of a layout that are not img's layers (see layoutBlobs).
func (r *recordingStore) stop(img *Image) *archiveIndex {
	r.stopped.Store(true)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.over || img == nil {
		return nil
	}
	idx := &archiveIndex{Version: archiveIndexVersion, Members: make(map[string]int64, len(r.members)), Content: r.content}
	for name, s := range r.members {
		idx.Members[name] = s.size
	}
	if keep := layoutBlobs(img); keep != nil {
		r.keepBlobs(idx, keep, min(maxIndexBlobs, maxIndexContent-r.total))
	}
	return idx
}

// maxIndexBlob, maxIndexBlobs and maxIndexBlobCount bound the blobs
// beside an image that an index keeps: each, in all, and how many.
const (
	maxIndexBlob      = 256 << 10
	maxIndexBlobs     = 8 << 20
	maxIndexBlobCount = 4096
)

// layoutBlobs tells which members an index of img keeps beyond what
// opening read: for an OCI layout, the blobs beside the image — the
// signatures, attestations and referrers that content trust (P6) reads
// after opening — but never the image's layers. nil for other archives.
func layoutBlobs(img *Image) func(name string) bool {
	if img.Layout == nil {
		return nil
	}
	layers := make(map[string]bool, len(img.Layers))
	for _, l := range img.Layers {
		layers[blobPath(l.Digest)] = true
	}
	return func(name string) bool { return strings.HasPrefix(name, "blobs/") && !layers[name] }
}

// keepBlobs adds to idx the content of the members keep picks, each up to
// maxIndexBlob, in name order while budget and maxIndexBlobCount last. A
// member that cannot be read is left out: reading it later inflates the
// archive.
func (r *recordingStore) keepBlobs(idx *archiveIndex, keep func(string) bool, budget int64) {
	names := make([]string, 0, len(r.members))
	for name, s := range r.members {
		if _, ok := idx.Content[name]; !ok && s.size <= maxIndexBlob && keep(name) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	kept := 0
	for _, name := range names {
		if kept == maxIndexBlobCount {
			break
		}
		size := r.members[name].size
		if size > budget {
			continue
		}
		rc, _, err := r.tarStore.open(name)
		if err != nil {
			continue
		}
		b, err := io.ReadAll(io.LimitReader(rc, size+1))
		rc.Close()
		if err != nil || int64(len(b)) != size {
			continue
		}
		idx.Content[name] = b
		budget -= size
		kept++
	}
}

// lazyStore opens an archive from its index: the members the index holds
// are read from it, and the first other member read inflates the archive
// (inflate, once) into a temporary file that close removes.
type lazyStore struct {
	name    string
	idx     *archiveIndex
	inflate func() (*os.File, *tarStore, error)
	stop    context.CancelFunc // stops inflate
	log     *slog.Logger

	once sync.Once
	tmp  *os.File
	tar  *tarStore
	err  error
}

// close stops an inflate in progress, waits for it and removes its file.
func (l *lazyStore) close() error {
	l.stop()
	l.once.Do(func() { l.err = errors.New("image closed") })
	if l.tmp != nil {
		return removeTemp(l.tmp)
	}
	return nil
}

func (l *lazyStore) where() string { return l.name }

func (l *lazyStore) has(name string) bool {
	_, ok := l.idx.Members[memberName(name)]
	return ok
}

func (l *lazyStore) size(name string) (int64, error) {
	size, ok := l.idx.Members[memberName(name)]
	if !ok {
		return 0, fmt.Errorf("%s: no member %q: %w", l.name, name, os.ErrNotExist)
	}
	return size, nil
}

func (l *lazyStore) open(name string) (io.ReadCloser, int64, error) {
	want, err := l.size(name)
	if err != nil {
		return nil, 0, err
	}
	if b, ok := l.idx.Content[memberName(name)]; ok {
		return io.NopCloser(bytes.NewReader(b)), want, nil
	}
	l.once.Do(func() {
		l.log.Debug("archive inflates: a member not in its index is read", "member", name)
		l.tmp, l.tar, l.err = l.inflate()
	})
	if l.err != nil {
		return nil, 0, l.err
	}
	rc, size, err := l.tar.open(name)
	if err == nil && size != want {
		rc.Close()
		err = fmt.Errorf("%s: member %s is %d bytes, its index says %d: %w", l.name, name, size, want, errArchiveChanged)
	}
	return rc, size, err
}

// errArchiveChanged: the archive file no longer holds what it held when
// it was opened.
var errArchiveChanged = errors.New("the archive changed while open")
