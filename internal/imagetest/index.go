package imagetest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Index is a multi-platform image: an image index (or Docker manifest list)
// over one image per platform.
type Index struct {
	// Images are keyed by platform, "os/arch" or "os/arch/variant"
	// ("linux/amd64", "linux/arm64/v8"). An image whose Config leaves OS,
	// Architecture or Variant empty gets them from its key; one that sets
	// them keeps its own, so the index and the config can disagree. Their
	// RawIndex is ignored (see Index.RawIndex); their other corruptions
	// apply.
	Images map[string]Image
	// RepoTag annotates the index in index.json (see Image.RepoTag).
	RepoTag string
	// DockerMediaTypes writes a Docker manifest list over Docker schema 2
	// images instead of an OCI image index over OCI images.
	DockerMediaTypes bool
	// Flat lists the platform manifests directly in index.json (each with
	// its platform and the RepoTag annotations), instead of index.json
	// pointing to one image index blob that lists them, as docker save and
	// skopeo write.
	Flat bool
	// RawIndex replaces index.json.
	RawIndex []byte
}

// IndexWritten reports what an Index writer wrote.
type IndexWritten struct {
	// IndexDigest is the digest of the image index blob, Index its bytes;
	// both empty when Flat.
	IndexDigest string
	Index       []byte
	// Images reports each platform's image, by the Images key.
	Images map[string]Written
}

// WriteOCILayout writes the index as an OCI image layout in dir. It fails t
// on error.
func (ix Index) WriteOCILayout(t testing.TB, dir string) IndexWritten {
	t.Helper()
	w, err := ix.WriteOCILayoutTo(dir)
	if err != nil {
		t.Fatalf("imagetest: OCI layout %s: %v", dir, err)
	}
	return w
}

// WriteOCILayoutTo is WriteOCILayout returning its error.
func (ix Index) WriteOCILayoutTo(dir string) (IndexWritten, error) {
	s := &session{}
	defer s.close()
	es, w, err := ix.entries(s)
	if err != nil {
		return IndexWritten{}, err
	}
	return w, es.writeDir(dir)
}

// WriteOCIArchive writes the index as an OCI layout in a tar archive at
// path. It fails t on error.
func (ix Index) WriteOCIArchive(t testing.TB, path string) IndexWritten {
	t.Helper()
	var w IndexWritten
	err := writeFile(path, func(out io.Writer) (err error) {
		w, err = ix.WriteOCIArchiveTo(out)
		return err
	})
	if err != nil {
		t.Fatalf("imagetest: OCI archive %s: %v", path, err)
	}
	return w
}

// WriteOCIArchiveTo is WriteOCIArchive writing the archive to out.
func (ix Index) WriteOCIArchiveTo(out io.Writer) (IndexWritten, error) {
	s := &session{}
	defer s.close()
	es, w, err := ix.entries(s)
	if err != nil {
		return IndexWritten{}, err
	}
	return w, es.writeTar(out)
}

func (ix Index) entries(s *session) (*entrySet, IndexWritten, error) {
	es := newEntrySet()
	es.dir("blobs/")
	es.dir("blobs/sha256/")
	w := IndexWritten{Images: map[string]Written{}}
	keys := make([]string, 0, len(ix.Images))
	for k := range ix.Images {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	descs := []v1.Descriptor{}
	for _, k := range keys {
		p, err := v1.ParsePlatform(k)
		if err != nil {
			return nil, w, fmt.Errorf("platform %q: %w", k, err)
		}
		img := ix.Images[k]
		img.Config.OS = cmp.Or(img.Config.OS, p.OS)
		img.Config.Architecture = cmp.Or(img.Config.Architecture, p.Architecture)
		img.Config.Variant = cmp.Or(img.Config.Variant, p.Variant)
		img.DockerMediaTypes = img.DockerMediaTypes || ix.DockerMediaTypes
		b, err := s.buildImage(img, true)
		if err != nil {
			return nil, w, fmt.Errorf("%s: %w", k, err)
		}
		b.addBlobs(es)
		d := b.descriptor()
		d.Platform = &v1.Platform{OS: p.OS, Architecture: p.Architecture, Variant: p.Variant}
		if ix.Flat {
			d.Annotations = refAnnotations(ix.RepoTag)
		}
		descs = append(descs, d)
		w.Images[k] = b.written
	}
	top := descs
	if !ix.Flat {
		mt := types.OCIImageIndex
		if ix.DockerMediaTypes {
			mt = types.DockerManifestList
		}
		ib, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: mt, Manifests: descs})
		if err != nil {
			return nil, w, err
		}
		b := memBlob(ib)
		es.blob(blobPath(b.digest), b)
		w.IndexDigest, w.Index = b.digest.String(), ib
		top = []v1.Descriptor{{MediaType: mt, Size: b.size, Digest: b.digest, Annotations: refAnnotations(ix.RepoTag)}}
	}
	idx, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: top})
	if err != nil {
		return nil, w, err
	}
	es.file("index.json", orRaw(ix.RawIndex, idx))
	es.file("oci-layout", []byte(ociLayoutFile))
	return es, w, nil
}
