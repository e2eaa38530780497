package archive

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// Updater fetches archive indexes into a database directory.
type Updater struct {
	// Dir is the vulnerability database directory; the indexes go to
	// Dir/archives.
	Dir string
	// Mirrors replaces the default archives, by name: debian,
	// debian-security, ubuntu, ubuntu-ports, ubuntu-security, alpine. A
	// mirror is an http(s) URL, a file:// URL or a directory laid out as
	// the archive.
	Mirrors map[string]string
	// Keyrings are the OpenPGP keyrings that sign Debian and Ubuntu
	// InRelease files, by distro (default: DefaultDebianKeyring,
	// DefaultUbuntuKeyring).
	Keyrings map[string]string
	// AlpineKeys is the directory of Alpine's RSA public keys
	// (*.rsa.pub; default: DefaultAlpineKeys, then /etc/apk/keys).
	AlpineKeys string
	Client     *http.Client
	// Now is the clock (nil: time.Now).
	Now func() time.Time

	keyrings map[string]openpgp.EntityList
}

func (u *Updater) now() time.Time {
	if u.Now != nil {
		return u.Now().UTC()
	}
	return time.Now().UTC()
}

// Target is one release to fetch, for the given architectures (archive
// spelling: amd64, arm64 for Debian; x86_64, aarch64 for Alpine).
type Target struct {
	Distro, Release string
	Arches          []string
}

func (t Target) String() string { return t.Distro + ":" + t.Release }

// Result is the outcome of one release and architecture.
type Result struct {
	Key Key
	// Status is "updated" or "unchanged".
	Status   string
	Packages int
	Suites   []Suite
}

// Distros are the distributions whose archives shipshape can fetch.
var Distros = []string{"debian", "ubuntu", "alpine"}

// ParseTarget reads "debian:bookworm", "debian:12", "ubuntu:noble",
// "alpine:v3.20" or "alpine:3.20.3".
func ParseTarget(s string, arches []string) (Target, error) {
	d, r, ok := strings.Cut(strings.TrimSpace(s), ":")
	d = strings.ToLower(d)
	if !ok || r == "" || !slices.Contains(Distros, d) {
		return Target{}, fmt.Errorf("%q: want DISTRO:RELEASE with DISTRO one of %s (debian:bookworm, alpine:v3.20)", s, strings.Join(Distros, ", "))
	}
	t := Target{Distro: d, Release: NormalizeRelease(d, r), Arches: arches}
	if err := (Key{t.Distro, t.Release, "x"}).Valid(); err != nil {
		return Target{}, fmt.Errorf("%q: %w", s, err)
	}
	return t, nil
}

// NormalizeRelease turns a release as an image or a user names it into
// the archive's name: Debian codenames, Alpine branches ("3.20.3" →
// "v3.20"), Ubuntu codenames as given.
func NormalizeRelease(distro, r string) string {
	r = strings.ToLower(strings.TrimSpace(r))
	switch distro {
	case "debian":
		return DebianCodename(r)
	case "alpine":
		if r == "edge" {
			return r
		}
		r = strings.TrimPrefix(r, "v")
		parts := strings.Split(r, ".")
		if len(parts) >= 2 {
			return "v" + parts[0] + "." + parts[1]
		}
		return "v" + r
	}
	return r
}

// ArchFor returns the archive's name of an OCI architecture.
func ArchFor(distro, arch, variant string) string {
	if distro == "alpine" {
		return AlpineArch(arch, variant)
	}
	return DebianArch(arch, variant)
}

// DefaultArch is the archive's name of amd64 for the distro.
func DefaultArch(distro string) string { return ArchFor(distro, "amd64", "") }

// Update fetches every target. A failure leaves the release's old index
// in place and does not stop the others; the errors are joined.
func (u *Updater) Update(ctx context.Context, targets []Target) ([]Result, error) {
	var out []Result
	var errs []error
	for _, t := range targets {
		if len(t.Arches) == 0 {
			t.Arches = []string{DefaultArch(t.Distro)}
		}
		var rs []Result
		var err error
		switch t.Distro {
		case "debian", "ubuntu":
			rs, err = u.updateDebian(ctx, t)
		case "alpine":
			rs, err = u.updateAlpine(ctx, t)
		default:
			err = fmt.Errorf("%s: shipshape keeps no archive data for this distribution", t)
		}
		out = append(out, rs...)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", t, err))
			if ctx.Err() != nil {
				break
			}
		}
	}
	return out, errors.Join(errs...)
}
