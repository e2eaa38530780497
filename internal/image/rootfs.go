package image

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// openRootFS presents a root filesystem directory as a one-layer image.
// The layer is a tar stream made on the fly; symlinks are archived as
// links, never followed, and files are opened through an os.Root so that
// nothing outside the directory is read.
func openRootFS(dir string) (*Image, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("dir %s: %w", dir, err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("dir %s: not a directory", dir)
	}
	img := &Image{
		Transport: Dir,
		Config: &v1.ConfigFile{
			OS:           "linux",
			Architecture: runtime.GOARCH,
			RootFS:       v1.RootFS{Type: "layers"},
		},
	}
	img.Layers = []*Layer{{
		Index:     1,
		Size:      -1,
		CreatedBy: "root filesystem " + dir,
		open: func(ctx context.Context) (io.ReadCloser, error) {
			pr, pw := io.Pipe()
			go func() { pw.CloseWithError(tarDir(ctx, dir, pw)) }()
			return pr, nil
		},
	}}
	return img, nil
}

func tarDir(ctx context.Context, dir string, w io.Writer) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	tw := tar.NewWriter(w)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := root.Lstat(rel)
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = root.Readlink(rel); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		h.Name = filepath.ToSlash(rel)
		if info.IsDir() && !strings.HasSuffix(h.Name, "/") {
			h.Name += "/"
		}
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := root.Open(rel)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.CopyN(tw, f, info.Size())
		return err
	})
	if err != nil {
		return fmt.Errorf("dir %s: %w", dir, err)
	}
	return tw.Close()
}
