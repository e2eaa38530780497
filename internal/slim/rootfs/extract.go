package rootfs

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
)

// Extract writes the entries at paths (and nothing else) under dir, which
// must exist. Entries are written only where every parent in the index is
// a directory, so no path crosses a symbolic link, and files are created
// with O_EXCL|O_NOFOLLOW; devices and FIFOs are skipped. With owners, the
// entries' owners are kept (needs root).
func (fs *FS) Extract(paths []string, dir string, owners bool) error {
	sorted := append([]string(nil), paths...)
	sort.Strings(sorted)
	var dirs []*Entry
	for _, p := range sorted {
		e := fs.entries[p]
		if e == nil || p == "/" || !fs.parentsAreDirs(p) {
			continue
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return fmt.Errorf("extract %s: %w", p, err)
		}
		h := e.Header
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.Mkdir(dst, 0o755); err != nil && !os.IsExist(err) {
				return fmt.Errorf("extract %s: %w", p, err)
			}
			dirs = append(dirs, e)
			continue
		case tar.TypeReg:
			f, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY|noFollow, 0o600)
			if err != nil {
				return fmt.Errorf("extract %s: %w", p, err)
			}
			_, err = io.Copy(f, fs.Open(e))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return fmt.Errorf("extract %s: %w", p, err)
			}
		case tar.TypeSymlink:
			if err := os.Symlink(h.Linkname, dst); err != nil {
				return fmt.Errorf("extract %s: %w", p, err)
			}
		default:
			continue
		}
		if owners {
			os.Lchown(dst, h.Uid, h.Gid)
		}
		if h.Typeflag == tar.TypeReg {
			if err := os.Chmod(dst, os.FileMode(h.Mode&0o777)|modeBits(h.Mode)); err != nil {
				return fmt.Errorf("extract %s: %w", p, err)
			}
		}
	}
	// Directory modes last, deepest first, so read-only ones stay writable
	// while they are filled.
	for i := len(dirs) - 1; i >= 0; i-- {
		e := dirs[i]
		dst := filepath.Join(dir, filepath.FromSlash(e.Path))
		if owners {
			os.Lchown(dst, e.Header.Uid, e.Header.Gid)
		}
		os.Chmod(dst, os.FileMode(e.Header.Mode&0o777)|modeBits(e.Header.Mode))
	}
	return nil
}

func (fs *FS) parentsAreDirs(p string) bool {
	for d := path.Dir(p); d != "/"; d = path.Dir(d) {
		e := fs.entries[d]
		if e == nil || e.Header.Typeflag != tar.TypeDir {
			return false
		}
	}
	return true
}

func modeBits(m int64) os.FileMode {
	var out os.FileMode
	if m&0o4000 != 0 {
		out |= os.ModeSetuid
	}
	if m&0o2000 != 0 {
		out |= os.ModeSetgid
	}
	if m&0o1000 != 0 {
		out |= os.ModeSticky
	}
	return out
}
