package imagetest

import (
	"archive/tar"
	"bufio"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

const ociLayoutFile = `{"imageLayoutVersion":"1.0.0"}`

// WriteOCILayout writes img as an OCI image layout in dir (created if
// needed): oci-layout, index.json (one manifest, annotated with RepoTag)
// and blobs/sha256/. It fails t on error.
func (img Image) WriteOCILayout(t testing.TB, dir string) Written {
	t.Helper()
	w, err := img.WriteOCILayoutTo(dir)
	if err != nil {
		t.Fatalf("imagetest: OCI layout %s: %v", dir, err)
	}
	return w
}

// WriteOCILayoutTo is WriteOCILayout returning its error.
func (img Image) WriteOCILayoutTo(dir string) (Written, error) {
	s := &session{}
	defer s.close()
	es, w, err := img.ociEntries(s)
	if err != nil {
		return Written{}, err
	}
	return w, es.writeDir(dir)
}

// WriteOCIArchive writes img as an OCI image layout in a tar archive at
// path. It fails t on error.
func (img Image) WriteOCIArchive(t testing.TB, path string) Written {
	t.Helper()
	var w Written
	err := writeFile(path, func(out io.Writer) (err error) {
		w, err = img.WriteOCIArchiveTo(out)
		return err
	})
	if err != nil {
		t.Fatalf("imagetest: OCI archive %s: %v", path, err)
	}
	return w
}

// WriteOCIArchiveTo is WriteOCIArchive writing the archive to out.
func (img Image) WriteOCIArchiveTo(out io.Writer) (Written, error) {
	s := &session{}
	defer s.close()
	es, w, err := img.ociEntries(s)
	if err != nil {
		return Written{}, err
	}
	return w, es.writeTar(out)
}

func (img Image) ociEntries(s *session) (*entrySet, Written, error) {
	b, err := s.buildImage(img, true)
	if err != nil {
		return nil, Written{}, err
	}
	es := newEntrySet()
	b.addBlobs(es)
	d := b.descriptor()
	d.Annotations = refAnnotations(img.RepoTag)
	idx, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{d}})
	if err != nil {
		return nil, Written{}, err
	}
	es.file("index.json", orRaw(img.RawIndex, idx))
	es.file("oci-layout", []byte(ociLayoutFile))
	return es, b.written, nil
}

// addBlobs adds the layer, config and manifest blobs under blobs/sha256/,
// layers under the digests the manifest claims.
func (b *builtImage) addBlobs(es *entrySet) {
	es.dir("blobs/")
	es.dir("blobs/sha256/")
	for i, l := range b.layers {
		es.blob(blobPath(b.digests[i]), l.blob)
	}
	es.blob(blobPath(b.config.digest), b.config)
	es.blob(blobPath(b.manifest.digest), b.manifest)
}

func blobPath(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

func orRaw(raw, generated []byte) []byte {
	if raw != nil {
		return raw
	}
	return generated
}

// refAnnotations are the index.json annotations containerd and Docker 25+
// give a tagged image.
func refAnnotations(ref string) map[string]string {
	if ref == "" {
		return nil
	}
	_, tag := splitTag(ref)
	return map[string]string{
		"io.containerd.image.name":          normalizedName(ref),
		"org.opencontainers.image.ref.name": tag,
	}
}

// splitTag splits "repo:tag" (tag "latest" when absent).
func splitTag(ref string) (repo, tag string) {
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		return ref[:i], ref[i+1:]
	}
	return ref, "latest"
}

// normalizedName is ref with Docker Hub's implicit domain and library/
// spelled out, as containerd names images.
func normalizedName(ref string) string {
	repo, tag := splitTag(ref)
	first, _, hasSlash := strings.Cut(repo, "/")
	switch {
	case !hasSlash:
		repo = "docker.io/library/" + repo
	case !strings.ContainsAny(first, ".:") && first != "localhost":
		repo = "docker.io/" + repo
	}
	return repo + ":" + tag
}

// familiarName is repo in Docker's short form ("app" for
// docker.io/library/app), as repositories files spell it.
func familiarName(repo string) string {
	repo = strings.TrimPrefix(repo, "docker.io/")
	if r, ok := strings.CutPrefix(repo, "library/"); ok && !strings.Contains(r, "/") {
		return r
	}
	return repo
}

// DockerArchive is a docker-save archive holding one or more images.
type DockerArchive struct {
	Images []Image
	// Legacy selects the layout docker save used before Docker 25:
	// "<v1-id>/{VERSION,json,layer.tar}", "<config-hex>.json",
	// manifest.json and repositories. Otherwise the Docker 25+ layout:
	// blobs/sha256/<hex> (layers, configs, manifests, v1 JSON), index.json,
	// oci-layout, manifest.json (paths into blobs/) and repositories.
	Legacy bool
	// Compression compresses the whole archive, as "docker save | gzip".
	Compression Compression
	// RawManifest replaces manifest.json; RawIndex replaces index.json
	// (Docker 25+ layout). An Image's own RawManifest replaces its OCI
	// manifest blob in the Docker 25+ layout, and may not be set in the
	// legacy one.
	RawManifest, RawIndex []byte
}

// WriteDockerArchive writes img as a docker-save archive at path, in the
// legacy layout or the Docker 25+ one. img.RawManifest replaces
// manifest.json and img.RawIndex index.json. It fails t on error.
func (img Image) WriteDockerArchive(t testing.TB, path string, legacy bool) Written {
	t.Helper()
	var w Written
	err := writeFile(path, func(out io.Writer) (err error) {
		w, err = img.WriteDockerArchiveTo(out, legacy)
		return err
	})
	if err != nil {
		t.Fatalf("imagetest: docker archive %s: %v", path, err)
	}
	return w
}

// WriteDockerArchiveTo is WriteDockerArchive writing the archive to out.
func (img Image) WriteDockerArchiveTo(out io.Writer, legacy bool) (Written, error) {
	a := DockerArchive{Images: []Image{img}, Legacy: legacy, RawManifest: img.RawManifest, RawIndex: img.RawIndex}
	a.Images[0].RawManifest, a.Images[0].RawIndex = nil, nil
	ws, err := a.WriteArchiveTo(out)
	if err != nil {
		return Written{}, err
	}
	return ws[0], nil
}

// WriteArchive writes the archive at path. It fails t on error.
func (a DockerArchive) WriteArchive(t testing.TB, path string) []Written {
	t.Helper()
	var ws []Written
	err := writeFile(path, func(out io.Writer) (err error) {
		ws, err = a.WriteArchiveTo(out)
		return err
	})
	if err != nil {
		t.Fatalf("imagetest: docker archive %s: %v", path, err)
	}
	return ws
}

// dockerManifestEntry is one image of manifest.json.
type dockerManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// v1JSON is the legacy per-layer image JSON of docker save.
type v1JSON struct {
	ID              string    `json:"id"`
	Parent          string    `json:"parent,omitempty"`
	Created         time.Time `json:"created"`
	ContainerConfig struct{}  `json:"container_config"`
	OS              string    `json:"os,omitempty"`
	Architecture    string    `json:"architecture,omitempty"`
}

// WriteArchiveTo writes the archive to out and reports each image's digests.
func (a DockerArchive) WriteArchiveTo(out io.Writer) ([]Written, error) {
	s := &session{}
	defer s.close()
	es := newEntrySet()
	manifest := []dockerManifestEntry{}
	repos := map[string]map[string]string{}
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{}}
	var ws []Written
	for n, img := range a.Images {
		if a.Legacy && img.WrongDigest != 0 {
			return nil, fmt.Errorf("image %d: WrongDigest has no meaning in a legacy docker archive, which has no layer digests", n+1)
		}
		if a.Legacy && img.RawManifest != nil {
			return nil, fmt.Errorf("image %d: a legacy docker archive has no image manifest blob; set DockerArchive.RawManifest to replace manifest.json", n+1)
		}
		b, err := s.buildImage(img, true)
		if err != nil {
			return nil, fmt.Errorf("image %d: %w", n+1, err)
		}
		osName, arch, created := cmp.Or(img.Config.OS, "linux"), cmp.Or(img.Config.Architecture, "amd64"), Epoch
		if b.cf != nil {
			osName, arch, created = b.cf.OS, b.cf.Architecture, b.cf.Created.Time
		}

		// Legacy v1 layer IDs chain the layers, as Docker's do.
		var ids []string
		var layerPaths []string
		parent, chain := "", ""
		for i, l := range b.layers {
			if i == 0 {
				chain = b.diffIDs[i].String()
			} else {
				chain = hashOf([]byte(chain + " " + b.diffIDs[i].String())).String()
			}
			sum := sha256.Sum256([]byte(parent + " " + chain + " " + l.blob.digest.String()))
			id := hex.EncodeToString(sum[:])
			vj := v1JSON{ID: id, Parent: parent, Created: Epoch, OS: osName}
			if i == len(b.layers)-1 {
				vj.Architecture, vj.Created = arch, created
			}
			vb, err := json.Marshal(vj)
			if err != nil {
				return nil, err
			}
			if a.Legacy {
				es.dir(id + "/")
				es.file(id+"/VERSION", []byte("1.0"))
				es.file(id+"/json", vb)
				es.blob(id+"/layer.tar", l.blob)
				layerPaths = append(layerPaths, id+"/layer.tar")
			} else {
				v := memBlob(vb)
				es.blob(blobPath(v.digest), v)
				layerPaths = append(layerPaths, blobPath(b.digests[i]))
			}
			ids = append(ids, id)
			parent = id
		}

		entry := dockerManifestEntry{Layers: layerPaths}
		if img.RepoTag != "" {
			entry.RepoTags = []string{img.RepoTag}
			repo, tag := splitTag(img.RepoTag)
			repo = familiarName(repo)
			if len(b.layers) > 0 {
				if repos[repo] == nil {
					repos[repo] = map[string]string{}
				}
				if a.Legacy {
					repos[repo][tag] = ids[len(ids)-1]
				} else {
					repos[repo][tag] = b.diffIDs[len(b.diffIDs)-1].Hex
				}
			}
		}
		w := b.written
		if a.Legacy {
			entry.Config = b.config.digest.Hex + ".json"
			es.blob(entry.Config, b.config)
			w.ManifestDigest, w.Manifest = "", nil
		} else {
			entry.Config = blobPath(b.config.digest)
			b.addBlobs(es)
			d := b.descriptor()
			d.Annotations = refAnnotations(img.RepoTag)
			idx.Manifests = append(idx.Manifests, d)
		}
		manifest = append(manifest, entry)
		ws = append(ws, w)
	}

	mb, err := jsonLine(manifest)
	if err != nil {
		return nil, err
	}
	es.file("manifest.json", orRaw(a.RawManifest, mb))
	if len(repos) > 0 {
		rb, err := jsonLine(repos)
		if err != nil {
			return nil, err
		}
		es.file("repositories", rb)
	}
	if !a.Legacy {
		ib, err := json.Marshal(idx)
		if err != nil {
			return nil, err
		}
		es.file("index.json", orRaw(a.RawIndex, ib))
		es.file("oci-layout", []byte(ociLayoutFile))
	}

	cw, err := compressor(out, a.Compression)
	if err != nil {
		return nil, err
	}
	if err := es.writeTar(cw); err != nil {
		return nil, err
	}
	return ws, cw.Close()
}

// jsonLine is v as json.Encoder writes it, newline included, as Docker
// writes manifest.json and repositories.
func jsonLine(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	return append(b, '\n'), err
}

// entrySet is the files of an image container, by slash-separated name
// (directories end with "/"). The first blob added under a name wins.
type entrySet struct{ m map[string]*blob }

func newEntrySet() *entrySet { return &entrySet{m: map[string]*blob{}} }

func (es *entrySet) dir(name string) { es.m[name] = nil }

func (es *entrySet) file(name string, data []byte) { es.m[name] = memBlob(data) }

func (es *entrySet) blob(name string, b *blob) {
	if _, ok := es.m[name]; !ok {
		es.m[name] = b
	}
}

func (es *entrySet) names() []string {
	names := make([]string, 0, len(es.m))
	for n := range es.m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// writeTar writes the entries as a tar archive, sorted by name, with fixed
// owners and mtimes.
func (es *entrySet) writeTar(w io.Writer) error {
	tw := tar.NewWriter(w)
	for _, name := range es.names() {
		b := es.m[name]
		if b == nil {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: Epoch}); err != nil {
				return err
			}
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: b.size, ModTime: Epoch}); err != nil {
			return err
		}
		if err := b.writeTo(tw); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return tw.Close()
}

// writeDir writes the entries below dir.
func (es *entrySet) writeDir(dir string) error {
	for _, name := range es.names() {
		p := filepath.Join(dir, filepath.FromSlash(name))
		b := es.m[name]
		if b == nil {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := writeFile(p, b.writeTo); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// writeFile creates path and writes it through a buffer.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	return errors.Join(err, f.Close())
}
