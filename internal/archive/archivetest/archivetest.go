// Package archivetest writes small distribution archives for tests: a
// Debian-style mirror directory whose InRelease files are clearsigned with
// a key made for the test, and signed Alpine APKINDEX.tar.gz files.
package archivetest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // Alpine's .SIGN.RSA format
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Signer is an OpenPGP key made for a test, with its keyring file.
type Signer struct {
	Entity  *openpgp.Entity
	Keyring string
}

// NewSigner makes a key and writes its public keyring to dir/keyring.gpg.
func NewSigner(t testing.TB, dir string) *Signer {
	t.Helper()
	e, err := openpgp.NewEntity("shipshape test archive", "", "archive@example.invalid", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := e.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "keyring.gpg")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return &Signer{Entity: e, Keyring: p}
}

// Suite is one suite of a Debian mirror: its main/binary-ARCH/Packages
// content by arch.
type Suite struct {
	Name       string
	Date       time.Time
	ValidUntil time.Time
	Packages   map[string]string
	// Codename overrides the signed Codename (tests of a substituted
	// suite).
	Codename string
}

// WriteSuite writes dists/NAME/InRelease (clearsigned by s) and the
// gzip-compressed Packages files it lists, by hash too, under root.
func (s *Signer) WriteSuite(t testing.TB, root string, su Suite) {
	t.Helper()
	dist := filepath.Join(root, "dists", su.Name)
	var sums strings.Builder
	for arch, content := range su.Packages {
		var gz bytes.Buffer
		zw := gzip.NewWriter(&gz)
		zw.Write([]byte(content))
		zw.Close()
		rel := "main/binary-" + arch + "/Packages.gz"
		sum := sha256.Sum256(gz.Bytes())
		h := hex.EncodeToString(sum[:])
		for _, p := range []string{rel, "main/binary-" + arch + "/by-hash/SHA256/" + h} {
			write(t, filepath.Join(dist, p), gz.Bytes())
		}
		fmt.Fprintf(&sums, " %s %d %s\n", h, gz.Len(), rel)
	}
	code := su.Codename
	if code == "" {
		code = su.Name
	}
	var rel strings.Builder
	fmt.Fprintf(&rel, "Origin: Test\nSuite: %s\nCodename: %s\nDate: %s\n", code, code, su.Date.UTC().Format(time.RFC1123))
	if !su.ValidUntil.IsZero() {
		fmt.Fprintf(&rel, "Valid-Until: %s\n", su.ValidUntil.UTC().Format(time.RFC1123))
	}
	fmt.Fprintf(&rel, "Acquire-By-Hash: yes\nComponents: main\nSHA256:\n%s", sums.String())
	var out bytes.Buffer
	w, err := clearsign.Encode(&out, s.Entity.PrivateKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(rel.String()))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dist, "InRelease"), out.Bytes())
}

func write(t testing.TB, p string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// APKPackage is one entry of a hand-made APKINDEX.
type APKPackage struct {
	Name, Version, Origin string
	Built                 time.Time
}

// AlpineKey is an RSA key made for a test, written as NAME.rsa.pub into a
// key directory.
type AlpineKey struct {
	Key  *rsa.PrivateKey
	Name string
	Dir  string
}

// NewAlpineKey makes a key and writes its public half to dir/NAME.
func NewAlpineKey(t testing.TB, dir, name string) *AlpineKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	return &AlpineKey{Key: k, Name: name, Dir: dir}
}

// APKINDEX returns a signed APKINDEX.tar.gz of the packages (unsigned when
// k is nil).
func APKINDEX(t testing.TB, k *AlpineKey, pkgs []APKPackage) []byte {
	t.Helper()
	var idx strings.Builder
	for _, p := range pkgs {
		fmt.Fprintf(&idx, "C:Q1AAAAAAAAAAAAAAAAAAAAAAAAAAA=\nP:%s\nV:%s\nA:x86_64\nS:1000\nI:2000\nT:test package\no:%s\nt:%d\n\n", p.Name, p.Version, p.Origin, p.Built.Unix())
	}
	var data bytes.Buffer
	zw := gzip.NewWriter(&data)
	tw := tar.NewWriter(zw)
	for _, f := range []struct{ name, body string }{{"DESCRIPTION", "v3.20.3-test"}, {"APKINDEX", idx.String()}} {
		tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(f.body))
	}
	tw.Close()
	zw.Close()
	if k == nil {
		return data.Bytes()
	}
	d := sha1.Sum(data.Bytes()) //nolint:gosec // the format's digest
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.Key, crypto.SHA1, d[:])
	if err != nil {
		t.Fatal(err)
	}
	// The signature tar: one entry, no end-of-archive blocks.
	var st bytes.Buffer
	tw = tar.NewWriter(&st)
	tw.WriteHeader(&tar.Header{Name: ".SIGN.RSA." + k.Name, Mode: 0o644, Size: int64(len(sig)), Typeflag: tar.TypeReg})
	tw.Write(sig)
	tw.Flush()
	var sigz bytes.Buffer
	zw = gzip.NewWriter(&sigz)
	zw.Write(st.Bytes())
	zw.Close()
	return append(sigz.Bytes(), data.Bytes()...)
}

// WriteAPKINDEX writes an index to root/BRANCH/REPO/ARCH/APKINDEX.tar.gz.
func WriteAPKINDEX(t testing.TB, root, branch, repo, arch string, b []byte) {
	t.Helper()
	write(t, filepath.Join(root, branch, repo, arch, "APKINDEX.tar.gz"), b)
}
