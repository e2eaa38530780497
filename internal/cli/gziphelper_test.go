package cli_test

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/compress"
	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// TestScanWithGzipHelper scans an OCI layout whose big gzip layer goes to
// igzip (through a wrapper that records it ran) and again in process: the
// reports are the same, findings and all.
func TestScanWithGzipHelper(t *testing.T) {
	helper, runs := testenv.CountedBinary(t, compress.HelperName) // Debian package isal
	dir := t.TempDir()
	// Random bytes do not compress: the layer's blob is past the size
	// that sends it to the helper.
	noise := make([]byte, compress.HelperMinBytes+1<<20)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range noise {
		noise[i] = byte(r.Uint32())
	}
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
	ref := "oci:" + layout

	scan := func(helper string) map[string]any {
		t.Helper()
		res := run(t, "scan", "-f", "json", "--gzip-helper", helper, "--cache-dir", t.TempDir(), ref)
		if res.code == 2 {
			t.Fatalf("scan --gzip-helper %s: exit %d: %s", helper, res.code, res.stderr)
		}
		var rep map[string]any
		if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
			t.Fatalf("JSON report: %v", err)
		}
		delete(rep, "createdAt")
		return rep
	}
	via := scan(helper)
	if n := runs(); n != 1 {
		t.Fatalf("the helper ran %d times, want once (the big layer only)", n)
	}
	inProcess := scan(compress.HelperNone)
	a, _ := json.Marshal(via)
	b, _ := json.Marshal(inProcess)
	if !bytes.Equal(a, b) {
		t.Errorf("the reports differ:\nhelper:     %.2000s\nin process: %.2000s", a, b)
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
		t.Errorf("the planted AWS key in /app/.env was not found through the helper: %.3000s", a)
	}

	res := run(t, "scan", "--gzip-helper", filepath.Join(dir, "no-such-helper"), "--cache-dir", t.TempDir(), ref)
	if res.code != 2 || !strings.Contains(res.stderr, "gzip helper") {
		t.Errorf("a missing helper: exit %d, stderr %q; want exit 2 naming the gzip helper", res.code, res.stderr)
	}
}
