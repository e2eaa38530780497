package image

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"

	"github.com/shipshape-dev/shipshape/internal/compress"
	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// bigArchive is a docker-save archive (Docker 25+ layout, uncompressed)
// whose random content keeps it past compress.HelperMinBytes once gzipped.
func bigArchive(t *testing.T) []byte {
	t.Helper()
	noise := imagetest.Noise(compress.HelperMinBytes+1<<20, 5)
	img := imagetest.Image{Layers: []imagetest.Layer{
		{Files: []imagetest.File{imagetest.Dir("etc/"), imagetest.Reg("etc/hostname", "box\n")}},
		{Files: []imagetest.File{imagetest.Reg("app/blob.bin", string(noise))}},
	}}
	p := filepath.Join(t.TempDir(), "saved.tar")
	img.WriteDockerArchive(t, p, false)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// gzipMembers gzips each part as a member of its own, concatenated.
func gzipMembers(t *testing.T, parts ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, p := range parts {
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(p); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// layerSums opens ref and returns each layer's SHA-256, as read.
func layerSums(t *testing.T, ref string, opts Options) ([]string, error) {
	t.Helper()
	img, err := Open(context.Background(), ref, opts)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	return readLayers(t, img), nil
}

// readLayers reads every layer of img, each from a local file, and
// returns their SHA-256s.
func readLayers(t *testing.T, img *Image) []string {
	t.Helper()
	var sums []string
	for _, l := range img.Layers {
		rc, err := l.Open(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := rc.(LocalBlob); !ok {
			t.Errorf("layer %d is not read from a local file (%T)", l.Index, rc)
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		sums = append(sums, "sha256:"+hex.EncodeToString(h.Sum(nil)))
	}
	return sums
}

// TestGzipArchiveHelper opens gzip docker-save archives ("docker save |
// gzip") through the gzip helper and in process: the same layers, the
// same errors, and no temporary file left behind.
func TestGzipArchiveHelper(t *testing.T) {
	helper, runs := testenv.CountedBinary(t, compress.HelperName) // Debian package isal
	tarball := bigArchive(t)
	half := len(tarball) / 2
	one := gzipMembers(t, tarball)
	corrupt := bytes.Clone(one)
	for i := len(corrupt) / 2; i < len(corrupt)/2+64; i++ {
		corrupt[i] ^= 0x55
	}
	small := imagetest.Image{Layers: []imagetest.Layer{{Files: []imagetest.File{imagetest.Reg("etc/hostname", "box\n")}}}}
	smallPath := filepath.Join(t.TempDir(), "small.tar")
	small.WriteDockerArchive(t, smallPath, false)
	smallTar, err := os.ReadFile(smallPath)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		file    []byte
		src     []byte // file, uncompressed
		max     int64
		helped  bool   // the helper runs
		wantErr string // both ways; "" opens the image
	}{
		{name: "one member", file: one, src: tarball, helped: true},
		// igzip reads on, as gzip does; the output is not the one member
		// that ends the file, so it is inflated again in process.
		{name: "two members", file: gzipMembers(t, tarball[:half], tarball[half:]), src: tarball, helped: true},
		// igzip would ignore the extra bytes; the in-process inflater,
		// which the helper's output falls back to, rejects them.
		{name: "bytes after the member", file: append(bytes.Clone(one), "garbage!"...), helped: true, wantErr: "gzip"},
		{name: "corrupt", file: corrupt, helped: true, wantErr: "gzip"},
		{name: "too big", file: one, max: int64(len(tarball)) - 1, helped: true, wantErr: "decompresses to more than"},
		{name: "below the helper size", file: gzipMembers(t, smallTar), src: smallTar},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ref := "docker-archive:" + fileOf(t, tt.file)
			var want []string
			if tt.src != nil {
				var err error
				if want, err = layerSums(t, "docker-archive:"+fileOf(t, tt.src), Options{}); err != nil {
					t.Fatal(err)
				}
			}
			for _, h := range []string{helper, ""} {
				tmp := t.TempDir()
				before := runs()
				got, err := layerSums(t, ref, Options{GzipHelper: h, TempDir: tmp, MaxArchiveBytes: tt.max})
				if err != nil {
					t.Logf("helper %q: %v", h, err)
				}
				if n := runs() - before; n != map[bool]int{true: 1}[tt.helped && h != ""] {
					t.Errorf("helper %q: the helper ran %d times", h, n)
				}
				if left, _ := os.ReadDir(tmp); len(left) != 0 {
					t.Errorf("helper %q: %d files left in the temporary directory", h, len(left))
				}
				switch {
				case tt.wantErr != "":
					if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), ref[len("docker-archive:"):]) {
						t.Errorf("helper %q: error %v, want one naming the archive and %q", h, err, tt.wantErr)
					}
				case err != nil:
					t.Errorf("helper %q: %v", h, err)
				case len(want) == 0 || strings.Join(got, " ") != strings.Join(want, " "):
					t.Errorf("helper %q: layers %v, want %v", h, got, want)
				}
			}
		})
	}
}

// TestInflateByHelperTrailer checks the helper's output is kept only when
// it is the one gzip member that ends the file.
func TestInflateByHelperTrailer(t *testing.T) {
	helper := testenv.Binary(t, compress.HelperName) // Debian package isal
	data := bytes.Repeat([]byte("usr/share/doc/example/copyright\n"), 1<<16)
	one := gzipMembers(t, data)
	tests := []struct {
		name string
		file []byte
		want error
	}{
		{"one member", one, nil},
		{"two members", gzipMembers(t, data[:100], data[100:]), errUnmatchedTrailer},
		{"bytes after the member", append(bytes.Clone(one), 0, 0, 0, 0), errUnmatchedTrailer},
		{"an empty member after it", append(bytes.Clone(one), gzipMembers(t, nil)...), errUnmatchedTrailer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := os.Open(fileOf(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			dir := t.TempDir()
			tmp, err := inflateByHelper(context.Background(), f, int64(len(tt.file)), Options{GzipHelper: helper, TempDir: dir, MaxArchiveBytes: 1 << 30})
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if err != nil {
				if left, _ := os.ReadDir(dir); len(left) != 0 {
					t.Errorf("%d files left in the temporary directory", len(left))
				}
				return
			}
			defer removeTemp(tmp)
			got, err := io.ReadAll(tmp)
			if err != nil || !bytes.Equal(got, data) {
				t.Errorf("the output (%d bytes, %v) is not the data (%d bytes)", len(got), err, len(data))
			}
		})
	}
}

// fileOf writes b to a new file and returns its path.
func fileOf(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "archive")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// memCache is a cache.Store in memory.
type memCache map[string][]byte

func (m memCache) Get(key string) ([]byte, bool)  { b, ok := m[key]; return b, ok }
func (m memCache) Put(key string, b []byte) error { m[key] = bytes.Clone(b); return nil }

// TestArchiveIndex opens a gzip docker-save archive twice with an archive
// cache: the second open reads the image from the index, inflating the
// archive (once) only when a layer is read; the image is the same. A
// damaged index is a miss.
func TestArchiveIndex(t *testing.T) {
	helper, runs := testenv.CountedBinary(t, compress.HelperName) // Debian package isal
	tarball := bigArchive(t)
	path := fileOf(t, gzipMembers(t, tarball))
	ref := "docker-archive:" + path
	want, err := layerSums(t, "docker-archive:"+fileOf(t, tarball), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// The file settles, so that the first open records its digest too.
	time.Sleep(settleTime)
	// Off Linux no file identity is kept: the index is the one entry.
	id, known := statID(t, path)
	idKey, entries := fileIDKey(id), 1
	if known {
		entries = 2
	}
	// open opens ref, checks what the helper did and what it left, and
	// reads every layer (which inflates the archive if the open did not).
	open := func(t *testing.T, h string, c memCache, fromIndex bool) *Image {
		t.Helper()
		tmp := t.TempDir()
		before := runs()
		img, err := Open(context.Background(), ref, Options{GzipHelper: h, TempDir: tmp, ArchiveCache: c})
		if err != nil {
			t.Fatal(err)
		}
		// Opened from the index, the archive is not inflated: an inflate
		// started beside the digest was stopped and its file removed.
		inflated := map[bool]int{false: 1}[fromIndex]
		if left, _ := os.ReadDir(tmp); len(left) != inflated {
			t.Errorf("%d files in the temporary directory after opening, want %d", len(left), inflated)
		}
		if n := runs() - before; h != "" && (n > 1 || !fromIndex && n != 1) {
			t.Errorf("opening ran the helper %d times", n)
		}
		before = runs()
		var got []string
		for range 2 { // the second time, nothing is inflated again
			got = readLayers(t, img)
		}
		if n := runs() - before; h != "" && n != 1-inflated {
			t.Errorf("reading every layer twice ran the helper %d times, want %d", n, 1-inflated)
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("layers %v, want %v", got, want)
		}
		if err := img.Close(); err != nil {
			t.Fatal(err)
		}
		if left, _ := os.ReadDir(tmp); len(left) != 0 {
			t.Errorf("%d files left in the temporary directory", len(left))
		}
		return img
	}
	for _, h := range []string{helper, ""} {
		t.Run(map[bool]string{true: "helper", false: "in process"}[h != ""], func(t *testing.T) {
			c := memCache{}
			first := open(t, h, c, false)
			if _, ok := c[idKey]; len(c) != entries || ok != known {
				t.Fatalf("%d cache entries after the first open (file's digest kept: %v), want the archive's index and, on Linux, its file's digest", len(c), ok)
			}
			second := open(t, h, c, true)
			if string(second.RawConfig) != string(first.RawConfig) || second.ConfigDigest != first.ConfigDigest ||
				strings.Join(second.RepoTags, ",") != strings.Join(first.RepoTags, ",") || len(second.Layers) != len(first.Layers) {
				t.Errorf("the image opened from the index differs: config %s tags %v, want %s %v", second.ConfigDigest, second.RepoTags, first.ConfigDigest, first.RepoTags)
			}
			for i, l := range second.Layers {
				if f := first.Layers[i]; l.Digest != f.Digest || l.DiffID != f.DiffID || l.Size != f.Size || l.CreatedBy != f.CreatedBy {
					t.Errorf("layer %d from the index = %+v, want %+v", i+1, *l, *f)
				}
			}
			for key, b := range c {
				if key == idKey {
					continue
				}
				for _, damaged := range [][]byte{
					[]byte("{"),
					bytes.Replace(b, fmt.Appendf(nil, `"version":%d`, archiveIndexVersion), []byte(`"version":0`), 1),
					bytes.Replace(b, []byte(`"content":{"`), []byte(`"content":{"x`), 1), // content of no member
				} {
					if bytes.Equal(damaged, b) {
						t.Fatalf("the index was not damaged: %.200s", b)
					}
					c[key] = damaged
					open(t, h, c, false) // a miss: inflated when opened
				}
			}
		})
	}
}

// TestArchiveIndexClosedWhileInflating closes an image opened from its
// index while a layer read is inflating the archive: the read fails or
// ends, and nothing is left behind. And the context Open was given stops
// such an inflate too.
func TestArchiveIndexClosedWhileInflating(t *testing.T) {
	tarball := bigArchive(t)
	ref := "docker-archive:" + fileOf(t, gzipMembers(t, tarball))
	c := memCache{}
	img, err := Open(context.Background(), ref, Options{ArchiveCache: c})
	if err != nil {
		t.Fatal(err)
	}
	img.Close()
	tmp := t.TempDir()
	img, err = Open(context.Background(), ref, Options{ArchiveCache: c, TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		rc, err := img.Layers[len(img.Layers)-1].Open(context.Background())
		if err == nil {
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
		}
		done <- err
	}()
	img.Close()
	<-done
	if _, err := img.Layers[0].Open(context.Background()); err == nil {
		t.Error("a layer of a closed image opened")
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("%d files left in the temporary directory", len(left))
	}

	ctx, cancel := context.WithCancel(context.Background())
	img, err = Open(ctx, ref, Options{ArchiveCache: c, TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	cancel()
	if _, err := img.Layers[0].Open(context.Background()); !errors.Is(err, context.Canceled) {
		t.Errorf("a layer read after Open's context ended: %v, want it canceled", err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("%d files left in the temporary directory", len(left))
	}
}

// statID is the fileID of the file at p; false off Linux, where
// fileIdentity knows none.
func statID(t *testing.T, p string) (fileID, bool) {
	t.Helper()
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	id, ok := fileIdentity(fi)
	if !ok && runtime.GOOS == "linux" {
		t.Fatalf("no file identity for %s", p)
	}
	return id, ok
}

// TestArchiveFileID opens a gzip archive whose file was hashed before:
// the index is found under the digest recorded for the unchanged file,
// without hashing it; once the file changes (its change time does), it is
// hashed again.
func TestArchiveFileID(t *testing.T) {
	path := fileOf(t, gzipMembers(t, bigArchive(t)))
	ref := "docker-archive:" + path
	time.Sleep(settleTime)
	id, known := statID(t, path)
	if !known {
		// Not a missing dependency: fileid_other.go keeps no identity.
		// CI runs on Linux, where this test always runs.
		t.Skipf("file identities are kept on Linux only, not on %s", runtime.GOOS)
	}
	c := memCache{}
	img, err := Open(context.Background(), ref, Options{ArchiveCache: c})
	if err != nil {
		t.Fatal(err)
	}
	img.Close()
	sum, ok := loadFileDigest(c, id)
	if !ok {
		t.Fatal("the first open recorded no digest for the settled file")
	}
	// The index moves to another digest, and the file's entry with it: an
	// open that hashed the file would miss it and inflate the archive.
	other := "sha256:" + strings.Repeat("f", 64)
	c[archiveIndexKey(other)] = c[archiveIndexKey(sum)]
	delete(c, archiveIndexKey(sum))
	storeFileDigest(c, id, other)
	// opens opens ref and returns the files the archive left in the
	// temporary directory (1: inflated, 0: opened from an index). An open
	// that hashed the file keeps an index under its digest: that is
	// removed first.
	opens := func() int {
		t.Helper()
		delete(c, archiveIndexKey(sum))
		tmp := t.TempDir()
		img, err := Open(context.Background(), ref, Options{ArchiveCache: c, TempDir: tmp})
		if err != nil {
			t.Fatal(err)
		}
		defer img.Close()
		left, _ := os.ReadDir(tmp)
		return len(left)
	}
	if n := opens(); n != 0 {
		t.Errorf("the unchanged file's archive was inflated (%d files): its recorded digest was not used", n)
	}
	for _, damaged := range [][]byte{
		[]byte("{"),
		[]byte(`{"file":{"dev":1},"digest":"` + other + `"}`),                   // another file
		bytes.Replace(c[fileIDKey(id)], []byte(other), []byte("sha256:abc"), 1), // no digest
	} {
		c[fileIDKey(id)] = damaged
		if n := opens(); n != 1 {
			t.Errorf("with the file's entry %.80s, the archive was not hashed and inflated", damaged)
		}
	}
	storeFileDigest(c, id, other)
	// The modification time set back as it was, as a tool that rewrites
	// a file in place may: only the change time tells.
	mtime := time.Unix(0, id.Mtime)
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	if now, _ := statID(t, path); now.Mtime != id.Mtime || now.Ctime == id.Ctime {
		t.Fatalf("file times %+v after Chtimes, was %+v", now, id)
	}
	if n := opens(); n != 1 {
		t.Errorf("the changed file was known by its old digest (%d files)", n)
	}
}

func TestSettled(t *testing.T) {
	start := time.Unix(1000, 0)
	for _, tc := range []struct {
		ctime time.Time
		want  bool
	}{
		{time.Unix(0, 0), false}, // unknown
		{start.Add(-time.Hour), true},
		{start.Add(-settleTime), true},
		{start.Add(-settleTime + 1), false},
		{start, false},
		{start.Add(time.Hour), false}, // written since
	} {
		if got := settled(fileID{Ctime: tc.ctime.UnixNano()}, start); got != tc.want {
			t.Errorf("settled(ctime %v, start %v) = %v, want %v", tc.ctime, start, got, tc.want)
		}
	}
}

// TestArchiveIndexLayoutBlobs re-opens a gzip OCI archive whose layout
// holds a signature beside the image (as cosign save writes it): the
// signature's blobs come from the index, without inflating the archive; a
// layer, however small, and a blob beside the image bigger than an index
// keeps, inflate it.
func TestArchiveIndexLayoutBlobs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layout")
	imagetest.Image{Layers: []imagetest.Layer{
		{Files: []imagetest.File{imagetest.Dir("etc/"), imagetest.Reg("etc/hostname", "box\n")}},
	}}.WriteOCILayout(t, dir)
	lp, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	beside := func(content []byte, kind string) v1.Image {
		t.Helper()
		img, err := mutate.AppendLayers(empty.Image, static.NewLayer(content, "application/vnd.dev.cosign.simplesigning.v1+json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{"kind": kind})); err != nil {
			t.Fatal(err)
		}
		return img
	}
	sig := beside([]byte(`{"critical":{"type":"cosign container image signature"}}`), "dev.cosignproject.cosign/sigs")
	att := beside(imagetest.Noise(maxIndexBlob+1, 7), "dev.cosignproject.cosign/atts")
	// Many more tiny blobs than an index keeps, all named after the
	// signature's (blobs/sha512 sorts after blobs/sha256), so that the
	// signature's are kept first.
	if err := os.Mkdir(filepath.Join(dir, "blobs", "sha512"), 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range maxIndexBlobCount + 10 {
		name := filepath.Join(dir, "blobs", "sha512", fmt.Sprintf("%0128x", i))
		if err := os.WriteFile(name, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var tarball bytes.Buffer
	if err := tarDir(context.Background(), dir, &tarball); err != nil {
		t.Fatal(err)
	}
	ref := "oci-archive:" + fileOf(t, gzipMembers(t, tarball.Bytes()))
	c := memCache{}
	img, err := Open(context.Background(), ref, Options{ArchiveCache: c})
	if err != nil {
		t.Fatal(err)
	}
	img.Close()
	for key := range c {
		if idx, ok := loadArchiveIndex(c, key); !ok || len(idx.Content) > maxIndexBlobCount+3 {
			t.Fatalf("the index keeps %d members' content, want at most %d blobs beside what opening read", len(idx.Content), maxIndexBlobCount)
		}
	}

	// blobs are the digests of an image's manifest, config and layers.
	blobs := func(img v1.Image) []v1.Hash {
		t.Helper()
		m, err := img.Manifest()
		if err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		hs := []v1.Hash{d, m.Config.Digest}
		for _, l := range m.Layers {
			hs = append(hs, l.Digest)
		}
		return hs
	}
	// read opens ref, reads what read is given, and returns how many
	// files the archive left in the temporary directory: 1 once inflated.
	read := func(what func(img *Image) error) int {
		t.Helper()
		tmp := t.TempDir()
		img, err := Open(context.Background(), ref, Options{ArchiveCache: c, TempDir: tmp})
		if err != nil {
			t.Fatal(err)
		}
		defer img.Close()
		if err := what(img); err != nil {
			t.Fatal(err)
		}
		left, _ := os.ReadDir(tmp)
		return len(left)
	}
	blob := func(h v1.Hash) func(*Image) error {
		return func(img *Image) error {
			b, err := img.Layout.Blob(h)
			if err == nil && fmt.Sprintf("%x", sha256.Sum256(b)) != h.Hex {
				err = fmt.Errorf("blob %s: read %d bytes of other content", h, len(b))
			}
			return err
		}
	}
	for _, h := range blobs(sig) {
		if n := read(blob(h)); n != 0 {
			t.Errorf("reading the signature's blob %s inflated the archive", h)
		}
	}
	attBlobs := blobs(att)
	if n := read(blob(attBlobs[len(attBlobs)-1])); n != 1 {
		t.Errorf("a blob bigger than an index keeps was read from it (%d files)", n)
	}
	if n := read(func(img *Image) error { readLayers(t, img); return nil }); n != 1 {
		t.Errorf("the image's layer was read from the index (%d files)", n)
	}
}

// logRecords collects the debug records a logger writes, each as its
// message and attributes.
type logRecords struct{ buf bytes.Buffer }

func (r *logRecords) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(&r.buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// take returns the records written since the last take and forgets them.
func (r *logRecords) take(t *testing.T) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for line := range strings.Lines(r.buf.String()) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		recs = append(recs, m)
	}
	r.buf.Reset()
	return recs
}

// TestArchiveOpenLog follows a gzip archive from a fresh file to a warm
// re-scan in the debug log, which tells a user why a re-scan was or was
// not fast: each step logs what it did, and nothing it did not.
func TestArchiveOpenLog(t *testing.T) {
	helper := testenv.Binary(t, compress.HelperName) // Debian package isal
	tarball := bigArchive(t)
	path := fileOf(t, gzipMembers(t, tarball))
	ref := "docker-archive:" + path
	size := float64(len(tarball))
	if _, known := statID(t, path); !known {
		// Not a missing dependency: fileid_other.go keeps no identity.
		// CI runs on Linux, where this test always runs.
		t.Skipf("file identities are kept on Linux only, not on %s", runtime.GOOS)
	}
	c := memCache{}
	var rec logRecords
	type want struct {
		msg   string
		attrs map[string]any // each must be there, with this value
	}
	for _, step := range []struct {
		name   string
		before func()
		cache  memCache
		read   bool // read every layer after opening
		want   []want
	}{
		{name: "fresh file", before: func() {
			// Changed just now: too recently to record its identity.
			if err := os.Chmod(path, 0o640); err != nil {
				t.Fatal(err)
			}
		}, cache: c, want: []want{
			{"archive file identity not recorded: the file changed too recently", nil},
			{"archive inflated", map[string]any{"by": helper, "bytes": size}},
			{"archive index kept", map[string]any{"archive": path}},
		}},
		{name: "settled file, hashed", before: func() { time.Sleep(settleTime) }, cache: c, want: []want{
			{"archive opened from its index", map[string]any{"found": "by its digest"}},
		}},
		{name: "identity", cache: c, read: true, want: []want{
			{"archive opened from its index", map[string]any{"found": "by the file's identity"}},
			{"archive inflates: a member not in its index is read", nil},
			{"archive inflated", map[string]any{"by": helper, "bytes": size}},
		}},
		{name: "index lost", before: func() {
			id, _ := statID(t, path)
			for k := range c {
				if k != fileIDKey(id) {
					delete(c, k)
				}
			}
		}, cache: c, want: []want{
			{"archive file identity known, its index is not in the cache", nil},
			{"archive inflated", map[string]any{"by": helper, "bytes": size}},
			{"archive index kept", nil},
		}},
		{name: "no cache", want: []want{
			{"archive inflated", map[string]any{"by": helper, "bytes": size}},
		}},
	} {
		if step.before != nil {
			step.before()
		}
		opts := Options{GzipHelper: helper, TempDir: t.TempDir(), Logger: rec.logger()}
		if step.cache != nil {
			opts.ArchiveCache = step.cache
		}
		img, err := Open(context.Background(), ref, opts)
		if err != nil {
			t.Fatal(err)
		}
		if step.read {
			readLayers(t, img)
		}
		img.Close()
		// The inflate runs beside the hash: records are matched by
		// message, in any order.
		got := map[string]map[string]any{}
		var msgs []string
		for _, r := range rec.take(t) {
			msg, _ := r["msg"].(string)
			got[msg] = r
			msgs = append(msgs, msg)
		}
		if len(msgs) != len(step.want) || len(got) != len(msgs) {
			t.Errorf("%s: logged %q, want %d records", step.name, msgs, len(step.want))
			continue
		}
		for _, w := range step.want {
			r, ok := got[w.msg]
			if !ok || r["archive"] != path || r["level"] != "DEBUG" {
				t.Errorf("%s: logged %q, want %q about %s", step.name, msgs, w.msg, path)
				continue
			}
			for k, v := range w.attrs {
				if r[k] != v {
					t.Errorf("%s: record %q has %s=%v, want %v", step.name, w.msg, k, r[k], v)
				}
			}
		}
	}
	// Two gzip members are more than the helper inflates: the log says
	// the archive went in process instead, and why.
	two := fileOf(t, gzipMembers(t, tarball[:len(tarball)/2], tarball[len(tarball)/2:]))
	img, err := Open(context.Background(), "docker-archive:"+two, Options{GzipHelper: helper, TempDir: t.TempDir(), Logger: rec.logger()})
	if err != nil {
		t.Fatal(err)
	}
	img.Close()
	recs := rec.take(t)
	if want := "in process (not one gzip member, as " + helper + " needs)"; len(recs) != 1 || recs[0]["msg"] != "archive inflated" || recs[0]["by"] != want || recs[0]["bytes"] != size {
		t.Errorf("two gzip members: logged %v, want the archive inflated %s", recs, want)
	}
}
