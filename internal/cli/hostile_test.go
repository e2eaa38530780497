package cli_test

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
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
		// check asserts the result an exit-0 scan must give.
		check func(t *testing.T, rep *hostileReport)
	}{
		{name: "path traversal", img: layered(imagetest.Reg("../../../etc/cron.d/evil", "x"), imagetest.Reg("/abs/file", "y")),
			want: []string{`entry \"../../../etc/cron.d/evil\" leaves the image root; read as /etc/cron.d/evil`, `entry \"/abs/file\" leaves the image root`}},
		// Links are recorded, never followed out of the root; resolving
		// /etc/os-release through a loop ends as "no os-release", and the
		// user is still resolved against the image's own /etc/passwd.
		{name: "symlinks out of the root and in a loop", img: layered(imagetest.Symlink("escape", "../../../../../etc/shadow"), imagetest.Symlink("a", "b"), imagetest.Symlink("b", "a"), imagetest.Symlink("abs", "/proc/self/root"),
			imagetest.Symlink("etc/os-release", "../loop"), imagetest.Symlink("loop", "etc/os-release")),
			check: func(t *testing.T, rep *hostileReport) {
				if n := rep.layer(2).Files; n != 6 {
					t.Errorf("layer 2 lists %d entries, want the 6 links", n)
				}
				// Nothing tells the release: P3 did not run, and says why.
				if p3 := practice(&rep.Report, scorecard.P3); p3.Status != scorecard.NotRun || !strings.Contains(p3.Reason, "no /etc/os-release") {
					t.Errorf("P3 = %s %q, want not-run: no os-release (the link loops)", p3.Status, p3.Reason)
				}
				if rep.Sections.User.Name != "root" || rep.Sections.User.UID == nil || *rep.Sections.User.UID != 0 {
					t.Errorf("user = %+v, want root resolved from the image's /etc/passwd", rep.Sections.User)
				}
			}},
		{name: "hardlinks outside and missing", img: layered(imagetest.Hardlink("h1", "../../../etc/shadow"), imagetest.Hardlink("h2", "no/such/file")),
			want: []string{`hardlink /h1 points to \"../../../etc/shadow\", outside the image root`, `hardlink /h2 points to /no/such/file, which is not a file earlier in the layer`}},
		{name: "gzip bomb", img: one(imagetest.GzipBomb(256 << 20)), flags: []string{"--max-layer-bytes", "67108864"}, code: 2,
			want: []string{"layer 2", "uncompressed layer is larger than 67108864 bytes"}},
		{name: "too many entries", img: one(imagetest.ManyEntries(5000)), flags: []string{"--max-entries", "1000"}, code: 2,
			want: []string{"layer 2", "more than 1000 entries"}},
		// The file is listed at its logical size and skipped by the
		// content analyzers as a large binary, never expanded.
		{name: "sparse 1 TiB file", img: layered(imagetest.File{Name: "huge.img", Sparse: true, Size: 1 << 40, Content: []byte("head")}),
			check: func(t *testing.T, rep *hostileReport) {
				if b := rep.layer(2).Bytes; b != 1<<40 {
					t.Errorf("layer 2 holds %d bytes, want the file's 1 TiB", b)
				}
				m := practice(&rep.Report, scorecard.P1).Metrics
				if m["binariesSkipped"] != 1.0 || m["binaryBytesSkipped"] != float64(1<<40) || m["binaryBytesScanned"] != 0.0 {
					t.Errorf("P1 metrics %v: want the 1 TiB file skipped, nothing of it scanned", m)
				}
			}},
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
		// The later entry wins, as when the layer is extracted: USER app
		// resolves against the second /etc/passwd of layer 2, and all three
		// copies are counted as stored.
		{name: "duplicate entries", img: imagetest.Image{RepoTag: "hostile/test:1", Config: imagetest.ConfigOptions{User: "app"}, Layers: []imagetest.Layer{base, {Files: []imagetest.File{
			imagetest.Reg("etc/passwd", "root:x:0:0::/root:/bin/sh\n"), imagetest.Reg("etc/passwd", "app:x:1000:1000::/home/app:/bin/sh\n")}}}},
			check: func(t *testing.T, rep *hostileReport) {
				if u := rep.Sections.User; u.Name != "app" || u.UID == nil || *u.UID != 1000 {
					t.Errorf("user = %+v, want app (1000) from the later /etc/passwd", u)
				}
				w := rep.Sections.Waste
				if len(w.Paths) != 1 || w.Paths[0].Path != "/etc/passwd" || w.Paths[0].Copies != 3 || fmt.Sprint(w.Paths[0].Layers) != "[1 2 2]" {
					t.Errorf("waste paths %+v, want /etc/passwd in layers 1, 2, 2", w.Paths)
				}
			}},
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
			if tt.check != nil {
				var rep hostileReport
				if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
					t.Fatalf("JSON report: %v", err)
				}
				tt.check(t, &rep)
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

// hostileReport is the JSON report with the sections the hostile cases
// look at decoded.
type hostileReport struct {
	scorecard.Report
	Sections struct {
		User struct {
			Name string `json:"name"`
			UID  *int   `json:"uid"`
		} `json:"user"`
		Waste struct {
			Paths []struct {
				Path   string `json:"path"`
				Copies int    `json:"copies"`
				Layers []int  `json:"layers"`
			} `json:"paths"`
		} `json:"waste"`
	} `json:"sections"`
}

func (r *hostileReport) layer(i int) scorecard.LayerInfo {
	for _, l := range r.Image.Layers {
		if l.Index == i {
			return l
		}
	}
	return scorecard.LayerInfo{Files: -1, Bytes: -1}
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
