package imagetest

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// dockerZstdLayer is containerd's media type for zstd layers in Docker
// schema 2 manifests (Docker itself defines none).
const dockerZstdLayer types.MediaType = "application/vnd.docker.image.rootfs.diff.tar.zstd"

// blob is the content of one file of an image container: in memory,
// spooled to a temporary file, or regenerated on demand.
type blob struct {
	digest v1.Hash
	size   int64
	data   []byte
	path   string
	gen    func(io.Writer) error
}

func hashOf(b []byte) v1.Hash {
	s := sha256.Sum256(b)
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(s[:])}
}

func hashFrom(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// wrongHash derives a well-formed digest that h's content does not have.
func wrongHash(h v1.Hash) v1.Hash {
	return hashOf([]byte("imagetest: not the digest of " + h.String()))
}

func memBlob(b []byte) *blob {
	return &blob{digest: hashOf(b), size: int64(len(b)), data: b}
}

func (b *blob) writeTo(w io.Writer) error {
	switch {
	case b.gen != nil:
		h, c := sha256.New(), &counter{}
		if err := b.gen(io.MultiWriter(w, h, c)); err != nil {
			return err
		}
		if c.n != b.size || hashFrom(h) != b.digest {
			return errors.New("layer content changed between passes: Layer.Generate must yield the same entries each time")
		}
		return nil
	case b.path != "":
		f, err := os.Open(b.path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	}
	_, err := w.Write(b.data)
	return err
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

// session owns the temporary files of one write.
type session struct{ temps []*os.File }

func (s *session) close() {
	for _, f := range s.temps {
		f.Close()
		os.Remove(f.Name())
	}
}

// spoolMemory is how much of a blob a spool keeps in memory before moving
// it to a temporary file.
const spoolMemory = 8 << 20

// spool collects a blob in memory, or in a temporary file once large.
type spool struct {
	s   *session
	buf bytes.Buffer
	f   *os.File
}

func (sp *spool) Write(p []byte) (int, error) {
	if sp.f == nil && sp.buf.Len()+len(p) <= spoolMemory {
		return sp.buf.Write(p)
	}
	if sp.f == nil {
		f, err := os.CreateTemp("", "imagetest-blob-*")
		if err != nil {
			return 0, err
		}
		sp.s.temps = append(sp.s.temps, f)
		sp.f = f
		if _, err := f.Write(sp.buf.Bytes()); err != nil {
			return 0, err
		}
		sp.buf = bytes.Buffer{}
	}
	return sp.f.Write(p)
}

func (sp *spool) blob(digest v1.Hash, size int64) (*blob, error) {
	b := &blob{digest: digest, size: size}
	if sp.f != nil {
		b.path = sp.f.Name()
		return b, sp.f.Close()
	}
	b.data = sp.buf.Bytes()
	return b, nil
}

type builtLayer struct {
	blob      *blob
	diffID    v1.Hash // true diffID
	mediaType types.MediaType
}

func layerMediaType(l Layer, docker bool) types.MediaType {
	if l.MediaType != "" {
		return l.MediaType
	}
	switch {
	case l.Compression == Gzip && docker:
		return types.DockerLayer
	case l.Compression == Gzip:
		return types.OCILayer
	case l.Compression == Zstd && docker:
		return dockerZstdLayer
	case l.Compression == Zstd:
		return types.OCILayerZStd
	case docker:
		return types.DockerUncompressedLayer
	}
	return types.OCIUncompressedLayer
}

// buildLayer computes a layer's blob, digest and diffID in one pass.
// Uncompressed layers are regenerated when written; compressed ones are
// spooled.
func (s *session) buildLayer(l Layer, docker bool) (*builtLayer, error) {
	bl := &builtLayer{mediaType: layerMediaType(l, docker)}
	switch {
	case l.Raw != nil:
		bl.blob = memBlob(l.Raw)
		bl.diffID = hashOf(rawTar(l.Raw, l.Compression))
	case l.Compression == Uncompressed:
		h, c := sha256.New(), &counter{}
		if err := l.WriteTar(io.MultiWriter(h, c)); err != nil {
			return nil, err
		}
		bl.diffID = hashFrom(h)
		bl.blob = &blob{digest: bl.diffID, size: c.n, gen: l.WriteTar}
	default:
		dh, bh, c, sp := sha256.New(), sha256.New(), &counter{}, &spool{s: s}
		cw, err := compressor(io.MultiWriter(sp, bh, c), l.Compression)
		if err != nil {
			return nil, err
		}
		if err := l.WriteTar(io.MultiWriter(dh, cw)); err != nil {
			return nil, err
		}
		if err := cw.Close(); err != nil {
			return nil, err
		}
		if bl.blob, err = sp.blob(hashFrom(bh), c.n); err != nil {
			return nil, err
		}
		bl.diffID = hashFrom(dh)
	}
	return bl, nil
}

// builtImage is an image whose blobs are computed.
type builtImage struct {
	layers  []*builtLayer
	diffIDs []v1.Hash // as the config lists them
	digests []v1.Hash // as the manifest lists them
	config  *blob
	cf      *v1.ConfigFile // nil with RawConfig
	// manifest is the image manifest blob (raw when RawManifest is set and
	// rawManifestBlob was asked for).
	manifest          *blob
	manifestMediaType types.MediaType
	written           Written
}

func (s *session) buildImage(img Image, rawManifestBlob bool) (*builtImage, error) {
	n := len(img.Layers)
	switch {
	case img.WrongDiffID < 0 || img.WrongDiffID > n:
		return nil, fmt.Errorf("WrongDiffID %d: the image has %d layers (the index is 1-based)", img.WrongDiffID, n)
	case img.WrongDigest < 0 || img.WrongDigest > n:
		return nil, fmt.Errorf("WrongDigest %d: the image has %d layers (the index is 1-based)", img.WrongDigest, n)
	case img.WrongDiffID != 0 && img.RawConfig != nil:
		return nil, errors.New("WrongDiffID has no effect with RawConfig")
	}
	b := &builtImage{}
	for i, l := range img.Layers {
		bl, err := s.buildLayer(l, img.DockerMediaTypes)
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i+1, err)
		}
		b.layers = append(b.layers, bl)
		b.diffIDs = append(b.diffIDs, bl.diffID)
		b.digests = append(b.digests, bl.blob.digest)
	}
	if i := img.WrongDiffID - 1; i >= 0 {
		b.diffIDs[i] = wrongHash(b.diffIDs[i])
	}
	if i := img.WrongDigest - 1; i >= 0 {
		b.digests[i] = wrongHash(b.digests[i])
	}

	if img.RawConfig != nil {
		b.config = memBlob(img.RawConfig)
	} else {
		b.cf = img.configFile(b.diffIDs)
		cb, err := json.Marshal(b.cf)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		b.config = memBlob(cb)
	}

	cfgType := types.OCIConfigJSON
	b.manifestMediaType = types.OCIManifestSchema1
	if img.DockerMediaTypes {
		cfgType, b.manifestMediaType = types.DockerConfigJSON, types.DockerManifestSchema2
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     b.manifestMediaType,
		Config:        v1.Descriptor{MediaType: cfgType, Size: b.config.size, Digest: b.config.digest},
		Layers:        []v1.Descriptor{},
	}
	for i, l := range b.layers {
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: l.mediaType, Size: l.blob.size, Digest: b.digests[i]})
	}
	if img.EditManifest != nil {
		img.EditManifest(&m)
	}
	if img.RawManifest != nil && rawManifestBlob {
		b.manifest = memBlob(img.RawManifest)
	} else {
		mb, err := json.Marshal(m)
		if err != nil {
			return nil, fmt.Errorf("manifest: %w", err)
		}
		b.manifest = memBlob(mb)
	}

	b.written = Written{
		ConfigDigest:   b.config.digest.String(),
		Config:         b.config.data,
		ManifestDigest: b.manifest.digest.String(),
		Manifest:       b.manifest.data,
	}
	for i, l := range b.layers {
		b.written.Layers = append(b.written.Layers, LayerInfo{
			Digest:     b.digests[i].String(),
			DiffID:     b.diffIDs[i].String(),
			TrueDigest: l.blob.digest.String(),
			TrueDiffID: l.diffID.String(),
			Size:       l.blob.size,
			MediaType:  string(l.mediaType),
		})
	}
	return b, nil
}

// descriptor describes the image manifest blob.
func (b *builtImage) descriptor() v1.Descriptor {
	return v1.Descriptor{MediaType: b.manifestMediaType, Size: b.manifest.size, Digest: b.manifest.digest}
}

// configFile is the image config, with the given diffIDs.
func (img Image) configFile(diffIDs []v1.Hash) *v1.ConfigFile {
	o := img.Config
	created := o.Created
	if created.IsZero() {
		created = Epoch
	}
	cf := &v1.ConfigFile{
		Architecture: cmp.Or(o.Architecture, "amd64"),
		OS:           cmp.Or(o.OS, "linux"),
		Variant:      o.Variant,
		Author:       o.Author,
		Created:      v1.Time{Time: created},
		RootFS:       v1.RootFS{Type: "layers", DiffIDs: append([]v1.Hash{}, diffIDs...)},
		Config: v1.Config{
			Env:          o.Env,
			Labels:       o.Labels,
			User:         o.User,
			Entrypoint:   o.Entrypoint,
			Cmd:          o.Cmd,
			WorkingDir:   o.WorkingDir,
			ExposedPorts: set(o.ExposedPorts),
			Volumes:      set(o.Volumes),
			StopSignal:   o.StopSignal,
			Healthcheck:  o.Healthcheck,
		},
	}
	if !o.NoHistory {
		n := len(img.Layers)
		for i := 0; i <= n; i++ {
			for _, e := range o.EmptyLayers {
				if min(max(e.After, 0), n) == i {
					cf.History = append(cf.History, v1.History{
						Created: v1.Time{Time: created}, CreatedBy: e.CreatedBy, Comment: e.Comment, EmptyLayer: true,
					})
				}
			}
			if i < n {
				l := img.Layers[i]
				cf.History = append(cf.History, v1.History{
					Created:   v1.Time{Time: created},
					CreatedBy: cmp.Or(l.CreatedBy, fmt.Sprintf("imagetest layer %d", i+1)),
					Comment:   l.Comment,
				})
			}
		}
	}
	if o.Edit != nil {
		o.Edit(cf)
	}
	return cf
}

func set(keys []string) map[string]struct{} {
	if len(keys) == 0 {
		return nil
	}
	m := make(map[string]struct{}, len(keys))
	for _, k := range keys {
		m[k] = struct{}{}
	}
	return m
}
