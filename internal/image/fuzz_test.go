package image

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
)

// tarOf is a tar archive of regular files, name → content, in name order.
func tarOf(files map[string]string) []byte {
	var fs []imagetest.File
	for _, name := range slices.Sorted(maps.Keys(files)) {
		fs = append(fs, imagetest.Reg(name, files[name]))
	}
	return imagetest.Layer{Files: fs}.Tar()
}

// canaryMarker is what the files planted outside the image root hold. It
// is fixed so that seeds can name the canaries by digest, as a hostile
// image that knows them would; an input that carries the marker itself is
// not judged by it.
const canaryMarker = "shipshape-canary-outside-the-image-root-5f0c1d"

// canaries are the files planted beside every fuzzed image, outside its
// root: a valid config and a layer, which a path leaving the root
// ("../canary.json", a symlink to it) would make Open read.
func canaries() (config, layer []byte) {
	layer = imagetest.Layer{Files: []imagetest.File{imagetest.Reg("canary", canaryMarker)}}.Tar()
	cfg := map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Labels": map[string]string{"canary": canaryMarker}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + sha(layer)}},
	}
	config, _ = json.Marshal(cfg)
	return config, layer
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// escapingLayout is an OCI layout whose manifest is inside it but whose
// config and layer blobs are symbolic links (to configTarget and
// layerTarget) that carry the canaries' true digests.
func escapingLayout(configTarget, layerTarget string) []byte {
	config, layer := canaries()
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%d}]}`,
		sha(config), len(config), sha(layer), len(layer))
	index := fmt.Sprintf(`{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%d}]}`, sha([]byte(manifest)), len(manifest))
	return imagetest.Layer{Files: []imagetest.File{
		imagetest.Reg("oci-layout", `{"imageLayoutVersion":"1.0.0"}`),
		imagetest.Reg("index.json", index),
		imagetest.Reg("blobs/sha256/"+sha([]byte(manifest)), manifest),
		imagetest.Symlink("blobs/sha256/"+sha(config), configTarget),
		imagetest.Symlink("blobs/sha256/"+sha(layer), layerTarget),
	}}.Tar()
}

// extract writes the regular files, directories and symbolic links of a
// tar archive below dir, as a user unpacking an OCI layout would; names
// that leave dir are dropped (the point is what Open does with the
// result, not how tar extraction is secured).
func extract(dir string, archive []byte) {
	tr := tar.NewReader(bytes.NewReader(archive))
	for n := 0; n < 64; n++ {
		h, err := tr.Next()
		if err != nil {
			return
		}
		name := filepath.FromSlash(strings.TrimPrefix(h.Name, "./"))
		if !filepath.IsLocal(name) {
			continue
		}
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		switch h.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			b, _ := io.ReadAll(io.LimitReader(tr, 1<<20))
			os.WriteFile(p, b, 0o644)
		case tar.TypeSymlink:
			os.Symlink(h.Linkname, p)
		}
	}
}

// FuzzOpenArchive opens arbitrary bytes as a docker-save archive, an OCI
// archive and (unpacked) an OCI layout directory: a result or an error,
// never a panic, and never anything read from outside the image — the
// canaries planted beside it, or the host's /etc/passwd.
func FuzzOpenArchive(f *testing.F) {
	f.Add(tarOf(map[string]string{"manifest.json": `[{"Config":"c.json","Layers":["l.tar"]}]`, "c.json": `{"rootfs":{"diff_ids":["sha256:` + string(bytes.Repeat([]byte("a"), 64)) + `"]}}`, "l.tar": ""}))
	f.Add(tarOf(map[string]string{"index.json": `{"manifests":[{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:` + string(bytes.Repeat([]byte("b"), 64)) + `"}]}`}))
	f.Add(tarOf(map[string]string{"manifest.json": `[{"Config":"../../etc/passwd"}]`}))
	f.Add(tarOf(map[string]string{"manifest.json": `[{"Config":"../canary.json","Layers":["../canary.tar"]}]`}))
	f.Add(tarOf(map[string]string{"manifest.json": `[{"Config":"/etc/passwd","Layers":["../../../../../../etc/passwd"]}]`}))
	f.Add(escapingLayout("../../../canary.json", "../../../canary.tar"))
	f.Add(escapingLayout("/etc/passwd", "/etc/passwd"))
	hostPasswd, _ := os.ReadFile("/etc/passwd")
	config, layer := canaries()
	f.Fuzz(func(t *testing.T, archive []byte) {
		base := t.TempDir()
		if err := os.WriteFile(filepath.Join(base, "canary.json"), config, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(base, "canary.tar"), layer, 0o644); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(base, "img.tar")
		if err := os.WriteFile(p, archive, 0o644); err != nil {
			t.Fatal(err)
		}
		layout := filepath.Join(base, "layout")
		extract(layout, archive)
		judge := !bytes.Contains(archive, []byte(canaryMarker))
		for _, ref := range []string{"docker-archive:" + p, "oci-archive:" + p, "oci:" + layout} {
			img, err := Open(context.Background(), ref, Options{TempDir: t.TempDir(), MaxArchiveBytes: 16 << 20})
			if err != nil {
				continue
			}
			if judge && bytes.Contains(img.RawConfig, []byte(canaryMarker)) {
				t.Fatalf("%s: the config was read from outside the image", ref)
			}
			for _, l := range img.Layers {
				b := readLayer(t, l)
				if judge && bytes.Contains(b, []byte(canaryMarker)) {
					t.Fatalf("%s: layer %d was read from outside the image", ref, l.Index)
				}
				if len(hostPasswd) > 0 && bytes.Equal(b, hostPasswd) && !bytes.Contains(archive, hostPasswd) {
					t.Fatalf("%s: layer %d is the host's /etc/passwd", ref, l.Index)
				}
			}
			img.Close()
		}
	})
}

// readLayer reads the start of a layer blob; errors are the layer's
// business (digest mismatches and so on) and end the read.
func readLayer(t *testing.T, l *Layer) []byte {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := l.Open(ctx)
	if err != nil {
		return nil
	}
	defer rc.Close()
	b, _ := io.ReadAll(io.LimitReader(rc, 1<<20))
	return b
}

// TestCanaryIsReachable shows that FuzzOpenArchive's canaries would be
// caught: the escaping layout's blobs copied inside the layout open, and
// the config carries the marker; as symbolic links out of the root, they
// do not open.
func TestCanaryIsReachable(t *testing.T) {
	config, layer := canaries()
	base := t.TempDir()
	os.WriteFile(filepath.Join(base, "canary.json"), config, 0o644)
	os.WriteFile(filepath.Join(base, "canary.tar"), layer, 0o644)

	escaping := filepath.Join(base, "layout")
	extract(escaping, escapingLayout("../../../canary.json", "../../../canary.tar"))
	if _, err := os.Stat(filepath.Join(escaping, "blobs/sha256", sha(config))); err != nil {
		t.Fatalf("the symlink does not reach the canary: %v", err)
	}
	if img, err := Open(context.Background(), "oci:"+escaping, Options{TempDir: t.TempDir()}); err == nil {
		img.Close()
		t.Fatalf("opened a layout whose config is a symlink out of its root")
	}

	inside := filepath.Join(base, "inside")
	extract(inside, escapingLayout("../../../canary.json", "../../../canary.tar"))
	for _, b := range [][]byte{config, layer} {
		p := filepath.Join(inside, "blobs/sha256", sha(b))
		os.Remove(p)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	img, err := Open(context.Background(), "oci:"+inside, Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatalf("the same layout with its blobs inside: %v", err)
	}
	defer img.Close()
	if !bytes.Contains(img.RawConfig, []byte(canaryMarker)) || len(img.Layers) != 1 || !bytes.Contains(readLayer(t, img.Layers[0]), []byte(canaryMarker)) {
		t.Fatalf("the canary config and layer were not read: %s", img.RawConfig)
	}
}
