package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // Alpine's .SIGN.RSA signatures are SHA-1; SHA-256 ones are preferred when present.
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/shipshape-dev/shipshape/internal/redact"
)

// AlpineArch returns Alpine's name of an OCI architecture.
func AlpineArch(arch, variant string) string {
	switch arch {
	case "amd64":
		return "x86_64"
	case "arm64":
		return "aarch64"
	case "386":
		return "x86"
	case "arm":
		if variant == "v6" {
			return "armhf"
		}
		return "armv7"
	}
	return arch
}

// AlpineRepositories are the repositories fetched for an Alpine branch.
var AlpineRepositories = []string{"main", "community"}

// alpineKeys reads the RSA public keys (*.rsa.pub) by file name.
func (u *Updater) alpineKeys() (map[string]*rsa.PublicKey, string, error) {
	dirs := []string{u.AlpineKeys}
	if u.AlpineKeys == "" {
		dirs = []string{DefaultAlpineKeys, "/etc/apk/keys"}
	}
	for _, d := range dirs {
		paths, _ := filepath.Glob(filepath.Join(d, "*.rsa.pub"))
		if len(paths) == 0 {
			continue
		}
		keys := map[string]*rsa.PublicKey{}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, d, err
			}
			blk, _ := pem.Decode(b)
			if blk == nil {
				return nil, d, fmt.Errorf("%s: not a PEM public key", p)
			}
			k, err := x509.ParsePKIXPublicKey(blk.Bytes)
			if err != nil {
				return nil, d, fmt.Errorf("%s: %w", p, err)
			}
			if rk, ok := k.(*rsa.PublicKey); ok {
				keys[filepath.Base(p)] = rk
			}
		}
		return keys, d, nil
	}
	return nil, "", fmt.Errorf("no Alpine keys (*.rsa.pub) in %s: install Alpine's keys there or pass --alpine-keys DIR", strings.Join(dirs, " or "))
}

// APKIndex is a parsed APKINDEX.tar.gz.
type APKIndex struct {
	// Signer is the key file whose signature verified, empty when not
	// verified.
	Signer   string
	Packages []Package
	// Newest is the newest build time of a package.
	Newest time.Time
}

// ReadAPKIndex parses APKINDEX.tar.gz. With keys, the signature (the first
// gzip member: .SIGN.RSA[256].KEYNAME) must verify over the second member
// with one of them; without keys it is not checked.
func ReadAPKIndex(b []byte, keys map[string]*rsa.PublicKey, suite int) (*APKIndex, error) {
	br := bytes.NewReader(b)
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("APKINDEX: %w", err)
	}
	zr.Multistream(false)
	type sig struct {
		key  string
		h    crypto.Hash
		body []byte
	}
	var sigs []sig
	first, err := io.ReadAll(io.LimitReader(zr, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("APKINDEX: first member: %w", err)
	}
	rest := b[len(b)-br.Len():]
	tr := tar.NewReader(bytes.NewReader(first))
	signed := false
	for {
		h, err := tr.Next()
		if err != nil {
			break // the signature tar has no end-of-archive blocks
		}
		name := h.Name
		switch {
		case strings.HasPrefix(name, ".SIGN.RSA256."):
			body, _ := io.ReadAll(io.LimitReader(tr, 64<<10))
			sigs = append(sigs, sig{strings.TrimPrefix(name, ".SIGN.RSA256."), crypto.SHA256, body})
			signed = true
		case strings.HasPrefix(name, ".SIGN.RSA."):
			body, _ := io.ReadAll(io.LimitReader(tr, 64<<10))
			sigs = append(sigs, sig{strings.TrimPrefix(name, ".SIGN.RSA."), crypto.SHA1, body})
			signed = true
		}
	}
	out := &APKIndex{}
	data := b
	if signed {
		data = rest
	}
	if keys != nil {
		if !signed {
			return nil, errors.New("APKINDEX: not signed")
		}
		for _, s := range sigs {
			k := keys[s.key]
			if k == nil {
				continue
			}
			var digest []byte
			if s.h == crypto.SHA256 {
				d := sha256.Sum256(data)
				digest = d[:]
			} else {
				d := sha1.Sum(data) //nolint:gosec // the format's own digest
				digest = d[:]
			}
			if rsa.VerifyPKCS1v15(k, s.h, digest, s.body) == nil {
				out.Signer = s.key
				break
			}
		}
		if out.Signer == "" {
			names := make([]string, len(sigs))
			for i, s := range sigs {
				names[i] = s.key
			}
			return nil, fmt.Errorf("APKINDEX: no valid signature by a known key (signed by %s)", strings.Join(names, ", "))
		}
	}
	zr2, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("APKINDEX: %w", err)
	}
	tr = tar.NewReader(zr2)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil, errors.New("APKINDEX.tar.gz holds no APKINDEX file")
		}
		if err != nil {
			return nil, fmt.Errorf("APKINDEX: %w", err)
		}
		if h.Name != "APKINDEX" {
			continue
		}
		if err := parseAPKINDEX(io.LimitReader(tr, maxFetchBytes), suite, out); err != nil {
			return nil, err
		}
		return out, nil
	}
}

func parseAPKINDEX(r io.Reader, suite int, out *APKIndex) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	p := Package{Suite: suite}
	flush := func() {
		if p.Name != "" && p.Version != "" {
			if p.Source == "" {
				p.Source = p.Name
			}
			out.Packages = append(out.Packages, p)
			if t := time.Unix(p.Built, 0); p.Built > 0 && t.After(out.Newest) {
				out.Newest = t.UTC()
			}
		}
		p = Package{Suite: suite}
	}
	for sc.Scan() {
		if len(out.Packages) > MaxPackages {
			return fmt.Errorf("APKINDEX: more than %d packages", MaxPackages)
		}
		line := sc.Text()
		if line == "" {
			flush()
			continue
		}
		if len(line) < 2 || line[1] != ':' {
			continue
		}
		v := line[2:]
		switch line[0] {
		case 'P':
			p.Name = v
		case 'V':
			p.Version = v
		case 'o':
			p.Source = v
		case 't':
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 0 {
				p.Built = n
			}
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("APKINDEX: %w", err)
	}
	flush()
	return nil
}

// updateAlpine fetches main and community of an Alpine branch.
func (u *Updater) updateAlpine(ctx context.Context, t Target) ([]Result, error) {
	keys, keyDir, kerr := u.alpineKeys()
	base := or(u.Mirrors["alpine"], DefaultAlpine)
	now := u.now()
	var results []Result
	var errs []error
	for _, arch := range t.Arches {
		k := Key{t.Distro, t.Release, arch}
		if err := k.Valid(); err != nil {
			errs = append(errs, err)
			continue
		}
		old, _ := Open(u.Dir, k)
		ix := &Index{Distro: t.Distro, Release: t.Release, Arch: arch, UpdatedAt: now}
		res := Result{Key: k, Status: "unchanged"}
		failed := false
		for si, repo := range AlpineRepositories {
			url := join(base, t.Release, repo, arch, "APKINDEX.tar.gz")
			// What is kept and said about it hides a mirror's credentials.
			shown := redact.URL(url)
			var oldSuite *Suite
			if old != nil && si < len(old.Suites) && old.Suites[si].URL == shown {
				oldSuite = &old.Suites[si]
			}
			var val *validators
			if oldSuite != nil {
				val = &validators{oldSuite.ETag, oldSuite.LastModified}
			}
			f, err := u.fetch(ctx, url, val)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %w", k, repo, err))
				failed = true
				break
			}
			if f.NotModified {
				ix.Suites = append(ix.Suites, *oldSuite)
				for _, p := range old.Packages {
					if p.Suite == si {
						ix.Packages = append(ix.Packages, p)
					}
				}
				continue
			}
			ai, err := ReadAPKIndex(f.Body, keys, si)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s %s: %s: %w", k, repo, shown, err))
				failed = true
				break
			}
			s := Suite{Name: t.Release + "/" + repo, Kind: KindRelease, URL: shown, Date: ai.Newest, ETag: f.ETag, LastModified: f.LastModified,
				Digest: "sha256:" + sha256Hex(f.Body), Packages: len(ai.Packages)}
			if lm, err := http.ParseTime(f.LastModified); err == nil {
				s.Date = lm.UTC()
			}
			if ai.Signer != "" {
				s.Verified = "RSA: " + ai.Signer + " (" + keyDir + ")"
			} else {
				s.Unverified = kerr.Error()
			}
			ix.Suites = append(ix.Suites, s)
			ix.Packages = append(ix.Packages, ai.Packages...)
			res.Status = "updated"
		}
		if failed {
			continue
		}
		if res.Status == "unchanged" && old != nil {
			res.Packages, res.Suites = len(old.Packages), old.Suites
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
