package image

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// Reference is an image reference in skopeo's transport syntax, parsed
// once: the one parser of where an image is, for the images shipshape
// reads and for the ones it writes.
type Reference struct {
	// Transport is where the image is; empty for a bare name, which is
	// looked up in the Docker Engine first and then in its registry.
	Transport Transport
	// Path is the archive file, layout directory or root filesystem
	// directory of the file transports.
	Path string
	// Name is the image name or reference: NAME[:TAG] in the Engine or a
	// registry, the selector (tag or name) inside an archive or layout.
	Name string
}

// Forms lists the reference forms, for error messages and help.
const Forms = "docker-daemon:NAME[:TAG], docker://REGISTRY/REPO[:TAG|@DIGEST], docker-archive:PATH[:TAG], " +
	"oci:DIR[:TAG], oci-archive:PATH[:TAG], dir:PATH"

// OutputForms lists the forms an image can be written to.
const OutputForms = "docker-archive:PATH[:NAME:TAG], oci:DIR[:TAG], docker-daemon:NAME:TAG, docker://REGISTRY/REPO:TAG"

// String writes the reference back in transport syntax.
func (r Reference) String() string {
	switch r.Transport {
	case "":
		return r.Name
	case Registry:
		return "docker://" + r.Name
	case Daemon:
		return "docker-daemon:" + r.Name
	}
	if r.Name != "" {
		return string(r.Transport) + ":" + r.Path + ":" + r.Name
	}
	return string(r.Transport) + ":" + r.Path
}

// Local reports whether reading the image needs no network: every
// transport but a registry, and a bare name (the Engine is tried first).
func (r Reference) Local() bool { return r.Transport != Registry }

// ParseReference parses an image reference given as input:
// TRANSPORT:REFERENCE, or a bare reference. A bare reference that names an
// existing file or directory, or that looks like a path (it starts with
// "/", "./", "../" or "~", or ends like an archive), is a path and nothing
// else: it is never looked up as an image name.
func ParseReference(s string) (Reference, error) {
	if s == "" {
		return Reference{}, errors.New("empty image reference")
	}
	if t, rest, ok := cutTransport(s); ok {
		return transportReference(t, rest)
	}
	if _, err := os.Lstat(s); err == nil || looksLikePath(s) {
		return Reference{Transport: pathTransport, Path: s}, nil
	}
	return Reference{Name: s}, nil
}

// pathTransport marks a bare path, opened by what it holds.
const pathTransport Transport = "path"

// ParseDestination parses where an image is to be written. The transport
// is always explicit: a bare name would be pushed to a registry (Docker
// Hub by default) and a typo of a transport would become a registry name,
// so both are refused with the forms that are accepted.
func ParseDestination(s string) (Reference, error) {
	t, rest, ok := cutTransport(s)
	if !ok {
		return Reference{}, fmt.Errorf("output %q: no transport; write one of %s", s, OutputForms)
	}
	r, err := transportReference(t, rest)
	if err != nil {
		return Reference{}, fmt.Errorf("output %q: %w; write one of %s", s, err, OutputForms)
	}
	switch r.Transport {
	case DockerArchive, OCILayout:
		if r.Path == "" {
			return Reference{}, fmt.Errorf("output %q: no path; write one of %s", s, OutputForms)
		}
	case Daemon, Registry:
		if r.Name == "" {
			return Reference{}, fmt.Errorf("output %q: no image name; write one of %s", s, OutputForms)
		}
	default:
		return Reference{}, fmt.Errorf("output %q: writing %s: is not supported; write one of %s", s, r.Transport, OutputForms)
	}
	return r, nil
}

// cutTransport splits a known transport prefix off s.
func cutTransport(s string) (Transport, string, bool) {
	for _, t := range []Transport{Daemon, DockerArchive, OCIArchive, OCILayout, Dir, Registry} {
		if rest, ok := strings.CutPrefix(s, string(t)+":"); ok {
			return t, rest, true
		}
	}
	if rest, ok := strings.CutPrefix(s, "registry:"); ok {
		return Registry, rest, true
	}
	return "", s, false
}

func transportReference(t Transport, rest string) (Reference, error) {
	switch t {
	case Registry:
		name := strings.TrimPrefix(rest, "//")
		if name == "" {
			return Reference{}, errors.New("docker://: no image name")
		}
		return Reference{Transport: Registry, Name: name}, nil
	case Daemon:
		if rest == "" {
			return Reference{}, errors.New("docker-daemon:: no image name")
		}
		return Reference{Transport: Daemon, Name: rest}, nil
	case Dir:
		if rest == "" {
			return Reference{}, errors.New("dir:: no directory")
		}
		return Reference{Transport: Dir, Path: rest}, nil
	case DockerArchive, OCIArchive:
		// The path ends at the first colon, unless the whole string (or a
		// longer prefix) is an existing file: skopeo's rule, kept
		// compatible with paths that contain colons.
		p, sel := splitPathSelector(rest, strings.Index)
		return Reference{Transport: t, Path: p, Name: sel}, nil
	case OCILayout:
		// A tag follows the last colon after the last slash.
		p, sel := splitPathSelector(rest, func(s, sep string) int {
			i := strings.LastIndex(s, sep)
			if i <= strings.LastIndex(s, "/") {
				return -1
			}
			return i
		})
		return Reference{Transport: t, Path: p, Name: sel}, nil
	}
	return Reference{}, fmt.Errorf("unknown transport %q", t)
}

// splitPathSelector splits "PATH:SELECTOR" at the colon that index finds;
// a string that exists as a path is kept whole.
func splitPathSelector(s string, index func(s, sep string) int) (string, string) {
	if _, err := os.Stat(s); err == nil {
		return s, ""
	}
	if i := index(s, ":"); i > 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}

// looksLikePath reports whether a bare reference can only mean a path.
func looksLikePath(s string) bool {
	if strings.HasPrefix(s, "/") || strings.HasPrefix(s, "./") || strings.HasPrefix(s, "../") ||
		strings.HasPrefix(s, "~") || s == "." || s == ".." {
		return true
	}
	for _, ext := range []string{".tar", ".tar.gz", ".tgz", ".tar.zst", ".tar.zstd"} {
		if strings.HasSuffix(s, ext) {
			return true
		}
	}
	return false
}
