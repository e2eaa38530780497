// Package image opens container images from every place users keep them —
// the Docker Engine, a registry, docker-save archives, OCI layouts and plain
// root filesystems — behind one type. Nothing is extracted: each layer is
// handed out as its raw blob stream, to be read once by the walker.
package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/shipshape-dev/shipshape/internal/cache"
)

// Transport names where an image came from, in skopeo's words.
type Transport string

// Transports.
const (
	Daemon        Transport = "docker-daemon"
	Registry      Transport = "docker"
	DockerArchive Transport = "docker-archive"
	OCILayout     Transport = "oci"
	OCIArchive    Transport = "oci-archive"
	Dir           Transport = "dir"
)

// Image is an opened image: its configuration and its layers, bottom first.
type Image struct {
	// Reference is the reference as the user gave it.
	Reference string
	Transport Transport
	// Digest is the manifest digest, when the source has a manifest.
	Digest       v1.Hash
	ConfigDigest v1.Hash
	Config       *v1.ConfigFile
	// RawConfig is the config blob as stored.
	RawConfig []byte
	// Manifest is the image manifest, when the source has one.
	Manifest *v1.Manifest
	// RawManifest is the manifest as stored, when the source has one.
	RawManifest []byte
	RepoTags    []string
	// RepoDigests are the registry digests the Docker Engine recorded for
	// an image it pulled ("registry/repo@sha256:…"; docker-daemon: only).
	RepoDigests []string
	Layers      []*Layer
	// Provenance is the in-toto statement of the image's SLSA provenance
	// attestation (BuildKit's attestation manifest), when the source holds
	// one for this manifest; nil otherwise. An unreadable attestation is
	// left out rather than failing the open.
	Provenance []byte
	// Ref is the parsed reference the image was opened from.
	Ref Reference
	// Registry is set for images read from a registry: the resolved
	// reference and the options to ask the registry more (referrers,
	// signatures) with the same credentials and TLS settings.
	Registry *RegistrySource
	// Layout is set for images read from an OCI layout (oci:,
	// oci-archive:): its index and blobs, where signatures stored next to
	// the image (cosign save, referrers) are found.
	Layout *LayoutSource

	// v1 is the image as go-containerregistry sees it, when the source
	// gives one (a registry); see V1.
	v1      v1.Image
	closers []func() error
}

// RegistrySource is where in a registry an image was read from.
type RegistrySource struct {
	Ref     name.Reference
	Options []remote.Option
}

// LayoutSource is the OCI layout an image was read from.
type LayoutSource struct {
	// Index is the layout's index.json.
	Index *v1.IndexManifest
	// Blob reads a metadata-sized blob of the layout and checks its
	// digest. Valid until the image is closed.
	Blob func(v1.Hash) ([]byte, error)
}

// A LocalBlob is a blob stored as a byte range of a local file. Section
// returns a new reader of that range, independent of the blob's own
// position and of every other section, so that the blob can be read twice
// at once — hashed here while another process (the gzip helper) is given
// the file itself rather than a copy of its bytes.
type LocalBlob interface {
	io.ReadCloser
	Section() *io.SectionReader
}

// fileSection is a LocalBlob: a whole file, or a member of an archive.
type fileSection struct {
	*io.SectionReader
	f     *os.File
	close bool // the blob owns f
}

// newFileSection reads n bytes of f from off; closing it closes f when
// owned.
func newFileSection(f *os.File, off, n int64, owned bool) *fileSection {
	return &fileSection{SectionReader: io.NewSectionReader(f, off, n), f: f, close: owned}
}

func (s *fileSection) Section() *io.SectionReader {
	_, off, n := s.Outer()
	return io.NewSectionReader(s.f, off, n)
}

func (s *fileSection) Close() error {
	if s.close {
		return s.f.Close()
	}
	return nil
}

// Layer is one layer of an image.
type Layer struct {
	// Index is the 1-based position of the layer, bottom first.
	Index int
	// Digest is the digest of the blob as stored; zero when the source
	// does not know it (a root filesystem directory).
	Digest v1.Hash
	// DiffID is the digest of the uncompressed tar, from the config; zero
	// when the source does not know it in advance.
	DiffID    v1.Hash
	Size      int64
	MediaType string
	// CreatedBy is the history line of the instruction that made the layer.
	CreatedBy string
	// Verified tells that the source already checked Digest while reading.
	Verified bool

	open func(ctx context.Context) (io.ReadCloser, error)
}

// Open returns the layer's blob as stored (compressed or not). The reader
// verifies nothing; the walker checks Digest and DiffID as it reads. A
// blob stored in a local file (an OCI layout, an archive) is a LocalBlob.
func (l *Layer) Open(ctx context.Context) (io.ReadCloser, error) {
	rc, err := l.open(ctx)
	if err != nil {
		return nil, fmt.Errorf("layer %d (%s): open: %w", l.Index, l.Name(), err)
	}
	return rc, nil
}

// Name is the layer's best identifier: its diffID, else its digest.
func (l *Layer) Name() string {
	if l.DiffID.Hex != "" {
		return l.DiffID.String()
	}
	if l.Digest.Hex != "" {
		return l.Digest.String()
	}
	return fmt.Sprintf("#%d", l.Index)
}

// Close releases temporary files and connections held by the image.
func (i *Image) Close() error {
	var errs []error
	for j := len(i.closers) - 1; j >= 0; j-- {
		errs = append(errs, i.closers[j]())
	}
	i.closers = nil
	return errors.Join(errs...)
}

// Options tune how images are opened.
type Options struct {
	// Platform selects from a multi-platform index ("linux/arm64/v8");
	// empty means the host's platform.
	Platform string
	// Insecure allows plain HTTP and unverified TLS for registries.
	Insecure bool
	// TempDir is where daemon exports and decompressed archives are kept
	// while the image is open. Empty means os.TempDir().
	TempDir string
	// Keychain resolves registry credentials; nil means the Docker config
	// (~/.docker/config.json and its credential helpers).
	Keychain authn.Keychain
	// MaxArchiveBytes bounds how much a compressed archive may expand to
	// when it has to be decompressed to a temporary file.
	MaxArchiveBytes int64
	// DockerHost overrides DOCKER_HOST for the daemon transport.
	DockerHost string
	// GzipHelper is the gzip helper (compress.LookHelper) that inflates a
	// gzip archive file ("docker save | gzip") of at least
	// compress.HelperMinBytes; "" inflates it in process.
	GzipHelper string
	// ArchiveCache keeps an index of each compressed archive file opened
	// (see archiveIndex), so that opening the same file again does not
	// inflate it until a layer is read — within the context given to
	// Open, which must then outlive the reading; nil keeps none.
	ArchiveCache cache.Store
	// Logger receives debug records of how an archive was opened: from
	// its index (found by the file's identity or its digest), or
	// inflated, by which inflater, and whether its index was kept; nil
	// logs nothing.
	Logger *slog.Logger
}

// DefaultMaxArchiveBytes bounds archive decompression: 64 GiB.
const DefaultMaxArchiveBytes = 64 << 30

func (o Options) withDefaults() Options {
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	if o.Keychain == nil {
		o.Keychain = authn.DefaultKeychain
	}
	if o.MaxArchiveBytes == 0 {
		o.MaxArchiveBytes = DefaultMaxArchiveBytes
	}
	return o
}

// log is o.Logger, or a logger that discards.
func (o Options) log() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// Open opens the image that ref names. ref is "TRANSPORT:REFERENCE" with a
// transport of docker-daemon, docker (registry, also "docker://NAME"),
// docker-archive, oci, oci-archive or dir; or a bare reference: a path is
// opened by what it holds, and a name is looked up in the Docker Engine
// first, then in its registry (see ParseReference).
func Open(ctx context.Context, ref string, opts Options) (*Image, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	img, err := OpenReference(ctx, r, opts)
	if err != nil {
		return nil, err
	}
	img.Reference = ref
	return img, nil
}

// OpenReference opens the image that a parsed reference names.
func OpenReference(ctx context.Context, r Reference, opts Options) (*Image, error) {
	opts = opts.withDefaults()
	var (
		img *Image
		err error
	)
	switch r.Transport {
	case Daemon:
		img, err = openDaemon(ctx, r.Name, opts)
	case Registry:
		img, err = openRemote(ctx, r.Name, opts)
	case DockerArchive, OCIArchive:
		img, err = openArchiveFile(ctx, r.Path, r.Name, r.Transport, opts)
	case OCILayout:
		img, err = openLayoutDir(r.Path, r.Name, opts)
	case Dir:
		img, err = openRootFS(r.Path)
	case pathTransport:
		img, err = openPath(ctx, r.Path, opts)
	default:
		img, err = openName(ctx, r.Name, opts)
	}
	if err != nil {
		return nil, err
	}
	img.Reference = r.String()
	img.Ref = r
	if err := checkPlatform(img, opts.Platform); err != nil {
		img.Close()
		return nil, fmt.Errorf("image %s: %w", r, err)
	}
	return img, nil
}

// checkPlatform fails when a platform was asked for and the image opened
// is another one: a single-platform image is not silently scanned as the
// platform the user asked for. A root filesystem directory has no
// platform and is not checked.
func checkPlatform(img *Image, want string) error {
	if want == "" || img.Transport == Dir || img.Config == nil || img.Config.Architecture == "" {
		return nil
	}
	w, err := v1.ParsePlatform(want)
	if err != nil {
		return fmt.Errorf("platform %q: %w", want, err)
	}
	have := v1.Platform{OS: img.Config.OS, Architecture: img.Config.Architecture, Variant: img.Config.Variant}
	if have.Satisfies(*w) {
		return nil
	}
	return fmt.Errorf("no image for platform %s: the image has only %s (drop --platform, or pick one of the platforms it has)", w, have.String())
}

// openPath opens a bare path by what it holds.
func openPath(ctx context.Context, p string, opts Options) (*Image, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", p, err)
	}
	if st.IsDir() {
		if _, err := os.Stat(p + "/index.json"); err == nil {
			return openLayoutDir(p, "", opts)
		}
		if _, err := os.Stat(p + "/oci-layout"); err == nil {
			return openLayoutDir(p, "", opts)
		}
		return openRootFS(p)
	}
	if err := regularFile(p); err != nil {
		return nil, fmt.Errorf("image %s: %w", p, err)
	}
	return openArchiveFile(ctx, p, "", "", opts)
}

// openName looks a bare name up in the Docker Engine, then its registry.
func openName(ctx context.Context, ref string, opts Options) (*Image, error) {
	img, derr := openDaemon(ctx, ref, opts)
	if derr == nil {
		return img, nil
	}
	img, rerr := openRemote(ctx, ref, opts)
	if rerr == nil {
		return img, nil
	}
	return nil, fmt.Errorf("image %q: docker daemon: %v; registry: %w", ref, derr, rerr)
}

// finish fills the layers' history lines and checks that the config and
// the layer list agree.
func (i *Image) finish() error {
	if i.Config == nil {
		return fmt.Errorf("image has no config")
	}
	diffIDs := i.Config.RootFS.DiffIDs
	if len(diffIDs) != len(i.Layers) {
		return fmt.Errorf("config lists %d layer diffIDs but the image has %d layers", len(diffIDs), len(i.Layers))
	}
	for j, l := range i.Layers {
		l.Index = j + 1
		l.DiffID = diffIDs[j]
	}
	for _, h := range i.History() {
		if h.Layer > 0 {
			l := i.Layers[h.Layer-1]
			l.CreatedBy = h.CreatedBy
			if h.CreatedBy == "" {
				// "docker import" leaves only a comment.
				l.CreatedBy = h.Comment
			}
		}
	}
	return nil
}

// NewLayer returns a layer whose blob comes from open; the caller sets the
// other fields. It lets tests and image writers feed the walker directly.
func NewLayer(open func(ctx context.Context) (io.ReadCloser, error)) *Layer {
	return &Layer{open: open}
}
