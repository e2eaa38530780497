package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// TestScanEveryLayout writes the demo image in every on-disk layout and
// checks that each scan sees the same layers and findings.
func TestScanEveryLayout(t *testing.T) {
	dir := t.TempDir()
	img := demoImage()
	img.WriteDockerArchive(t, filepath.Join(dir, "legacy.tar"), true)
	img.WriteDockerArchive(t, filepath.Join(dir, "modern.tar"), false)
	img.WriteOCILayout(t, filepath.Join(dir, "layout"))
	img.WriteOCIArchive(t, filepath.Join(dir, "oci.tar"))
	imagetest.DockerArchive{Images: []imagetest.Image{img}, Compression: imagetest.Gzip}.WriteArchive(t, filepath.Join(dir, "saved.tar.gz"))
	imagetest.DockerArchive{Images: []imagetest.Image{img}, Compression: imagetest.Zstd}.WriteArchive(t, filepath.Join(dir, "saved.tar.zst"))
	want := scanJSON(t, "docker-archive:"+demoPath)
	if len(want.Findings) < 10 {
		t.Fatalf("the demo image gave %d findings; the comparison needs them", len(want.Findings))
	}
	refs := []string{
		"docker-archive:" + filepath.Join(dir, "legacy.tar"),
		"docker-archive:" + filepath.Join(dir, "modern.tar"),
		"docker-archive:" + filepath.Join(dir, "modern.tar") + ":shipshape.local/demo:1.0",
		"oci:" + filepath.Join(dir, "layout"),
		"oci:" + filepath.Join(dir, "layout") + ":1.0",
		"oci-archive:" + filepath.Join(dir, "oci.tar"),
		"docker-archive:" + filepath.Join(dir, "saved.tar.gz"),
		"docker-archive:" + filepath.Join(dir, "saved.tar.zst"),
		filepath.Join(dir, "legacy.tar"),
		filepath.Join(dir, "oci.tar"),
		filepath.Join(dir, "layout"),
	}
	for _, ref := range refs {
		t.Run(strings.ReplaceAll(ref, dir+"/", ""), func(t *testing.T) {
			got := scanJSON(t, ref)
			if len(got.Image.Layers) != len(want.Image.Layers) {
				t.Fatalf("%d layers, want %d", len(got.Image.Layers), len(want.Image.Layers))
			}
			for i, l := range got.Image.Layers {
				w := want.Image.Layers[i]
				if l.DiffID != w.DiffID || l.Files != w.Files || l.CreatedBy != w.CreatedBy {
					t.Errorf("layer %d = %+v, want %+v", i+1, l, w)
				}
			}
			// The same findings, field by field, in the same order: only
			// how the image is stored differs.
			gotF, wantF := findingLines(t, got), findingLines(t, want)
			if !slices.Equal(gotF, wantF) {
				t.Errorf("findings differ from the demo archive's (%d, want %d)", len(gotF), len(wantF))
				for _, f := range gotF {
					if !slices.Contains(wantF, f) {
						t.Errorf("extra:   %s", f)
					}
				}
				for _, f := range wantF {
					if !slices.Contains(gotF, f) {
						t.Errorf("missing: %s", f)
					}
				}
			}
		})
	}
}

// findingLines renders each finding of rep as one line of JSON.
func findingLines(t *testing.T, rep *scorecard.Report) []string {
	t.Helper()
	var out []string
	for _, f := range rep.Findings {
		// P6 depends on the transport: a layout can hold signatures
		// (unsigned: a finding), an archive cannot (not run).
		if f.Practice == scorecard.P6 {
			continue
		}
		b, err := json.Marshal(f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func TestScanRootFSDirectory(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "etc"), 0o755)
	os.WriteFile(filepath.Join(dir, "etc", "os-release"), []byte("ID=test\n"), 0o644)
	os.Symlink("/etc/shadow-outside", filepath.Join(dir, "etc", "escape"))
	rep := scanJSON(t, "dir:"+dir)
	if len(rep.Image.Layers) != 1 || rep.Image.Layers[0].Files != 3 || !strings.HasPrefix(rep.Image.Layers[0].DiffID, "sha256:") {
		t.Errorf("layers = %+v", rep.Image.Layers)
	}
}

// TestSharedDockerSave scans the real "docker save" of alpine:3.10.
func TestSharedDockerSave(t *testing.T) {
	p := testenv.SharedData(t, "images/alpine-3.10.4-docker-save.tar.gz")
	rep := scanJSON(t, "docker-archive:"+p)
	if len(rep.Image.Layers) != 1 || rep.Image.Layers[0].Files != 482 || rep.Image.RepoTags[0] != "alpine:3.10" {
		t.Errorf("image = %+v", rep.Image)
	}
}

func TestInspect(t *testing.T) {
	r := run(t, "inspect", "--no-cache", "docker-archive:"+demoPath)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"LAYER", "COPY . /app", `CMD ["python3", "/app/server.py"]`, "Image efficiency: ", "/app/build-cache.bin"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, r.stdout)
		}
	}
	r = run(t, "inspect", "--no-cache", "-f", "json", "docker-archive:"+demoPath)
	for _, want := range []string{`"emptyLayer": true`, `"wastedBytes": 3145896`, `"efficiency": `} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("inspect JSON lacks %q:\n%s", want, r.stdout)
		}
	}
}
