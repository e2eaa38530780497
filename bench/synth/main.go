// Command synth writes the synthetic benchmark images of bench/run.sh as
// OCI layouts, streaming (no layer is ever held in memory but the app
// layer, 17 MiB):
//
//	synth -kind entries -n 1000000 -out DIR   one gzip layer of n small files
//	synth -kind big -gb 10 -out DIR           ten uncompressed layers of 1 GiB each
//	synth -kind lists -layers 10 -out DIR     ten gzip layers of dpkg file lists, 190,000 files each
//	synth -kind app -base DIR:TAG -out DIR     the base image plus one app layer
//	synth -kind docker-save -base DIR:TAG -out FILE
//	                                          the base image as `docker save` of Docker 25+ writes it, gzip layers kept
//
// The entries layer nests its files 1000 to a directory under
// usr/share/synth, each holding a few bytes of text; the big image's
// layers hold 1 MiB files, mostly zeros (streamed) with one text file in
// every hundred, so that their size, not their count, is what grows. The
// lists image is a hostile one for the package facts: each layer adds ten
// dpkg md5sums files of 19,000 lines (distinct paths), as a layer of
// COPY into /var/lib/dpkg/info would.
package main

import (
	"crypto/md5"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
)

func main() {
	kind := flag.String("kind", "entries", "entries, big, lists, app or docker-save")
	n := flag.Int("n", 1_000_000, "entries: number of files")
	gb := flag.Int("gb", 10, "big: size in GiB (one layer per GiB)")
	layers := flag.Int("layers", 10, "lists: number of layers")
	out := flag.String("out", "", "OCI layout directory to write (docker-save: the tar file)")
	base := flag.String("base", "", "app, docker-save: the base image, an OCI layout DIR:TAG")
	flag.Parse()
	if *out == "" {
		log.Fatal("synth: -out is required")
	}
	if *kind == "app" || *kind == "docker-save" {
		write := app
		if *kind == "docker-save" {
			write = dockerSave
		}
		if err := write(*base, *out); err != nil {
			log.Fatalf("synth: %v", err)
		}
		fmt.Println(*out)
		return
	}
	var img imagetest.Image
	switch *kind {
	case "entries":
		img.Layers = []imagetest.Layer{entries(*n)}
	case "big":
		for i := range *gb {
			img.Layers = append(img.Layers, big(i, 1<<30))
		}
	case "lists":
		for i := range *layers {
			img.Layers = append(img.Layers, lists(i))
		}
	default:
		log.Fatalf("synth: unknown kind %q", *kind)
	}
	img.RepoTag = "synth:latest"
	if err := os.RemoveAll(*out); err != nil {
		log.Fatal(err)
	}
	if _, err := img.WriteOCILayoutTo(*out); err != nil {
		log.Fatalf("synth: %v", err)
	}
	fmt.Println(*out)
}

// entries is one gzip layer of n small text files, 1000 per directory.
func entries(n int) imagetest.Layer {
	l := imagetest.NestedEntries(n)
	l.Compression = imagetest.Gzip
	return l
}

// big is an uncompressed layer of size bytes in 1 MiB files.
func big(layer int, size int64) imagetest.Layer {
	const fileSize = 1 << 20
	return imagetest.Layer{
		CreatedBy: fmt.Sprintf("synth layer %d of %d bytes", layer, size),
		Generate: func(yield func(imagetest.File) bool) {
			dir := fmt.Sprintf("srv/data%02d/", layer)
			if !yield(imagetest.Dir(dir)) {
				return
			}
			for i := range int(size / fileSize) {
				name := fmt.Sprintf("%sblob-%05d.bin", dir, i)
				f := imagetest.File{Name: name, Size: fileSize}
				if i%100 == 0 {
					text := make([]byte, 0, fileSize)
					for len(text) < fileSize-64 {
						text = fmt.Appendf(text, "key%d = value %d of layer %d\n", len(text), i, layer)
					}
					f = imagetest.File{Name: dir + fmt.Sprintf("conf-%05d.txt", i), Content: text}
				}
				if !yield(f) {
					return
				}
			}
		},
	}
}

// lists is a gzip layer of ten dpkg md5sums files of 19,000 lines each.
func lists(layer int) imagetest.Layer {
	return imagetest.Layer{
		CreatedBy:   fmt.Sprintf("COPY lists%d/ /var/lib/dpkg/info/", layer),
		Compression: imagetest.Gzip,
		Generate: func(yield func(imagetest.File) bool) {
			for p := range 10 {
				var sums []byte
				for i := range 19_000 {
					path := fmt.Sprintf("usr/share/doc/pkg%dx%d/some/longer/dir/file-%06d.txt", layer, p, i)
					sums = fmt.Appendf(sums, "%x  %s\n", md5.Sum([]byte(path)), path)
				}
				if !yield(imagetest.File{Name: fmt.Sprintf("var/lib/dpkg/info/pkg%dx%d.md5sums", layer, p), Content: sums}) {
					return
				}
			}
		},
	}
}
