package imagetest

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"iter"
	"math/rand/v2"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Epoch is the fixed time used for every tar mtime and every "created"
// timestamp that is not set explicitly: 2024-01-01T00:00:00Z. Treat it as
// a constant.
var Epoch = time.Unix(1704067200, 0).UTC()

// ModeZero, as File.Mode, writes permission bits 0000 (a zero Mode means
// "the default for the type").
const ModeZero int64 = -1

// File describes one tar entry of a layer. Only Name is required.
type File struct {
	// Name is written verbatim as the tar header name, so "../x", "/abs",
	// "./a//b" and non-UTF-8 bytes are all possible. Names that are not
	// ASCII or longer than 100 bytes go into a PAX "path" record (or a
	// USTAR prefix), as archive/tar does. A NUL byte cannot be written.
	Name string
	// Type is the tar type flag: tar.TypeReg (also for 0), TypeDir,
	// TypeSymlink, TypeLink, TypeChar, TypeBlock, TypeFifo, or any other
	// byte archive/tar accepts. TypeXGlobalHeader writes a global PAX
	// header carrying only PAX.
	Type byte
	// Mode holds the permission and setuid/setgid/sticky bits (e.g.
	// 0o4755). Zero means 0644, 0755 for directories, 0777 for symlinks;
	// use ModeZero for a literal 0000.
	Mode int64
	// UID, GID, Uname and Gname are the owner. Values that do not fit the
	// USTAR header are written as PAX records.
	UID, GID     int
	Uname, Gname string
	// Linkname is the target of a symlink or hard link.
	Linkname string
	// Content is the file's data (regular files and unknown types; header-
	// only types such as directories and links ignore it).
	Content []byte
	// Size, when larger than len(Content), pads the file with zero bytes to
	// Size. The zeros are generated as a stream, so a File{Size: 10 << 30}
	// costs no memory.
	Size int64
	// Sparse writes a regular file in the GNU sparse format 1.0 (PAX
	// records GNU.sparse.major/minor/name/realsize, sparse map in the data):
	// Content is the only data region, at offset 0, and the rest up to Size
	// is a hole that takes no space in the archive. archive/tar cannot write
	// sparse files, so this package emits those blocks itself; Format is
	// ignored, and UID/GID/Uname/Gname that do not fit USTAR become PAX
	// records. archive/tar, GNU tar and bsdtar read the result.
	Sparse bool
	// PAX holds extra PAX records, e.g. "SCHILY.xattr.security.capability"
	// or "SCHILY.xattr.user.x". archive/tar ignores records that would
	// override header fields (path, linkpath, size, uid, gid, uname, gname,
	// mtime, atime, ctime) and GNU.sparse.* keys, except in Sparse files
	// where every record is written as given.
	PAX map[string]string
	// ModTime defaults to Epoch.
	ModTime time.Time
	// Devmajor and Devminor are the device numbers of TypeChar and
	// TypeBlock entries.
	Devmajor, Devminor int64
	// Format forces a tar header format (tar.FormatUSTAR, FormatPAX,
	// FormatGNU); the zero value lets archive/tar pick the most compatible.
	Format tar.Format
}

// Reg returns a regular file with the given content.
func Reg(name, content string) File {
	return File{Name: name, Type: tar.TypeReg, Content: []byte(content)}
}

// Noise returns n bytes that do not compress, the same for the same seed:
// content that keeps a layer or an archive as big compressed as it is.
func Noise(n int, seed byte) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{seed}).Read(b)
	return b
}

// Dir returns a directory entry. Layers written by Docker name directories
// with a trailing slash ("etc/"); Dir keeps name as given.
func Dir(name string) File { return File{Name: name, Type: tar.TypeDir} }

// Symlink returns a symbolic link name -> target.
func Symlink(name, target string) File {
	return File{Name: name, Type: tar.TypeSymlink, Linkname: target}
}

// Hardlink returns a hard link name -> target (target names an earlier
// entry of the archive, as written in its header).
func Hardlink(name, target string) File {
	return File{Name: name, Type: tar.TypeLink, Linkname: target}
}

// Whiteout returns the OCI/AUFS whiteout entry that deletes p (a file or
// directory of a lower layer): "dir/.wh.base".
func Whiteout(p string) File {
	dir, base := path.Split(p)
	return File{Name: dir + ".wh." + base, Type: tar.TypeReg}
}

// Opaque returns the opaque-directory marker "dir/.wh..wh..opq", which hides
// everything lower layers put in dir.
func Opaque(dir string) File {
	if dir != "" && !strings.HasSuffix(dir, "/") {
		dir += "/"
	}
	return File{Name: dir + ".wh..wh..opq", Type: tar.TypeReg}
}

// Compression is how a layer blob is compressed.
type Compression int

const (
	// Uncompressed writes the layer tar as is (media type ...tar). It is
	// the zero value, and what docker save writes.
	Uncompressed Compression = iota
	// Gzip compresses the layer with gzip (...tar+gzip).
	Gzip
	// Zstd compresses the layer with zstd (...tar+zstd).
	Zstd
)

func (c Compression) String() string {
	switch c {
	case Uncompressed:
		return "uncompressed"
	case Gzip:
		return "gzip"
	case Zstd:
		return "zstd"
	}
	return fmt.Sprintf("Compression(%d)", int(c))
}

// Layer is one filesystem layer.
type Layer struct {
	// Files are the tar entries, written in order. No entry is implied:
	// parent directories are only there if listed.
	Files []File
	// Generate, when set, yields further entries after Files, lazily, so
	// layers with millions of entries need no memory. It is called once per
	// pass over the layer (up to three times) and must yield the same
	// entries each time.
	Generate iter.Seq[File]
	// Compression of the blob.
	Compression Compression
	// CreatedBy and Comment go into the layer's history entry; CreatedBy
	// defaults to "imagetest layer N" (N 1-based).
	CreatedBy, Comment string
	// MediaType overrides the media type the manifest gives the layer (for
	// hostile tests: foreign, encrypted or bogus types).
	MediaType types.MediaType
	// Raw, when non-nil, is written verbatim as the layer blob instead of a
	// tar built from Files: truncated, garbage or hand-made layers. The
	// media type still follows Compression. Its diffID is the SHA-256 of Raw
	// decompressed per Compression or, when that decompression fails, of
	// Raw itself.
	Raw []byte
}

// EmptyLayer is a history entry without a layer, as Dockerfile ENV, LABEL,
// CMD or USER lines produce.
type EmptyLayer struct {
	// After is the number of layers that precede the entry: 0 puts it
	// before the first layer, len(Layers) after the last one.
	After int
	// CreatedBy is e.g. `ENV PATH=/usr/bin` or
	// `/bin/sh -c #(nop)  CMD ["sh"]`.
	CreatedBy, Comment string
}

// ConfigOptions become the image configuration (the config blob: OCI image
// config / Docker container image JSON).
type ConfigOptions struct {
	// OS and Architecture default to linux and amd64.
	OS, Architecture, Variant string
	// Created defaults to Epoch; it is also every history entry's time.
	Created time.Time
	Author  string

	Env          []string
	Labels       map[string]string
	User         string
	Entrypoint   []string
	Cmd          []string
	WorkingDir   string
	ExposedPorts []string // "80/tcp", "53/udp"
	Volumes      []string
	StopSignal   string
	Healthcheck  *v1.HealthConfig

	// EmptyLayers are history entries interleaved with the layers' own.
	EmptyLayers []EmptyLayer
	// NoHistory leaves the history out altogether.
	NoHistory bool
	// Edit, when set, may change the generated config before it is
	// serialized (after rootfs.diff_ids, history and WrongDiffID are
	// filled in): anything ConfigOptions does not cover, or inconsistent
	// history for hostile tests.
	Edit func(*v1.ConfigFile)
}

// Image is a single-platform image. The zero value is a valid image with no
// layers.
type Image struct {
	Layers []Layer
	Config ConfigOptions
	// RepoTag, e.g. "example.com/app:1.0", goes into manifest.json RepoTags
	// and repositories of docker archives, and into index.json annotations
	// of OCI layouts: org.opencontainers.image.ref.name gets the tag part
	// ("1.0"), io.containerd.image.name the normalized name
	// ("example.com/app:1.0", "docker.io/library/app:1.0" for "app:1.0").
	// Empty means untagged.
	RepoTag string
	// DockerMediaTypes writes Docker schema 2 media types (manifest v2,
	// container image config, rootfs.diff.tar[.gzip|.zstd]) instead of OCI
	// ones in the manifest.
	DockerMediaTypes bool

	// Corruptions, for hostile tests. Each is off at its zero value.

	// RawConfig is written verbatim as the config blob (malformed JSON,
	// wrong diff_ids...). Manifests reference it by its true digest.
	RawConfig []byte
	// RawManifest replaces manifest.json in docker archives, and the image
	// manifest blob in OCI layouts and archives (which index.json then
	// references by its true digest).
	RawManifest []byte
	// RawIndex replaces index.json in OCI layouts and archives and in
	// Docker 25+ archives.
	RawIndex []byte
	// WrongDiffID is the 1-based index of a layer whose rootfs.diff_ids
	// entry in the config is a wrong (but well-formed) digest.
	WrongDiffID int
	// WrongDigest is the 1-based index of a layer whose digest in the
	// manifest is wrong (but well-formed); the blob is stored under that
	// wrong digest, so its content does not hash to its name. It applies to
	// OCI layouts and Docker 25+ archives; legacy docker archives have no
	// layer digests, and writing one fails.
	WrongDigest int
	// EditManifest, when set, may change the generated image manifest
	// before it is serialized (wrong sizes, media types, annotations,
	// subject...).
	EditManifest func(*v1.Manifest)
}

// Written reports what a writer wrote for one image.
type Written struct {
	// ConfigDigest is the digest of the config blob; Config its bytes.
	ConfigDigest string
	Config       []byte
	// ManifestDigest is the digest of the image manifest blob; Manifest
	// its bytes. Both are empty for legacy docker archives, which have no
	// such blob.
	ManifestDigest string
	Manifest       []byte
	// Layers describes each layer, in order.
	Layers []LayerInfo
}

// LayerInfo describes one written layer. Digest and DiffID are what the
// metadata claims (the manifest, the config); TrueDigest and TrueDiffID are
// what the bytes hash to. They differ only under WrongDigest, WrongDiffID
// or RawConfig.
type LayerInfo struct {
	Digest, DiffID         string
	TrueDigest, TrueDiffID string
	// Size is the blob's size in bytes, as written.
	Size      int64
	MediaType string
}

// DiffID returns "sha256:<hex>" of b: the diffID of an uncompressed layer
// tar, or the digest of any blob.
func DiffID(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// LayerTar returns the uncompressed tar of layer i (0-based), whose DiffID
// is the layer's diffID. For Raw layers it is Raw decompressed per
// Compression (or Raw itself when that fails). It panics if the layer
// cannot be built (a NUL byte in a name, say).
func (img Image) LayerTar(i int) []byte { return img.Layers[i].Tar() }

// GzipBomb returns a gzip layer holding one regular file, "bomb", of
// uncompressedBytes zero bytes. On disk it is about a thousandth of that
// (1 GiB of zeros takes 1 MiB); building it streams, so it needs no memory,
// but costs about 1 s of CPU per GiB. Set Compression to Zstd for a zstd
// bomb, which is smaller still.
func GzipBomb(uncompressedBytes int64) Layer {
	return Layer{
		Files:       []File{{Name: "bomb", Size: uncompressedBytes}},
		Compression: Gzip,
		CreatedBy:   fmt.Sprintf("imagetest gzip bomb of %d bytes", uncompressedBytes),
	}
}

// NestedEntries returns an uncompressed layer with n small text files
// spread 1000 to a directory, the way a big package tree looks:
// "usr/share/synth/d0000/" then "usr/share/synth/d0000/file-0000000.txt"
// ("line 0\n") and so on. Entries are generated lazily, so n can be in the
// millions.
func NestedEntries(n int) Layer {
	return Layer{
		Generate: func(yield func(File) bool) {
			for i := range n {
				dir := fmt.Sprintf("usr/share/synth/d%04d/", i/1000)
				if i%1000 == 0 && !yield(Dir(dir)) {
					return
				}
				if !yield(Reg(fmt.Sprintf("%sfile-%07d.txt", dir, i), fmt.Sprintf("line %d\n", i))) {
					return
				}
			}
		},
		CreatedBy: fmt.Sprintf("imagetest %d nested entries", n),
	}
}

// ManyEntries returns an uncompressed layer with n tiny regular files,
// "many/0000000" ... (one byte "x" each), after a "many/" directory entry.
// Entries are generated lazily, so n can be in the millions.
func ManyEntries(n int) Layer {
	return Layer{
		Files: []File{Dir("many/")},
		Generate: func(yield func(File) bool) {
			content := []byte("x")
			for i := range n {
				if !yield(File{Name: fmt.Sprintf("many/%07d", i), Content: content}) {
					return
				}
			}
		},
		CreatedBy: fmt.Sprintf("imagetest %d entries", n),
	}
}
