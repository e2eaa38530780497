package cli_test

import (
	"archive/tar"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
)

// TestHostileImages scans a corpus of hostile images. Each one must give a
// correct result (exit 0, with a warning where the input was odd) or a clear
// error (exit 2) naming the layer or file and the reason — never a panic,
// and nothing left in the temporary or cache directories afterwards.
func TestHostileImages(t *testing.T) {
	base := imagetest.Layer{Files: []imagetest.File{imagetest.Dir("etc/"), imagetest.Reg("etc/passwd", "root:x:0:0::/root:/bin/sh\n")}}
	one := func(l imagetest.Layer) imagetest.Image {
		return imagetest.Image{RepoTag: "hostile/test:1", Layers: []imagetest.Layer{base, l}}
	}
	layered := func(files ...imagetest.File) imagetest.Image { return one(imagetest.Layer{Files: files}) }
	tests := []struct {
		name  string
		img   imagetest.Image
		oci   bool
		flags []string
		code  int
		want  []string // in stderr (errors) or in the JSON report (exit 0)
	}{
		{name: "path traversal", img: layered(imagetest.Reg("../../../etc/cron.d/evil", "x"), imagetest.Reg("/abs/file", "y")),
			want: []string{`entry \"../../../etc/cron.d/evil\" leaves the image root; read as /etc/cron.d/evil`, `entry \"/abs/file\" leaves the image root`}},
		{name: "symlinks out of the root and in a loop", img: layered(imagetest.Symlink("escape", "../../../../../etc/shadow"), imagetest.Symlink("a", "b"), imagetest.Symlink("b", "a"), imagetest.Symlink("abs", "/proc/self/root"))},
		{name: "hardlinks outside and missing", img: layered(imagetest.Hardlink("h1", "../../../etc/shadow"), imagetest.Hardlink("h2", "no/such/file")),
			want: []string{`hardlink /h1 points to \"../../../etc/shadow\", outside the image root`, `hardlink /h2 points to /no/such/file, which is not a file earlier in the layer`}},
		{name: "gzip bomb", img: one(imagetest.GzipBomb(256 << 20)), flags: []string{"--max-layer-bytes", "67108864"}, code: 2,
			want: []string{"layer 2", "uncompressed layer is larger than 67108864 bytes"}},
		{name: "too many entries", img: one(imagetest.ManyEntries(5000)), flags: []string{"--max-entries", "1000"}, code: 2,
			want: []string{"layer 2", "more than 1000 entries"}},
		{name: "sparse 1 TiB file", img: layered(imagetest.File{Name: "huge.img", Sparse: true, Size: 1 << 40, Content: []byte("head")})},
		{name: "malformed manifest", img: imagetest.Image{Layers: []imagetest.Layer{base}, RawManifest: []byte(`[{"Config": 12`)}, code: 2,
			want: []string{"manifest.json: malformed JSON"}},
		{name: "malformed config", img: imagetest.Image{Layers: []imagetest.Layer{base}, RawConfig: []byte(`{"rootfs": {"diff_ids": [1,2`)}, code: 2,
			want: []string{"config", "malformed config JSON"}},
		{name: "config names too few layers", img: imagetest.Image{Layers: []imagetest.Layer{base}, RawConfig: []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)}, code: 2,
			want: []string{"config lists 0 layer diffIDs but the image has 1 layers"}},
		{name: "truncated layer", img: one(imagetest.Layer{Raw: base.Tar()[:700]}), code: 2,
			want: []string{"layer 2", "unexpected EOF"}},
		{name: "diffID mismatch", img: imagetest.Image{Layers: []imagetest.Layer{base, base}, WrongDiffID: 2}, code: 2,
			want: []string{"layer 2", "diffID mismatch"}},
		{name: "digest mismatch", img: imagetest.Image{Layers: []imagetest.Layer{base, {Compression: imagetest.Gzip, Files: base.Files}}, WrongDigest: 2}, oci: true, code: 2,
			want: []string{"layer 2", "digest mismatch"}},
		{name: "whiteout of the root", img: layered(imagetest.File{Name: ".wh.", Type: tar.TypeReg}, imagetest.File{Name: "./.wh..", Type: tar.TypeReg}),
			want: []string{`whiteout \".wh.\" names no file; ignored`}},
		{name: "duplicate entries", img: layered(imagetest.Reg("etc/passwd", "a"), imagetest.Reg("etc/passwd", "b"))},
		{name: "non-UTF-8 names", img: layered(imagetest.Reg("bad\xff\xfename", "x"), imagetest.Reg("../\xc3(", "y")),
			want: []string{`entry \"../\\xc3(\" leaves the image root; read as /\\xc3(`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tmp := filepath.Join(dir, "tmp")
			cacheDir := filepath.Join(dir, "cache")
			os.Mkdir(tmp, 0o700)
			t.Setenv("TMPDIR", tmp)
			p := filepath.Join(dir, "img.tar")
			ref := "docker-archive:" + p
			if tt.oci {
				if _, err := tt.img.WriteOCIArchiveTo(mustCreate(t, p)); err != nil {
					t.Fatal(err)
				}
				ref = "oci-archive:" + p
			} else if _, err := tt.img.WriteDockerArchiveTo(mustCreate(t, p), false); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"scan", "--format", "json", "--cache-dir", cacheDir}, tt.flags...)
			r := run(t, append(args, ref)...)
			if r.code != tt.code {
				t.Fatalf("exit %d, want %d; stderr: %s", r.code, tt.code, r.stderr)
			}
			if strings.Contains(r.stderr, "internal error") || strings.Contains(r.stderr, "panic") {
				t.Fatalf("panic: %s", r.stderr)
			}
			out := r.stdout
			if tt.code != 0 {
				out = r.stderr
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if entries, _ := os.ReadDir(tmp); len(entries) > 0 {
				t.Errorf("files left in TMPDIR: %v", entries)
			}
			if entries, _ := os.ReadDir(filepath.Join(cacheDir, "tmp")); len(entries) > 0 {
				t.Errorf("files left in the cache's temp dir: %v", entries)
			}
		})
	}
}

func mustCreate(t *testing.T, p string) *os.File {
	t.Helper()
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestCacheNeverAnswersForAnUnverifiedBlob scans a good image, then one
// whose manifest lies about the same layer's digest, on the same cache: the
// second scan must read the blob and fail, not reuse the first result.
func TestCacheNeverAnswersForAnUnverifiedBlob(t *testing.T) {
	layer := imagetest.Layer{Compression: imagetest.Gzip, Files: []imagetest.File{imagetest.Reg("etc/hosts", "127.0.0.1 localhost\n")}}
	good := imagetest.Image{RepoTag: "c/c:1", Layers: []imagetest.Layer{layer}}
	bad := good
	bad.WrongDigest = 1
	dir := t.TempDir()
	cacheDir := filepath.Join(dir, "cache")
	if _, err := good.WriteOCIArchiveTo(mustCreate(t, filepath.Join(dir, "good.tar"))); err != nil {
		t.Fatal(err)
	}
	if _, err := bad.WriteOCIArchiveTo(mustCreate(t, filepath.Join(dir, "bad.tar"))); err != nil {
		t.Fatal(err)
	}
	if r := run(t, "scan", "--cache-dir", cacheDir, "oci-archive:"+filepath.Join(dir, "good.tar")); r.code != 0 {
		t.Fatalf("good image: exit %d: %s", r.code, r.stderr)
	}
	r := run(t, "scan", "--cache-dir", cacheDir, "oci-archive:"+filepath.Join(dir, "bad.tar"))
	if r.code != 2 || !strings.Contains(r.stderr, "digest mismatch") {
		t.Errorf("lying manifest: exit %d, stderr %q; want a digest mismatch", r.code, r.stderr)
	}
}

// TestEmptyImageGate: an image with no files is not judged, and a gate
// with --exit-code says so even when no finding is reported.
func TestEmptyImageGate(t *testing.T) {
	empty := t.TempDir()
	r := run(t, "scan", "--no-cache", "--severity", "critical", "--exit-code", "4", "dir:"+empty)
	if r.code != 4 || !strings.Contains(r.stderr, "nothing to judge") {
		t.Errorf("empty image with --exit-code 4: exit %d, stderr %q", r.code, r.stderr)
	}
	r = run(t, "scan", "--no-cache", "--severity", "critical", "dir:"+empty)
	if r.code != 0 || !strings.Contains(r.stdout, "nothing to judge") {
		t.Errorf("empty image without --exit-code: exit %d\n%s", r.code, r.stdout)
	}
}
