package archive

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ulikunitz/xz"

	"github.com/shipshape-dev/shipshape/internal/redact"
)

// Default archives and keyrings.
const (
	DefaultDebian         = "https://deb.debian.org/debian"
	DefaultDebianSecurity = "https://deb.debian.org/debian-security"
	DefaultUbuntu         = "http://archive.ubuntu.com/ubuntu"
	DefaultUbuntuPorts    = "http://ports.ubuntu.com/ubuntu-ports"
	DefaultAlpine         = "https://dl-cdn.alpinelinux.org/alpine"
	DefaultDebianKeyring  = "/usr/share/keyrings/debian-archive-keyring.gpg"
	DefaultUbuntuKeyring  = "/usr/share/keyrings/ubuntu-archive-keyring.gpg"
	DefaultAlpineKeys     = "/usr/share/apk/keys"
)

// debianCodenames maps Debian's version numbers to codenames (os-release
// of testing and sid has no VERSION_CODENAME, old images lack it).
var debianCodenames = map[string]string{
	"10": "buster", "11": "bullseye", "12": "bookworm", "13": "trixie", "14": "forky",
}

// DebianCodename returns the codename of a Debian version ("12" →
// "bookworm"); other values are returned as they are.
func DebianCodename(v string) string {
	if major, _, _ := strings.Cut(v, "."); debianCodenames[major] != "" {
		return debianCodenames[major]
	}
	return v
}

// DebianArch returns the Debian name of an OCI architecture (and variant).
func DebianArch(arch, variant string) string {
	switch arch {
	case "arm":
		if variant == "v5" || variant == "v6" {
			return "armel"
		}
		return "armhf"
	case "386":
		return "i386"
	case "mips64le":
		return "mips64el"
	case "mipsle":
		return "mipsel"
	}
	return arch
}

// debSuite is one suite of a Debian or Ubuntu release to fetch.
type debSuite struct {
	name, kind, base string
}

func (u *Updater) debianSuites(distro, release, arch string) []debSuite {
	switch distro {
	case "ubuntu":
		base := or(u.Mirrors["ubuntu"], DefaultUbuntu)
		if arch != "amd64" && arch != "i386" {
			base = or(u.Mirrors["ubuntu-ports"], DefaultUbuntuPorts)
		}
		sec := or(u.Mirrors["ubuntu-security"], base)
		return []debSuite{{release, KindRelease, base}, {release + "-updates", KindUpdates, base}, {release + "-security", KindSecurity, sec}}
	default:
		base := or(u.Mirrors["debian"], DefaultDebian)
		sec := or(u.Mirrors["debian-security"], DefaultDebianSecurity)
		return []debSuite{{release, KindRelease, base}, {release + "-updates", KindUpdates, base}, {release + "-security", KindSecurity, sec}}
	}
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// keyring loads the OpenPGP keyring of the distro once.
func (u *Updater) keyring(distro string) (openpgp.EntityList, string, error) {
	if u.keyrings == nil {
		u.keyrings = map[string]openpgp.EntityList{}
	}
	p := u.Keyrings[distro]
	if p == "" {
		p = DefaultDebianKeyring
		if distro == "ubuntu" {
			p = DefaultUbuntuKeyring
		}
	}
	if kr, ok := u.keyrings[p]; ok {
		return kr, p, nil
	}
	f, err := os.Open(p)
	if err != nil {
		hint := "install debian-archive-keyring or pass --keyring"
		if distro == "ubuntu" {
			hint = "install ubuntu-keyring or pass --keyring ubuntu=PATH"
		}
		return nil, p, fmt.Errorf("%s keyring: %w (%s)", distro, err, hint)
	}
	defer f.Close()
	kr, err := readKeyring(f)
	if err != nil {
		return nil, p, fmt.Errorf("%s keyring %s: %w", distro, p, err)
	}
	u.keyrings[p] = kr
	return kr, p, nil
}

// readKeyring reads a binary or ASCII-armoured OpenPGP keyring.
func readKeyring(r io.Reader) (openpgp.EntityList, error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(5)
	if string(head) == "-----" {
		return openpgp.ReadArmoredKeyRing(br)
	}
	return openpgp.ReadKeyRing(br)
}

// Release is the parsed, verified content of an InRelease file.
type Release struct {
	Suite, Codename string
	Date            time.Time
	ValidUntil      time.Time
	AcquireByHash   bool
	// SHA256 maps each file path to its digest and size.
	SHA256 map[string]FileSum
	// Signer names the key that made the valid signature.
	Signer string
}

// FileSum is a digest and a size from a Release file.
type FileSum struct {
	Hex  string
	Size int64
}

// VerifyInRelease checks the clearsigned InRelease against the keyring and
// parses what was signed: nothing outside the signature is read.
func VerifyInRelease(data []byte, kr openpgp.KeyRing) (*Release, error) {
	b, _ := clearsign.Decode(data)
	if b == nil {
		return nil, errors.New("not a clearsigned OpenPGP message")
	}
	signer, err := b.VerifySignature(kr, nil)
	if err != nil {
		return nil, fmt.Errorf("OpenPGP signature: %w", err)
	}
	r, err := ParseRelease(b.Plaintext)
	if err != nil {
		return nil, err
	}
	r.Signer = keyName(signer)
	return r, nil
}

func keyName(e *openpgp.Entity) string {
	if e == nil || e.PrimaryKey == nil {
		return "unknown key"
	}
	s := strings.ToUpper(fmt.Sprintf("%X", e.PrimaryKey.Fingerprint))
	for name := range e.Identities {
		return s + " (" + name + ")"
	}
	return s
}

// ParseRelease reads the fields of a (signed) Release file.
func ParseRelease(b []byte) (*Release, error) {
	r := &Release{SHA256: map[string]FileSum{}}
	inSHA := false
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.HasPrefix(line, " ") {
			if !inSHA {
				continue
			}
			f := strings.Fields(line)
			if len(f) != 3 || len(f[0]) != 64 {
				return nil, fmt.Errorf("Release: bad SHA256 line %q", strings.TrimSpace(line))
			}
			size, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil || size < 0 {
				return nil, fmt.Errorf("Release: bad size in %q", strings.TrimSpace(line))
			}
			r.SHA256[f[2]] = FileSum{Hex: strings.ToLower(f[0]), Size: size}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		inSHA = k == "SHA256"
		var err error
		switch k {
		case "Suite":
			r.Suite = v
		case "Codename":
			r.Codename = v
		case "Date":
			r.Date, err = parseReleaseDate(v)
		case "Valid-Until":
			r.ValidUntil, err = parseReleaseDate(v)
		case "Acquire-By-Hash":
			r.AcquireByHash = v == "yes"
		}
		if err != nil {
			return nil, fmt.Errorf("Release: %s: %w", k, err)
		}
	}
	if r.Date.IsZero() {
		return nil, errors.New("Release: no Date")
	}
	return r, nil
}

func parseReleaseDate(v string) (time.Time, error) {
	for _, layout := range []string{time.RFC1123, time.RFC1123Z, "Mon, _2 Jan 2006 15:04:05 MST", "Mon, _2 Jan 2006 15:04:05 -0700"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unparsable date %q", v)
}

// packagesFile picks the Packages file of component/arch the Release
// lists, preferring the fastest to decompress.
func (r *Release) packagesFile(component, arch string) (string, FileSum, bool) {
	for _, ext := range []string{".gz", ".xz", ""} {
		p := component + "/binary-" + arch + "/Packages" + ext
		if s, ok := r.SHA256[p]; ok {
			return p, s, true
		}
	}
	return "", FileSum{}, false
}

// MaxPackages bounds the packages of one suite or repository (Debian's
// largest has about 70,000).
const MaxPackages = 1_000_000

// ParsePackages reads a (decompressed) Packages file: name, version and
// source of every paragraph.
func ParsePackages(r io.Reader, suite int, fn func(Package)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var p Package
	n := 0
	flush := func() {
		if p.Name != "" && p.Version != "" {
			if p.Source == "" {
				p.Source = p.Name
			}
			p.Suite = suite
			fn(p)
			n++
		}
		p = Package{}
	}
	for sc.Scan() {
		if n > MaxPackages {
			return fmt.Errorf("packages index: more than %d packages", MaxPackages)
		}
		line := sc.Bytes()
		if len(line) == 0 {
			flush()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		switch string(k) {
		case "Package":
			p.Name = string(bytes.TrimSpace(v))
		case "Version":
			p.Version = string(bytes.TrimSpace(v))
		case "Source":
			// "Source: name (version)" when the version differs.
			src, _, _ := strings.Cut(string(bytes.TrimSpace(v)), " ")
			p.Source = src
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("packages index: %w", err)
	}
	flush()
	return nil
}

// decompress undoes the compression the file name says.
func decompress(name string, b []byte) (io.Reader, error) {
	switch {
	case strings.HasSuffix(name, ".gz"):
		return gzip.NewReader(bytes.NewReader(b))
	case strings.HasSuffix(name, ".xz"):
		return xz.NewReader(bytes.NewReader(b))
	}
	return bytes.NewReader(b), nil
}

// updateDebian fetches the suites of a Debian or Ubuntu release for the
// arches and stores one index per arch.
func (u *Updater) updateDebian(ctx context.Context, t Target) ([]Result, error) {
	kr, _, err := u.keyring(t.Distro)
	if err != nil {
		return nil, err
	}
	now := u.now()
	olds := map[string]*Index{}
	for _, arch := range t.Arches {
		if old, err := Open(u.Dir, Key{t.Distro, t.Release, arch}); err == nil {
			olds[arch] = old
		}
	}
	var results []Result
	var errs []error
	for _, arch := range t.Arches {
		k := Key{t.Distro, t.Release, arch}
		if err := k.Valid(); err != nil {
			errs = append(errs, err)
			continue
		}
		old := olds[arch]
		ix := &Index{Distro: t.Distro, Release: t.Release, Arch: arch, UpdatedAt: now}
		res := Result{Key: k, Status: "unchanged"}
		failed := false
		for si, s := range u.debianSuites(t.Distro, t.Release, arch) {
			url := join(s.base, "dists", s.name, "InRelease")
			// What is kept and said about it hides a mirror's credentials.
			shown := redact.URL(url)
			var oldSuite *Suite
			if old != nil && si < len(old.Suites) && old.Suites[si].Name == s.name && old.Suites[si].URL == shown {
				oldSuite = &old.Suites[si]
			}
			var val *validators
			if oldSuite != nil {
				val = &validators{oldSuite.ETag, oldSuite.LastModified}
			}
			f, err := u.fetch(ctx, url, val)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", k, s.name, err))
				failed = true
				break
			}
			if f.NotModified {
				// The signed index did not change: neither did its packages,
				// but an expired Valid-Until still counts.
				if !oldSuite.ValidUntil.IsZero() && now.After(oldSuite.ValidUntil) {
					errs = append(errs, fmt.Errorf("%s %s: InRelease expired on %s and the mirror serves no newer one", k, s.name, oldSuite.ValidUntil.Format(time.DateOnly)))
					failed = true
					break
				}
				ix.Suites = append(ix.Suites, *oldSuite)
				for _, p := range old.Packages {
					if p.Suite == si {
						ix.Packages = append(ix.Packages, p)
					}
				}
				continue
			}
			rel, err := VerifyInRelease(f.Body, kr)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %s: %w", k, s.name, shown, err))
				failed = true
				break
			}
			if rel.Codename != s.name && rel.Suite != s.name {
				errs = append(errs, fmt.Errorf("%s %s: %s is signed for suite %q (codename %q), not %q", k, s.name, shown, rel.Suite, rel.Codename, s.name))
				failed = true
				break
			}
			if !rel.ValidUntil.IsZero() && now.After(rel.ValidUntil) {
				errs = append(errs, fmt.Errorf("%s %s: %s expired on %s (a stale or replayed mirror)", k, s.name, shown, rel.ValidUntil.Format(time.RFC3339)))
				failed = true
				break
			}
			if oldSuite != nil && rel.Date.Before(oldSuite.Date) {
				errs = append(errs, fmt.Errorf("%s %s: %s is dated %s, older than the stored %s (a stale or replayed mirror)", k, s.name, shown, rel.Date.Format(time.RFC3339), oldSuite.Date.Format(time.RFC3339)))
				failed = true
				break
			}
			suite := Suite{Name: s.name, Kind: s.kind, URL: shown, Date: rel.Date, ValidUntil: rel.ValidUntil,
				ETag: f.ETag, LastModified: f.LastModified, Verified: "OpenPGP: " + rel.Signer}
			path, sum, ok := rel.packagesFile("main", arch)
			if !ok {
				errs = append(errs, fmt.Errorf("%s %s: %s lists no main/binary-%s/Packages", k, s.name, shown, arch))
				failed = true
				break
			}
			suite.Digest = "sha256:" + sum.Hex
			if oldSuite != nil && oldSuite.Digest == suite.Digest {
				suite.Packages = oldSuite.Packages
				ix.Suites = append(ix.Suites, suite)
				for _, p := range old.Packages {
					if p.Suite == si {
						ix.Packages = append(ix.Packages, p)
					}
				}
				if !rel.Date.Equal(oldSuite.Date) {
					res.Status = "updated"
				}
				continue
			}
			purl := join(s.base, "dists", s.name, path)
			if rel.AcquireByHash {
				dir := path[:strings.LastIndex(path, "/")]
				purl = join(s.base, "dists", s.name, dir, "by-hash", "SHA256", sum.Hex)
			}
			pf, err := u.fetch(ctx, purl, nil)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", k, s.name, err))
				failed = true
				break
			}
			if got := sha256Hex(pf.Body); got != sum.Hex || int64(len(pf.Body)) != sum.Size {
				errs = append(errs, fmt.Errorf("%s %s: %s: sha256 %s (%d bytes), InRelease says %s (%d bytes)", k, s.name, redact.URL(purl), got, len(pf.Body), sum.Hex, sum.Size))
				failed = true
				break
			}
			rd, err := decompress(path, pf.Body)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %s: %w", k, s.name, redact.URL(purl), err))
				failed = true
				break
			}
			n := 0
			if err := ParsePackages(rd, si, func(p Package) { ix.Packages = append(ix.Packages, p); n++ }); err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %s: %w", k, s.name, redact.URL(purl), err))
				failed = true
				break
			}
			suite.Packages = n
			ix.Suites = append(ix.Suites, suite)
			res.Status = "updated"
		}
		if failed {
			continue
		}
		if res.Status == "unchanged" && old != nil {
			// Keep the stored file (and its first-seen dates) as it is.
			res.Packages = len(old.Packages)
			res.Suites = old.Suites
			results = append(results, res)
			continue
		}
		ix.mergeFirstSeen(old)
		if err := ix.Save(u.Dir); err != nil {
			errs = append(errs, err)
			continue
		}
		res.Status, res.Packages, res.Suites = "updated", len(ix.Packages), ix.Suites
		results = append(results, res)
	}
	return results, errors.Join(errs...)
}
