package cli_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/compress"
	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// TestScanWithGzipHelper scans an OCI layout whose big gzip layer goes to
// igzip (through a wrapper that records it ran), and the same image saved
// as a gzip docker-save archive, whose whole file goes to igzip too; and
// each again in process: the reports are the same, findings and all.
func TestScanWithGzipHelper(t *testing.T) {
	helper, runs := testenv.CountedBinary(t, compress.HelperName) // Debian package isal
	dir := t.TempDir()
	// Random bytes do not compress: the layer's blob is past the size
	// that sends it to the helper.
	noise := imagetest.Noise(compress.HelperMinBytes+1<<20, 3)
	img := imagetest.Image{
		Config: imagetest.ConfigOptions{User: "app"},
		Layers: []imagetest.Layer{
			{Compression: imagetest.Gzip, Files: []imagetest.File{
				imagetest.Dir("etc/"),
				imagetest.Reg("etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"),
				imagetest.Reg("app/blob.bin", string(noise)),
				imagetest.Reg("app/.env", "AWS_SECRET_ACCESS_KEY=9Rk2vXq8LmZ4tB7nW1sY5uE3oP6aD0cF2gH8jK4l\n"),
			}},
			{Compression: imagetest.Gzip, Files: []imagetest.File{imagetest.Reg("app/config.yaml", "port: 8080\n")}},
		},
	}
	layout := filepath.Join(dir, "layout")
	img.WriteOCILayout(t, layout)
	saved := filepath.Join(dir, "saved.tar.gz")
	imagetest.DockerArchive{Images: []imagetest.Image{img}, Compression: imagetest.Gzip}.WriteArchive(t, saved)

	scan := func(ref, helper string) map[string]any {
		t.Helper()
		res := run(t, "scan", "-f", "json", "--gzip-helper", helper, "--cache-dir", t.TempDir(), ref)
		if res.code == 2 {
			t.Fatalf("scan --gzip-helper %s %s: exit %d: %s", helper, ref, res.code, res.stderr)
		}
		var rep map[string]any
		if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
			t.Fatalf("JSON report: %v", err)
		}
		delete(rep, "createdAt")
		return rep
	}
	for _, tt := range []struct {
		ref  string
		runs int
	}{
		{"oci:" + layout, 1}, // the big layer only
		// "docker save | gzip": the archive, then the big layer in it.
		{"docker-archive:" + saved, 2},
	} {
		before := runs()
		via := scan(tt.ref, helper)
		if n := runs() - before; n != tt.runs {
			t.Errorf("%s: the helper ran %d times, want %d", tt.ref, n, tt.runs)
		}
		inProcess := scan(tt.ref, compress.HelperNone)
		a, _ := json.Marshal(via)
		b, _ := json.Marshal(inProcess)
		if !bytes.Equal(a, b) {
			t.Errorf("%s: the reports differ:\nhelper:     %.2000s\nin process: %.2000s", tt.ref, a, b)
		}
		found := false
		findings, _ := via["findings"].([]any)
		for _, f := range findings {
			f, _ := f.(map[string]any)
			if f["practice"] == "P1" && f["path"] == "/app/.env" {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: the planted AWS key in /app/.env was not found through the helper: %.3000s", tt.ref, a)
		}
	}

	// A re-scan of the gzip archive opens the image from the archive's
	// index in the cache and, every layer cached, never inflates the
	// archive: it passes within a --max-archive-bytes that an inflate
	// would exceed.
	cacheDir := t.TempDir()
	tiny := []string{"scan", "-f", "json", "--max-archive-bytes", "1000", "--cache-dir"}
	if res := run(t, append(tiny, t.TempDir(), "docker-archive:"+saved)...); res.code != 2 || !strings.Contains(res.stderr, "decompresses to more than 1000 bytes") {
		t.Fatalf("a cold scan within 1000 bytes: exit %d, stderr %q; want exit 2 naming the bound", res.code, res.stderr)
	}
	cold := run(t, "scan", "--debug", "-f", "json", "--cache-dir", cacheDir, "docker-archive:"+saved)
	warm := run(t, append(tiny, cacheDir, "--debug", "docker-archive:"+saved)...)
	if cold.code == 2 || warm.code != cold.code {
		t.Fatalf("cold scan exit %d (%s), warm scan within 1000 bytes exit %d (%s)", cold.code, cold.stderr, warm.code, warm.stderr)
	}
	// --debug tells which way each scan opened the archive.
	for _, tt := range []struct {
		scan      string
		stderr    string
		want, not []string
	}{
		{"cold", cold.stderr, []string{`msg="archive inflated"`, `msg="archive index kept"`}, []string{`msg="archive opened from its index"`}},
		{"warm", warm.stderr, []string{`msg="archive opened from its index"`}, []string{`msg="archive inflated"`, `msg="archive index kept"`}},
	} {
		for _, w := range tt.want {
			if !strings.Contains(tt.stderr, w+" archive="+saved) {
				t.Errorf("the %s scan's debug log has no %s about %s:\n%s", tt.scan, w, saved, tt.stderr)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(tt.stderr, n) {
				t.Errorf("the %s scan's debug log has %s:\n%s", tt.scan, n, tt.stderr)
			}
		}
	}
	var coldRep, warmRep scorecard.Report
	if err := json.Unmarshal([]byte(cold.stdout), &coldRep); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(warm.stdout), &warmRep); err != nil {
		t.Fatal(err)
	}
	if a, b := findingLines(t, &coldRep), findingLines(t, &warmRep); len(a) == 0 || strings.Join(a, "\n") != strings.Join(b, "\n") {
		t.Errorf("the warm scan's findings differ from the cold scan's:\ncold: %v\nwarm: %v", a, b)
	}
	for i, l := range warmRep.Image.Layers {
		if !l.Cached || l.DiffID != coldRep.Image.Layers[i].DiffID {
			t.Errorf("warm layer %d = %+v, want the cold scan's, cached", i+1, l)
		}
	}

	ref := "oci:" + layout
	res := run(t, "scan", "--gzip-helper", filepath.Join(dir, "no-such-helper"), "--cache-dir", t.TempDir(), ref)
	if res.code != 2 || !strings.Contains(res.stderr, "gzip helper") {
		t.Errorf("a missing helper: exit %d, stderr %q; want exit 2 naming the gzip helper", res.code, res.stderr)
	}
}
