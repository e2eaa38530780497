package imagetest

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/klauspost/compress/gzip"
)

// sample is a small but realistic three-layer image.
func sample(c Compression) Image {
	return Image{
		RepoTag: "example.com/app:1.0",
		Layers: []Layer{
			{
				Compression: c,
				CreatedBy:   "ADD rootfs.tar /",
				Files: []File{
					Dir("etc/"),
					Reg("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
					Dir("bin/"),
					{Name: "bin/busybox", Mode: 0o755, Content: []byte("\x7fELF"), Size: 4096},
					Symlink("bin/sh", "busybox"),
				},
			},
			{
				Compression: c,
				CreatedBy:   "RUN apk add curl",
				Files: []File{
					Dir("usr/"), Dir("usr/bin/"),
					{Name: "usr/bin/curl", Mode: 0o4755, Content: []byte("curl")},
					Hardlink("usr/bin/curl2", "usr/bin/curl"),
				},
			},
			{
				Compression: c,
				CreatedBy:   "RUN rm /etc/passwd",
				Files:       []File{Whiteout("etc/passwd"), Opaque("tmp")},
			},
		},
		Config: ConfigOptions{
			Env:          []string{"PATH=/usr/bin:/bin", "SECRET=hunter2"},
			Labels:       map[string]string{"org.opencontainers.image.source": "https://example.com/app"},
			User:         "1000:1000",
			Entrypoint:   []string{"/bin/sh", "-c"},
			Cmd:          []string{"curl"},
			WorkingDir:   "/srv",
			ExposedPorts: []string{"8080/tcp"},
			EmptyLayers: []EmptyLayer{
				{After: 1, CreatedBy: "ENV PATH=/usr/bin:/bin"},
				{After: 3, CreatedBy: `CMD ["curl"]`},
			},
		},
	}
}

// openLayout opens the single image of an OCI layout.
func openLayout(t *testing.T, dir string) (v1.Image, v1.Descriptor) {
	t.Helper()
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("index.json lists %d manifests, want 1", len(im.Manifests))
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img, im.Manifests[0]
}

func TestOCILayoutValidates(t *testing.T) {
	for _, c := range []Compression{Uncompressed, Gzip, Zstd} {
		for _, docker := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v/docker=%v", c, docker), func(t *testing.T) {
				src := sample(c)
				src.DockerMediaTypes = docker
				dir := t.TempDir()
				w := src.WriteOCILayout(t, dir)
				img, desc := openLayout(t, dir)
				if err := checkImage(img); err != nil {
					t.Fatalf("validate: %v", err)
				}
				if got := desc.Annotations["org.opencontainers.image.ref.name"]; got != "1.0" {
					t.Errorf("ref.name = %q, want 1.0", got)
				}
				if got := desc.Annotations["io.containerd.image.name"]; got != "example.com/app:1.0" {
					t.Errorf("io.containerd.image.name = %q", got)
				}
				if desc.Digest.String() != w.ManifestDigest {
					t.Errorf("index.json digest %s, Written says %s", desc.Digest, w.ManifestDigest)
				}
				m, err := img.Manifest()
				if err != nil {
					t.Fatal(err)
				}
				wantLayer := map[Compression]types.MediaType{Uncompressed: types.OCIUncompressedLayer, Gzip: types.OCILayer, Zstd: types.OCILayerZStd}[c]
				wantManifest, wantConfig := types.OCIManifestSchema1, types.OCIConfigJSON
				if docker {
					wantLayer = map[Compression]types.MediaType{Uncompressed: types.DockerUncompressedLayer, Gzip: types.DockerLayer, Zstd: dockerZstdLayer}[c]
					wantManifest, wantConfig = types.DockerManifestSchema2, types.DockerConfigJSON
				}
				if m.MediaType != wantManifest || m.Config.MediaType != wantConfig || desc.MediaType != wantManifest {
					t.Errorf("media types: manifest %s (index says %s), config %s", m.MediaType, desc.MediaType, m.Config.MediaType)
				}
				for i, l := range m.Layers {
					if l.MediaType != wantLayer {
						t.Errorf("layer %d media type %s, want %s", i, l.MediaType, wantLayer)
					}
					if l.Digest.String() != w.Layers[i].Digest || l.Size != w.Layers[i].Size {
						t.Errorf("layer %d: manifest %s/%d, Written %s/%d", i, l.Digest, l.Size, w.Layers[i].Digest, w.Layers[i].Size)
					}
					if got := DiffID(src.LayerTar(i)); got != w.Layers[i].DiffID {
						t.Errorf("layer %d: DiffID(LayerTar) = %s, Written.DiffID = %s", i, got, w.Layers[i].DiffID)
					}
				}
			})
		}
	}
}

func TestConfigJSON(t *testing.T) {
	src := sample(Gzip)
	src.Config.Edit = func(cf *v1.ConfigFile) { cf.Config.StopSignal = "SIGTERM" }
	dir := t.TempDir()
	w := src.WriteOCILayout(t, dir)
	img, _ := openLayout(t, dir)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" || !cf.Created.Equal(Epoch) {
		t.Errorf("platform/created: %s/%s %v", cf.OS, cf.Architecture, cf.Created)
	}
	c := cf.Config
	if !slices.Equal(c.Env, src.Config.Env) || c.User != "1000:1000" || c.WorkingDir != "/srv" ||
		!slices.Equal(c.Entrypoint, src.Config.Entrypoint) || !slices.Equal(c.Cmd, []string{"curl"}) ||
		c.Labels["org.opencontainers.image.source"] != "https://example.com/app" ||
		!reflect.DeepEqual(c.ExposedPorts, map[string]struct{}{"8080/tcp": {}}) || c.StopSignal != "SIGTERM" {
		t.Errorf("config = %+v", c)
	}
	var got []string
	for _, h := range cf.History {
		got = append(got, fmt.Sprintf("%s empty=%v", h.CreatedBy, h.EmptyLayer))
	}
	want := []string{
		"ADD rootfs.tar / empty=false",
		"ENV PATH=/usr/bin:/bin empty=true",
		"RUN apk add curl empty=false",
		"RUN rm /etc/passwd empty=false",
		`CMD ["curl"] empty=true`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("history:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(cf.RootFS.DiffIDs) != 3 || cf.RootFS.Type != "layers" {
		t.Fatalf("rootfs = %+v", cf.RootFS)
	}
	for i, d := range cf.RootFS.DiffIDs {
		if d.String() != w.Layers[i].DiffID {
			t.Errorf("diff_ids[%d] = %s, Written %s", i, d, w.Layers[i].DiffID)
		}
	}
	raw, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, w.Config) || DiffID(raw) != w.ConfigDigest {
		t.Error("Written.Config does not match the config blob")
	}

	// No layers, no history: still a valid image with "diff_ids": [].
	empty := Image{Config: ConfigOptions{NoHistory: true}}
	w = empty.WriteOCILayout(t, t.TempDir())
	if !bytes.Contains(w.Config, []byte(`"diff_ids":[]`)) || bytes.Contains(w.Config, []byte("history")) {
		t.Errorf("empty image config: %s", w.Config)
	}
}

func TestDockerArchiveValidates(t *testing.T) {
	for _, legacy := range []bool{true, false} {
		for _, c := range []Compression{Uncompressed, Gzip} {
			t.Run(fmt.Sprintf("legacy=%v/%v", legacy, c), func(t *testing.T) {
				src := sample(c)
				p := filepath.Join(t.TempDir(), "img.tar")
				w := src.WriteDockerArchive(t, p, legacy)
				img, err := tarball.ImageFromPath(p, nil)
				if err != nil {
					t.Fatal(err)
				}
				if err := checkImage(img); err != nil {
					t.Fatalf("validate: %v", err)
				}
				cd, err := img.ConfigName()
				if err != nil {
					t.Fatal(err)
				}
				if cd.String() != w.ConfigDigest {
					t.Errorf("config digest %s, Written %s", cd, w.ConfigDigest)
				}
				tag, _ := name.NewTag("example.com/app:1.0")
				if _, err := tarball.ImageFromPath(p, &tag); err != nil {
					t.Errorf("by tag: %v", err)
				}

				members := tarMembers(t, p)
				var manifest []dockerManifestEntry
				if err := json.Unmarshal(members["manifest.json"], &manifest); err != nil {
					t.Fatal(err)
				}
				if len(manifest) != 1 || !slices.Equal(manifest[0].RepoTags, []string{"example.com/app:1.0"}) || len(manifest[0].Layers) != 3 {
					t.Fatalf("manifest.json = %s", members["manifest.json"])
				}
				if !strings.Contains(string(members["repositories"]), `{"example.com/app":{"1.0":"`) {
					t.Errorf("repositories = %s", members["repositories"])
				}
				for i, lp := range manifest[0].Layers {
					if legacy != strings.HasSuffix(lp, "/layer.tar") || legacy == strings.HasPrefix(lp, "blobs/sha256/") {
						t.Errorf("layer path %q", lp)
					}
					if DiffID(members[lp]) != w.Layers[i].Digest {
						t.Errorf("layer %s hashes to %s, Written %s", lp, DiffID(members[lp]), w.Layers[i].Digest)
					}
				}
				if legacy {
					if w.ManifestDigest != "" {
						t.Error("legacy archive reports a manifest digest")
					}
					if _, ok := members[strings.TrimPrefix(w.ConfigDigest, "sha256:")+".json"]; !ok {
						t.Error("no <config-hex>.json")
					}
					id := strings.TrimSuffix(manifest[0].Layers[0], "/layer.tar")
					if string(members[id+"/VERSION"]) != "1.0" || members[id+"/json"] == nil {
						t.Error("legacy layer directory lacks VERSION or json")
					}
					return
				}
				for _, f := range []string{"index.json", "oci-layout", "blobs/sha256/" + strings.TrimPrefix(w.ManifestDigest, "sha256:")} {
					if members[f] == nil {
						t.Errorf("no %s", f)
					}
				}
				// The Docker 25+ layout is also an OCI layout.
				dir := t.TempDir()
				untar(t, p, dir)
				oimg, desc := openLayout(t, dir)
				if err := checkImage(oimg); err != nil {
					t.Errorf("as OCI layout: %v", err)
				}
				if desc.Annotations["org.opencontainers.image.ref.name"] != "1.0" {
					t.Errorf("annotations %v", desc.Annotations)
				}
			})
		}
	}
}

func TestDockerArchiveMulti(t *testing.T) {
	base := sample(Uncompressed)
	other := base
	other.RepoTag = "app:2.0"
	other.Layers = append(slices.Clone(base.Layers[:2]), Layer{Files: []File{Reg("v2", "2")}})
	for _, legacy := range []bool{true, false} {
		p := filepath.Join(t.TempDir(), "multi.tar")
		ws := DockerArchive{Images: []Image{base, other}, Legacy: legacy}.WriteArchive(t, p)
		if len(ws) != 2 || ws[0].Layers[0].Digest != ws[1].Layers[0].Digest {
			t.Fatalf("shared base layer not reported identically: %+v", ws)
		}
		for _, ref := range []string{"example.com/app:1.0", "app:2.0"} {
			tag, _ := name.NewTag(ref)
			img, err := tarball.ImageFromPath(p, &tag)
			if err != nil {
				t.Fatalf("legacy=%v %s: %v", legacy, ref, err)
			}
			if err := checkImage(img); err != nil {
				t.Errorf("legacy=%v %s: %v", legacy, ref, err)
			}
		}
		if repos := string(tarMembers(t, p)["repositories"]); !strings.Contains(repos, `"app":{"2.0":`) {
			t.Errorf("repositories = %s", repos)
		}
	}

	// docker save | gzip
	var b bytes.Buffer
	if _, err := (DockerArchive{Images: []Image{base}, Compression: Gzip}).WriteArchiveTo(&b); err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(&b)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := readTar(t, zr).byName["manifest.json"]; !ok {
		t.Error("gzipped archive has no manifest.json")
	}
}

func TestOCIArchive(t *testing.T) {
	p := filepath.Join(t.TempDir(), "oci.tar")
	w := sample(Zstd).WriteOCIArchive(t, p)
	members := tarMembers(t, p)
	if string(members["oci-layout"]) != ociLayoutFile || members["index.json"] == nil {
		t.Fatalf("members: %v", slices.Sorted(maps.Keys(members)))
	}
	dir := t.TempDir()
	untar(t, p, dir)
	img, _ := openLayout(t, dir)
	if err := checkImage(img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	if d.String() != w.ManifestDigest {
		t.Errorf("digest %s, Written %s", d, w.ManifestDigest)
	}
}

func TestDeterministic(t *testing.T) {
	for name, write := range map[string]func(io.Writer) error{
		"oci-archive": func(w io.Writer) error { _, err := sample(Zstd).WriteOCIArchiveTo(w); return err },
		"docker25":    func(w io.Writer) error { _, err := sample(Gzip).WriteDockerArchiveTo(w, false); return err },
		"legacy":      func(w io.Writer) error { _, err := sample(Uncompressed).WriteDockerArchiveTo(w, true); return err },
	} {
		var a, b bytes.Buffer
		if err := write(&a); err != nil {
			t.Fatal(err)
		}
		if err := write(&b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Errorf("%s: two writes differ", name)
		}
		for n, h := range readTarHeaders(t, bytes.NewReader(a.Bytes())) {
			if !h.ModTime.Equal(Epoch) || h.Uid != 0 {
				t.Errorf("%s: %s: mtime %v uid %d", name, n, h.ModTime, h.Uid)
			}
		}
	}
	for _, h := range readTarHeaders(t, bytes.NewReader(sample(Gzip).LayerTar(0))) {
		if !h.ModTime.Equal(Epoch) {
			t.Errorf("layer entry %s: mtime %v", h.Name, h.ModTime)
		}
	}
}

func TestHostileEntries(t *testing.T) {
	files := []File{
		{Name: "../../etc/cron.d/evil", Content: []byte("* * * * * root sh\n")},
		{Name: "/abs/path", Content: []byte("abs")},
		{Name: "bad-\xff\xfe-utf8", Content: []byte("x")},
		{Name: strings.Repeat("long/", 60) + "file", Content: []byte("long")},
		{Name: "usr/bin/ping", Mode: 0o755, PAX: map[string]string{"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"}},
		{Name: "etc/shadow", Mode: ModeZero, UID: 0, GID: 42, Content: []byte("root:*:")},
		{Name: "usr/bin/sudo", Mode: 0o4755 | 0o2000, UID: 0, Uname: "root", Gname: "root"},
		{Name: "dev/null", Type: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3},
		{Name: "dev/sda", Type: tar.TypeBlock, Devmajor: 8},
		{Name: "run/fifo", Type: tar.TypeFifo},
		{Name: "escape", Type: tar.TypeSymlink, Linkname: "../../../../../../etc/shadow"},
		{Name: "hard", Type: tar.TypeLink, Linkname: "/etc/passwd"},
		{Name: "big-uid", UID: 1 << 30, GID: 1 << 30},
		{Name: "gnu-file", Format: tar.FormatGNU, Content: []byte("gnu")},
		{Name: "dup"}, {Name: "dup", Content: []byte("second")},
	}
	got := readTar(t, bytes.NewReader(Layer{Files: files}.Tar()))
	if len(got.order) != len(files) {
		t.Fatalf("%d entries, want %d", len(got.order), len(files))
	}
	for i, f := range files {
		h := got.order[i]
		if h.Name != f.Name || h.Typeflag != f.typ() || h.Mode != f.mode() || h.Uid != f.UID || h.Gid != f.GID ||
			h.Linkname != f.Linkname || h.Devmajor != f.Devmajor || h.Devminor != f.Devminor || h.Uname != f.Uname {
			t.Errorf("entry %d: got %+v\nwant %+v", i, h, f)
		}
		for k, v := range f.PAX {
			if h.PAXRecords[k] != v {
				t.Errorf("entry %d: PAX %s = %q, want %q", i, k, h.PAXRecords[k], v)
			}
		}
		if f.Content != nil && !bytes.Equal(got.data[i], f.Content) {
			t.Errorf("entry %d: content %q", i, got.data[i])
		}
	}
	if got.order[13].Format != tar.FormatGNU {
		t.Errorf("forced GNU format: got %v", got.order[13].Format)
	}
	if got.order[5].Mode != 0 {
		t.Errorf("ModeZero: mode %o", got.order[5].Mode)
	}

	if err := (Layer{Files: []File{{Name: "nul\x00byte"}}}).WriteTar(io.Discard); err == nil {
		t.Error("a NUL in a name was accepted")
	}

	// A global PAX header entry.
	g := readTar(t, bytes.NewReader(Layer{Files: []File{
		{Type: tar.TypeXGlobalHeader, PAX: map[string]string{"comment": "global"}},
		Reg("after", "a"),
	}}.Tar()))
	if g.order[0].Typeflag != tar.TypeXGlobalHeader || g.order[0].PAXRecords["comment"] != "global" {
		t.Errorf("global header: %+v", g.order[0])
	}
}

func TestSparse(t *testing.T) {
	const size = 1 << 30
	f := File{Name: "var/log/lastlog", Sparse: true, Content: []byte("header"), Size: size, Mode: 0o600, UID: 3_000_000, Uname: "üser",
		PAX: map[string]string{"SCHILY.xattr.user.k": "v"}}
	l := Layer{Files: []File{Dir("var/log/"), f, Reg("after", "still readable")}}
	raw := l.Tar()
	if len(raw) > 8<<10 {
		t.Errorf("sparse 1 GiB file takes %d bytes", len(raw))
	}
	tr := tar.NewReader(bytes.NewReader(raw))
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name != f.Name {
			continue
		}
		if h.Size != size || h.Mode != 0o600 || h.Uid != f.UID || h.Uname != f.Uname || h.PAXRecords["SCHILY.xattr.user.k"] != "v" {
			t.Errorf("sparse header: %+v", h)
		}
		head := make([]byte, 6)
		if _, err := io.ReadFull(tr, head); err != nil || string(head) != "header" {
			t.Fatalf("sparse data %q %v", head, err)
		}
		// The hole reads as zeros; skim a part of it.
		hole := make([]byte, 1<<16)
		if _, err := io.ReadFull(tr, hole); err != nil || !bytes.Equal(hole, make([]byte, len(hole))) {
			t.Errorf("hole: %v", err)
		}
	}
	if !slices.Equal(names, []string{"var/log/", f.Name, "after"}) {
		t.Errorf("names %q", names)
	}

	// An empty sparse file, and a layer of it that validates.
	img := Image{Layers: []Layer{{Compression: Gzip, Files: []File{{Name: "hole", Sparse: true, Size: 1 << 20}}}}}
	dir := t.TempDir()
	img.WriteOCILayout(t, dir)
	oimg, _ := openLayout(t, dir)
	if err := checkImage(oimg); err != nil {
		t.Error(err)
	}
}

func TestBombAndManyEntries(t *testing.T) {
	const bomb = 256 << 20
	img := Image{Layers: []Layer{GzipBomb(bomb), ManyEntries(20000)}}
	dir := t.TempDir()
	w := img.WriteOCILayout(t, dir)
	if w.Layers[0].Size > bomb/500 {
		t.Errorf("bomb blob is %d bytes", w.Layers[0].Size)
	}
	oimg, _ := openLayout(t, dir)
	ls, err := oimg.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := ls[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	hs := readTarHeaders(t, rc)
	rc.Close()
	if hs["bomb"].Size != bomb {
		t.Errorf("bomb entry: %+v", hs["bomb"])
	}
	rc, err = ls[1].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	hs = readTarHeaders(t, rc)
	rc.Close()
	if len(hs) != 20001 || hs["many/0019999"] == nil {
		t.Errorf("%d entries", len(hs))
	}
	if d, _ := ls[1].DiffID(); d.String() != w.Layers[1].DiffID {
		t.Errorf("many-entries diffID %s, Written %s", d, w.Layers[1].DiffID)
	}
}

func TestStreamingUncompressedLayer(t *testing.T) {
	// A 64 MiB uncompressed layer goes straight from generator to file.
	img := Image{Layers: []Layer{{Files: []File{{Name: "zeros", Size: 64 << 20}}}}}
	p := filepath.Join(t.TempDir(), "big.tar")
	w := img.WriteDockerArchive(t, p, false)
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() < 64<<20 || w.Layers[0].Digest != w.Layers[0].DiffID {
		t.Errorf("archive %d bytes, written %+v", st.Size(), w.Layers[0])
	}

	// A Generate that is not repeatable is caught.
	n := 0
	bad := Image{Layers: []Layer{{Generate: func(yield func(File) bool) {
		n++
		yield(File{Name: fmt.Sprint(n)})
	}}}}
	if _, err := bad.WriteOCIArchiveTo(io.Discard); err == nil || !strings.Contains(err.Error(), "changed between passes") {
		t.Errorf("non-deterministic Generate: %v", err)
	}
}

func TestSpoolToTempFile(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	noise := make([]byte, spoolMemory+1<<20)
	rand.NewChaCha8([32]byte{}).Read(noise)
	img := Image{Layers: []Layer{{Compression: Gzip, Files: []File{{Name: "noise", Content: noise}}}}}
	dir := t.TempDir()
	w := img.WriteOCILayout(t, dir)
	if w.Layers[0].Size <= spoolMemory {
		t.Fatalf("blob of %d bytes did not need a temporary file", w.Layers[0].Size)
	}
	oimg, _ := openLayout(t, dir)
	if err := checkImage(oimg); err != nil {
		t.Error(err)
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestCorruptions(t *testing.T) {
	t.Run("WrongDiffID", func(t *testing.T) {
		src := sample(Gzip)
		src.WrongDiffID = 2
		dir := t.TempDir()
		w := src.WriteOCILayout(t, dir)
		if w.Layers[1].DiffID == w.Layers[1].TrueDiffID || w.Layers[0].DiffID != w.Layers[0].TrueDiffID {
			t.Fatalf("Written: %+v", w.Layers)
		}
		img, _ := openLayout(t, dir)
		if err := checkImage(img); err == nil || !strings.Contains(strings.ToLower(err.Error()), "diffid") {
			t.Errorf("validate: %v", err)
		}
		cf, _ := img.ConfigFile()
		if cf.RootFS.DiffIDs[1].String() != w.Layers[1].DiffID {
			t.Errorf("config diff_ids[1] = %s", cf.RootFS.DiffIDs[1])
		}
		for _, legacy := range []bool{true, false} {
			p := filepath.Join(t.TempDir(), "img.tar")
			src.WriteDockerArchive(t, p, legacy)
			timg, err := tarball.ImageFromPath(p, nil)
			if err == nil {
				err = checkImage(timg)
			}
			if err == nil {
				t.Errorf("legacy=%v: docker archive with a wrong diffID validates", legacy)
			}
		}
	})
	t.Run("WrongDigest", func(t *testing.T) {
		src := sample(Gzip)
		src.WrongDigest = 1
		dir := t.TempDir()
		w := src.WriteOCILayout(t, dir)
		l := w.Layers[0]
		if l.Digest == l.TrueDigest {
			t.Fatal("digest not corrupted")
		}
		b, err := os.ReadFile(filepath.Join(dir, "blobs/sha256", strings.TrimPrefix(l.Digest, "sha256:")))
		if err != nil {
			t.Fatalf("blob not stored under the claimed digest: %v", err)
		}
		if DiffID(b) != l.TrueDigest {
			t.Error("stored blob is not the layer")
		}
		img, _ := openLayout(t, dir)
		if err := checkImage(img); err == nil || !strings.Contains(err.Error(), "digest") {
			t.Errorf("validate: %v", err)
		}
		if _, err := src.WriteDockerArchiveTo(io.Discard, true); err == nil {
			t.Error("WrongDigest accepted for a legacy archive")
		}
		members := tarMembersOf(t, func(w io.Writer) error { _, err := src.WriteDockerArchiveTo(w, false); return err })
		var manifest []dockerManifestEntry
		json.Unmarshal(members["manifest.json"], &manifest)
		if lp := manifest[0].Layers[0]; lp != "blobs/sha256/"+strings.TrimPrefix(l.Digest, "sha256:") || DiffID(members[lp]) != l.TrueDigest {
			t.Errorf("docker 25 layer path %s", lp)
		}
	})
	t.Run("RawConfig", func(t *testing.T) {
		src := sample(Gzip)
		src.RawConfig = []byte(`{"rootfs": {"diff_ids": [`)
		dir := t.TempDir()
		w := src.WriteOCILayout(t, dir)
		img, _ := openLayout(t, dir)
		raw, err := img.RawConfigFile()
		if err != nil || !bytes.Equal(raw, src.RawConfig) || w.ConfigDigest != DiffID(src.RawConfig) {
			t.Errorf("raw config %q %v", raw, err)
		}
		if _, err := img.ConfigFile(); err == nil {
			t.Error("malformed config parsed")
		}
		src.WrongDiffID = 1
		if _, err := src.WriteOCILayoutTo(t.TempDir()); err == nil {
			t.Error("WrongDiffID with RawConfig accepted")
		}
	})
	t.Run("RawManifest", func(t *testing.T) {
		src := sample(Gzip)
		src.RawManifest = []byte(`{"schemaVersion": 2, "layers": 7}`)
		dir := t.TempDir()
		w := src.WriteOCILayout(t, dir)
		if w.ManifestDigest != DiffID(src.RawManifest) {
			t.Errorf("manifest digest %s", w.ManifestDigest)
		}
		idx, err := layout.ImageIndexFromPath(dir)
		if err != nil {
			t.Fatal(err)
		}
		im, _ := idx.IndexManifest()
		if im.Manifests[0].Digest.String() != w.ManifestDigest {
			t.Error("index.json does not point at the raw manifest")
		}
		if img, err := idx.Image(im.Manifests[0].Digest); err == nil {
			if _, err := img.Manifest(); err == nil {
				t.Error("malformed manifest parsed")
			}
		}
		members := tarMembersOf(t, func(w io.Writer) error { _, err := src.WriteDockerArchiveTo(w, true); return err })
		if !bytes.Equal(members["manifest.json"], src.RawManifest) {
			t.Errorf("manifest.json = %s", members["manifest.json"])
		}
	})
	t.Run("RawIndex", func(t *testing.T) {
		src := sample(Gzip)
		src.RawIndex = []byte("not json")
		dir := t.TempDir()
		src.WriteOCILayout(t, dir)
		if b, _ := os.ReadFile(filepath.Join(dir, "index.json")); string(b) != "not json" {
			t.Errorf("index.json = %q", b)
		}
	})
	t.Run("TruncatedLayer", func(t *testing.T) {
		src := sample(Gzip)
		blob := src.Layers[1].Blob()
		src.Layers[1] = Layer{Raw: blob[:len(blob)/2], Compression: Gzip}
		dir := t.TempDir()
		src.WriteOCILayout(t, dir)
		img, _ := openLayout(t, dir)
		if err := checkImage(img); err == nil {
			t.Error("truncated layer validates")
		}
	})
	t.Run("EditManifest", func(t *testing.T) {
		src := sample(Gzip)
		src.EditManifest = func(m *v1.Manifest) { m.Layers[0].Size++ }
		dir := t.TempDir()
		src.WriteOCILayout(t, dir)
		img, _ := openLayout(t, dir)
		if err := checkImage(img); err == nil || !strings.Contains(err.Error(), "size") {
			t.Errorf("validate: %v", err)
		}
	})
	t.Run("OutOfRange", func(t *testing.T) {
		src := sample(Gzip)
		src.WrongDigest = 4
		if _, err := src.WriteOCIArchiveTo(io.Discard); err == nil {
			t.Error("WrongDigest 4 of 3 layers accepted")
		}
	})
}

func TestRawLayerDiffID(t *testing.T) {
	good := Layer{Files: []File{Reg("a", "b")}, Compression: Zstd}
	raw := Layer{Raw: good.Blob(), Compression: Zstd}
	if DiffID(raw.Tar()) != DiffID(good.Tar()) {
		t.Error("raw zstd layer diffID differs from the layer it was made from")
	}
	garbage := Layer{Raw: []byte("garbage"), Compression: Gzip}
	if !bytes.Equal(garbage.Tar(), []byte("garbage")) {
		t.Error("undecompressable raw layer: Tar is not Raw")
	}
}

func TestIndex(t *testing.T) {
	amd := sample(Gzip)
	arm := sample(Zstd)
	arm.Config.Env = []string{"ARCH=arm64"}
	for _, flat := range []bool{false, true} {
		for _, docker := range []bool{false, true} {
			t.Run(fmt.Sprintf("flat=%v/docker=%v", flat, docker), func(t *testing.T) {
				ix := Index{Images: map[string]Image{"linux/amd64": amd, "linux/arm64/v8": arm}, RepoTag: "app:multi", Flat: flat, DockerMediaTypes: docker}
				dir := t.TempDir()
				w := ix.WriteOCILayout(t, dir)
				top, err := layout.ImageIndexFromPath(dir)
				if err != nil {
					t.Fatal(err)
				}
				im, _ := top.IndexManifest()
				var idx v1.ImageIndex = top
				if !flat {
					if len(im.Manifests) != 1 || im.Manifests[0].Digest.String() != w.IndexDigest || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "multi" {
						t.Fatalf("index.json: %+v", im)
					}
					if idx, err = top.ImageIndex(im.Manifests[0].Digest); err != nil {
						t.Fatal(err)
					}
					if err := validate.Index(idx, validate.Fast); err != nil { // children are checked below
						t.Fatalf("validate: %v", err)
					}
					mt, _ := idx.MediaType()
					if docker != (mt == types.DockerManifestList) {
						t.Errorf("index media type %s", mt)
					}
				}
				m, _ := idx.IndexManifest()
				var plats []string
				for _, d := range m.Manifests {
					plats = append(plats, d.Platform.String())
					img, err := idx.Image(d.Digest)
					if err != nil {
						t.Fatal(err)
					}
					if err := checkImage(img); err != nil {
						t.Errorf("%s: %v", d.Platform, err)
					}
					cf, _ := img.ConfigFile()
					if cf.Platform().String() != d.Platform.String() {
						t.Errorf("config platform %s, index %s", cf.Platform(), d.Platform)
					}
				}
				if !slices.Equal(plats, []string{"linux/amd64", "linux/arm64/v8"}) {
					t.Errorf("platforms %v", plats)
				}
			})
		}
	}
	// An index whose platform and config disagree.
	liar := sample(Gzip)
	liar.Config.Architecture = "s390x"
	p := filepath.Join(t.TempDir(), "index.tar")
	w := Index{Images: map[string]Image{"linux/arm64": liar}}.WriteOCIArchive(t, p)
	if !strings.Contains(string(w.Images["linux/arm64"].Config), `"architecture":"s390x"`) || !strings.Contains(string(w.Index), `"architecture":"arm64"`) {
		t.Error("platform mismatch not kept")
	}
}

// checkImage verifies img with validate.Image when its layers are all gzip
// (the only compression validate can read); otherwise with validate.Fast
// plus hashing each layer's blob and its decompressed content against the
// manifest and the config.
func checkImage(img v1.Image) error {
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	allGzip := true
	for _, l := range m.Layers {
		allGzip = allGzip && (l.MediaType == types.OCILayer || l.MediaType == types.DockerLayer)
	}
	if allGzip {
		return validate.Image(img)
	}
	if err := validate.Image(img, validate.Fast); err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	if len(cf.RootFS.DiffIDs) != len(m.Layers) {
		return fmt.Errorf("%d diff_ids for %d layers", len(cf.RootFS.DiffIDs), len(m.Layers))
	}
	for i, d := range m.Layers {
		l, err := img.LayerByDigest(d.Digest)
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		h, n, err := v1.SHA256(rc)
		rc.Close()
		if err != nil {
			return err
		}
		if h != d.Digest || n != d.Size {
			return fmt.Errorf("layer %d: mismatched digest: blob is %s (%d bytes), manifest says %s (%d bytes)", i, h, n, d.Digest, d.Size)
		}
		rc, err = l.Uncompressed()
		if err != nil {
			return err
		}
		h, _, err = v1.SHA256(rc)
		rc.Close()
		if err != nil {
			return err
		}
		if h != cf.RootFS.DiffIDs[i] {
			return fmt.Errorf("layer %d: mismatched diffid: content is %s, config says %s", i, h, cf.RootFS.DiffIDs[i])
		}
	}
	return nil
}

// tarEntries are the entries of a tar stream, in order and by name.
type tarEntries struct {
	order  []*tar.Header
	data   [][]byte
	byName map[string][]byte
}

func readTar(t *testing.T, r io.Reader) tarEntries {
	t.Helper()
	e := tarEntries{byName: map[string][]byte{}}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return e
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		e.order = append(e.order, h)
		e.data = append(e.data, b)
		e.byName[h.Name] = b
	}
}

func readTarHeaders(t *testing.T, r io.Reader) map[string]*tar.Header {
	t.Helper()
	hs := map[string]*tar.Header{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return hs
		}
		if err != nil {
			t.Fatal(err)
		}
		hs[h.Name] = h
	}
}

func tarMembers(t *testing.T, p string) map[string][]byte {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return readTar(t, f).byName
}

func tarMembersOf(t *testing.T, write func(io.Writer) error) map[string][]byte {
	t.Helper()
	var b bytes.Buffer
	if err := write(&b); err != nil {
		t.Fatal(err)
	}
	return readTar(t, &b).byName
}

func untar(t *testing.T, p, dir string) {
	t.Helper()
	for n, b := range tarMembers(t, p) {
		if strings.HasSuffix(n, "/") {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadTar(t *testing.T) {
	orig := Layer{Files: []File{
		Dir("etc/"),
		{Name: "etc/shadow", Content: []byte("root:*:1::::::\n"), Mode: 0o640, GID: 42, Gname: "shadow"},
		{Name: "usr/bin/ping", Content: []byte("\x7fELF"), Mode: 0o4755, PAX: map[string]string{"SCHILY.xattr.security.capability": "\x01\x00\x00\x02"}},
		Symlink("bin", "usr/bin"),
		Hardlink("usr/bin/ping6", "usr/bin/ping"),
		{Name: "dev/null", Type: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 3},
		{Name: "empty", Mode: ModeZero, ModTime: Epoch.AddDate(1, 0, 0)},
		{Name: "long/" + strings.Repeat("n", 120), Content: []byte("x"), UID: 1 << 22},
		Whiteout("gone"),
	}}.Tar()
	files, errf := ReadTar(bytes.NewReader(orig))
	var got []File
	for f := range files {
		got = append(got, f)
	}
	if err := errf(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 9 || got[6].Mode != ModeZero || got[5].Devminor != 3 || got[1].Gname != "shadow" {
		t.Fatalf("read %d files: %+v", len(got), got)
	}
	// Written again, the entries are the same archive, byte for byte.
	if again := (Layer{Files: got}).Tar(); !bytes.Equal(again, orig) {
		t.Errorf("rewritten archive differs: %d bytes, want %d", len(again), len(orig))
	}
	// As a Generate sequence, the base comes after Files.
	files, _ = ReadTar(bytes.NewReader(orig))
	l := Layer{Files: []File{Reg("first", "1")}, Generate: files}
	if e := readTar(t, bytes.NewReader(l.Tar())); len(e.order) != 10 || e.order[0].Name != "first" || e.order[1].Name != "etc/" {
		t.Errorf("entries with the base after Files: %d, want 10 starting first, etc/", len(e.order))
	}

	// A truncated archive ends the sequence with an error naming the entry.
	files, errf = ReadTar(bytes.NewReader(orig[:1030]))
	for range files {
	}
	if err := errf(); err == nil || !strings.Contains(err.Error(), "etc/shadow") {
		t.Errorf("truncated archive: err = %v", err)
	}
}
