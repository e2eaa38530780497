// Package imagetest writes realistic and hostile container images to disk
// for tests, without Docker, a registry or network access.
//
// An [Image] is a plain value: a list of [Layer]s, each a list of tar
// entries ([File]), plus image configuration options and optional
// corruptions. It can be written as
//
//   - a docker-save archive, legacy layout ("<id>/layer.tar",
//     "<config-hex>.json", manifest.json, repositories) or the Docker 25+
//     layout (blobs/sha256/<hex>, index.json, oci-layout, manifest.json,
//     repositories): [Image.WriteDockerArchive], [DockerArchive];
//   - an OCI image layout directory: [Image.WriteOCILayout];
//   - an OCI image layout in a tar archive: [Image.WriteOCIArchive];
//   - a multi-platform OCI layout or archive: [Index].
//
// Every writer exists in two forms: one taking a testing.TB that fails the
// test on error (WriteX), and one returning an error for use from
// benchmarks and command-line tools (WriteXTo). Each returns a [Written]
// report of the digests, diffIDs, sizes and media types it wrote, so tests
// can assert on what a reader should find.
//
// # Determinism
//
// Output is byte-for-byte reproducible: every tar mtime and every
// "created" timestamp is [Epoch] unless set explicitly, JSON maps are
// written with sorted keys, archive members are sorted by name, and gzip
// and zstd run single-threaded with fixed settings. Golden files built from
// the output stay stable (as long as the compression library's version
// does not change).
//
// # Memory
//
// Layer content is streamed. A [File] with Size and no Content is a run of
// zero bytes generated on the fly, and [Layer.Generate] yields entries
// lazily, so huge files and layers with millions of entries need no
// memory; [ReadTar] yields the entries of an existing tar (a real root
// filesystem used as a base) the same way. Uncompressed layers are generated twice (once to learn their
// digest, once to write them); compressed layers are compressed once into
// memory, or into a temporary file past a few megabytes, which is removed
// before the writer returns.
//
// # Hostile input
//
// File names are written verbatim ("../x", "/abs", non-UTF-8 bytes), any
// tar type flag can be used, PAX records (xattrs, capabilities) can be
// attached, and [Layer.Raw] writes arbitrary bytes as a layer blob
// (truncated or garbage layers). [GzipBomb] and [ManyEntries] build
// resource-exhaustion layers. The Image fields RawConfig, RawManifest,
// RawIndex, WrongDiffID, WrongDigest and EditManifest, and
// [ConfigOptions].Edit, corrupt the metadata in targeted ways.
//
// A minimal use:
//
//	img := imagetest.Image{
//		RepoTag: "example.com/app:1.0",
//		Layers: []imagetest.Layer{{
//			Compression: imagetest.Gzip,
//			Files: []imagetest.File{
//				imagetest.Dir("etc/"),
//				imagetest.Reg("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
//				imagetest.Symlink("bin/sh", "busybox"),
//			},
//		}},
//		Config: imagetest.ConfigOptions{User: "root", Cmd: []string{"/bin/sh"}},
//	}
//	img.WriteOCILayout(t, t.TempDir())
package imagetest
