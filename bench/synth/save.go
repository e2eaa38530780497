package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
)

// dockerSave writes out, a tar of the image tagged in the OCI layout base
// ("DIR:TAG") the way `docker save` writes it with Docker's containerd
// image store (Docker 25 and later): an OCI layout whose blobs are the
// ones stored — gzip layers as they are, streamed — with the manifest.json
// of the older format naming them. It is the "docker save of a gzip-layer
// image" input: a docker-archive whose layers are compressed.
func dockerSave(base, out string) error {
	img, err := tagged(base)
	if err != nil {
		return err
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return err
	}
	mt, err := img.MediaType()
	if err != nil {
		return err
	}
	mdig, err := img.Digest()
	if err != nil {
		return err
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	cdig, err := img.ConfigName()
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}

	f, err := os.Create(out + ".tmp")
	if err != nil {
		return err
	}
	defer os.Remove(out + ".tmp")
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	tw := tar.NewWriter(bw)
	put := func(name string, size int64, r io.Reader) error {
		h := &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o444, Size: size, ModTime: imagetest.Epoch}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, r); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	putBytes := func(name string, b []byte) error { return put(name, int64(len(b)), bytes.NewReader(b)) }
	blob := func(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }

	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: imagetest.Epoch}); err != nil {
			return err
		}
	}
	var names []string
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		size, err := l.Size()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		err = put(blob(d), size, rc)
		rc.Close()
		if err != nil {
			return err
		}
		names = append(names, blob(d))
	}
	if err := putBytes(blob(cdig), config); err != nil {
		return err
	}
	if err := putBytes(blob(mdig), manifest); err != nil {
		return err
	}
	if err := putBytes("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	const name = "bench:gz"
	index, err := json.Marshal(map[string]any{
		"schemaVersion": 2,
		"mediaType":     "application/vnd.oci.image.index.v1+json",
		"manifests": []map[string]any{{
			"mediaType": mt, "digest": mdig.String(), "size": len(manifest),
			"annotations": map[string]string{"io.containerd.image.name": "docker.io/library/" + name, refName: "gz"},
		}},
	})
	if err != nil {
		return err
	}
	if err := putBytes("index.json", index); err != nil {
		return err
	}
	legacy, err := json.Marshal([]map[string]any{{"Config": blob(cdig), "RepoTags": []string{name}, "Layers": names}})
	if err != nil {
		return err
	}
	if err := putBytes("manifest.json", legacy); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(out+".tmp", out)
}
