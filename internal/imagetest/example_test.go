package imagetest_test

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
)

// Build a two-layer image with a hostile second layer and write it as an
// OCI archive without a testing.TB (as a benchmark or a cmd tool would).
func Example() {
	img := imagetest.Image{
		RepoTag: "example.com/app:1.0",
		Layers: []imagetest.Layer{
			{
				Compression: imagetest.Gzip,
				Files: []imagetest.File{
					imagetest.Dir("etc/"),
					imagetest.Reg("etc/os-release", "ID=alpine\n"),
				},
			},
			{
				Compression: imagetest.Zstd,
				CreatedBy:   "RUN evil",
				Files: []imagetest.File{
					{Name: "../../escape", Content: []byte("x")},
					{Name: "usr/bin/su", Mode: 0o4755, Size: 1 << 20},
				},
			},
		},
		Config: imagetest.ConfigOptions{
			User: "root",
			EmptyLayers: []imagetest.EmptyLayer{
				{After: 2, CreatedBy: `CMD ["sh"]`},
			},
		},
	}
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	f, err := os.Create(filepath.Join(dir, "img.tar"))
	if err != nil {
		panic(err)
	}
	defer f.Close()
	w, err := img.WriteOCIArchiveTo(f)
	if err != nil {
		panic(err)
	}
	for _, l := range w.Layers {
		fmt.Println(l.MediaType, l.Size > 0)
	}

	// LayerTar gives the uncompressed tar, whose digest is the diffID.
	fmt.Println(imagetest.DiffID(img.LayerTar(1)) == w.Layers[1].DiffID)
	tr := tar.NewReader(bytes.NewReader(img.LayerTar(1)))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		fmt.Printf("%s %o %d\n", h.Name, h.Mode, h.Size)
	}
	// Output:
	// application/vnd.oci.image.layer.v1.tar+gzip true
	// application/vnd.oci.image.layer.v1.tar+zstd true
	// true
	// ../../escape 644 1
	// usr/bin/su 4755 1048576
}
