package imageout_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imageout"
	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// layerOf is an uncompressed v1.Layer of files.
func layerOf(t *testing.T, files ...imagetest.File) v1.Layer {
	t.Helper()
	data := imagetest.Layer{Files: files}.Tar()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// testImage is two layers — the second adds a file and deletes one of the
// first with a whiteout — and a config with a user, an env and a command.
func testImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := mutate.Append(empty.Image,
		mutate.Addendum{Layer: layerOf(t, imagetest.Dir("etc/"), imagetest.Reg("etc/hello", "hello\n"), imagetest.Reg("etc/removed", "gone\n")), History: v1.History{CreatedBy: "layer one"}},
		mutate.Addendum{Layer: layerOf(t, imagetest.Dir("app/"), imagetest.Reg("app/data", "data\n"), imagetest.Whiteout("etc/removed")), History: v1.History{CreatedBy: "layer two"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.User = "1000:1000"
	cf.Config.Env = []string{"PATH=/bin", "APP=roundtrip"}
	cf.Config.Cmd = []string{"/app/run"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func runTool(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(name), args, err, stderr.String())
	}
	return out
}

// TestSkopeoReadsWhatWeWrite writes the test image as an OCI layout and a
// docker-archive with imageout, then has skopeo — an independent reader —
// inspect both (manifest digest, layers, config) and copy each into the
// other format, which shipshape's reader opens again with the same diffIDs
// and config.
func TestSkopeoReadsWhatWeWrite(t *testing.T) {
	skopeo := testenv.Binary(t, "skopeo")
	ctx := context.Background()
	img := testImage(t)
	wantCfg, _ := img.ConfigFile()
	dir := t.TempDir()
	layout := filepath.Join(dir, "layout")
	archive := filepath.Join(dir, "app.tar")
	if _, err := imageout.Write(ctx, img, "oci:"+layout+":v1", imageout.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := imageout.Write(ctx, img, "docker-archive:"+archive+":example.com/app:1", imageout.Options{}); err != nil {
		t.Fatal(err)
	}

	// The layout's index names an OCI manifest tagged v1 (Docker media
	// types in an OCI layout are what umoci refuses and skopeo cannot find).
	idxBytes, err := os.ReadFile(filepath.Join(layout, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	idx, err := v1.ParseIndexManifest(bytes.NewReader(idxBytes))
	if err != nil || len(idx.Manifests) != 1 {
		t.Fatalf("index.json: %v\n%s", err, idxBytes)
	}
	desc := idx.Manifests[0]
	if desc.MediaType != types.OCIManifestSchema1 || desc.Annotations["org.opencontainers.image.ref.name"] != "v1" {
		t.Errorf("index.json descriptor: %s tagged %q, want an OCI manifest tagged v1", desc.MediaType, desc.Annotations["org.opencontainers.image.ref.name"])
	}

	// skopeo inspect: it finds that manifest by its tag.
	var info struct {
		Digest string
		Layers []string
	}
	if err := json.Unmarshal(runTool(t, skopeo, "inspect", "oci:"+layout+":v1"), &info); err != nil {
		t.Fatal(err)
	}
	if info.Digest != desc.Digest.String() {
		t.Errorf("skopeo sees manifest %s in the layout, we wrote %s", info.Digest, desc.Digest)
	}
	layers, _ := img.Layers()
	if len(info.Layers) != len(layers) {
		t.Errorf("skopeo sees %d layers in the layout, want %d", len(info.Layers), len(layers))
	}
	for i, l := range layers {
		if d, _ := l.Digest(); i < len(info.Layers) && info.Layers[i] != d.String() {
			t.Errorf("layout layer %d: skopeo %s, ours %s", i+1, info.Layers[i], d)
		}
	}

	// skopeo inspect --config: the config of both outputs is ours.
	for _, ref := range []string{"oci:" + layout + ":v1", "docker-archive:" + archive} {
		var cfg v1.ConfigFile
		if err := json.Unmarshal(runTool(t, skopeo, "inspect", "--config", ref), &cfg); err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		if !slices.Equal(cfg.RootFS.DiffIDs, wantCfg.RootFS.DiffIDs) || cfg.Config.User != "1000:1000" || !slices.Equal(cfg.Config.Env, wantCfg.Config.Env) {
			t.Errorf("%s: skopeo reads config %+v (diffIDs %v)", ref, cfg.Config, cfg.RootFS.DiffIDs)
		}
	}

	// skopeo copy across formats, then shipshape reads the copies.
	for _, c := range []struct{ src, dst string }{
		{"docker-archive:" + archive, "oci:" + filepath.Join(dir, "copied") + ":c1"},
		{"oci:" + layout + ":v1", "docker-archive:" + filepath.Join(dir, "copied.tar") + ":example.com/copied:1"},
		{"oci:" + layout + ":v1", "oci-archive:" + filepath.Join(dir, "copied-oci.tar")},
	} {
		src, dst := c.src, c.dst
		runTool(t, skopeo, "--insecure-policy", "copy", "--quiet", src, dst)
		got, err := image.Open(ctx, dst, image.Options{TempDir: t.TempDir()})
		if err != nil {
			t.Errorf("shipshape cannot open skopeo's copy %s of %s: %v", dst, src, err)
			continue
		}
		if len(got.Layers) != len(layers) || got.Config.Config.User != "1000:1000" {
			t.Errorf("%s: %d layers, user %q", dst, len(got.Layers), got.Config.Config.User)
		}
		for i, l := range got.Layers {
			if i < len(wantCfg.RootFS.DiffIDs) && l.DiffID != wantCfg.RootFS.DiffIDs[i] {
				t.Errorf("%s: layer %d diffID %s, want %s", dst, i+1, l.DiffID, wantCfg.RootFS.DiffIDs[i])
			}
		}
		got.Close()
	}
}

// TestUmociUnpacksWhatWeWrite unpacks the OCI layout imageout wrote with
// umoci: the root filesystem has both layers applied (the whiteout deletes
// /etc/removed) and the runtime config carries the image's user and env.
func TestUmociUnpacksWhatWeWrite(t *testing.T) {
	umoci := testenv.Binary(t, "umoci")
	ctx := context.Background()
	dir := t.TempDir()
	layout := filepath.Join(dir, "layout")
	if _, err := imageout.Write(ctx, testImage(t), "oci:"+layout+":v1", imageout.Options{}); err != nil {
		t.Fatal(err)
	}
	bundle := filepath.Join(dir, "bundle")
	args := []string{"unpack", "--image", layout + ":v1", bundle}
	if os.Geteuid() != 0 {
		args = []string{"unpack", "--rootless", "--image", layout + ":v1", bundle}
	}
	runTool(t, umoci, args...)
	rootfs := filepath.Join(bundle, "rootfs")
	for p, want := range map[string]string{"etc/hello": "hello\n", "app/data": "data\n"} {
		if b, err := os.ReadFile(filepath.Join(rootfs, p)); err != nil || string(b) != want {
			t.Errorf("/%s in umoci's rootfs: %q, %v; want %q", p, b, err, want)
		}
	}
	if _, err := os.Lstat(filepath.Join(rootfs, "etc/removed")); err == nil {
		t.Error("/etc/removed survived the whiteout in umoci's rootfs")
	}
	if _, err := os.Lstat(filepath.Join(rootfs, "etc/.wh.removed")); err == nil {
		t.Error("umoci's rootfs holds the whiteout file itself")
	}
	var spec struct {
		Process struct {
			User struct{ UID, GID int }
			Env  []string
			Args []string
		}
	}
	b, err := os.ReadFile(filepath.Join(bundle, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	if spec.Process.User.UID != 1000 || spec.Process.User.GID != 1000 || !slices.Contains(spec.Process.Env, "APP=roundtrip") || !slices.Equal(spec.Process.Args, []string{"/app/run"}) {
		t.Errorf("umoci's runtime config: %+v", spec.Process)
	}
}
