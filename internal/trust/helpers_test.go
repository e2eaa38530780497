package trust

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// registry starts Debian's docker-registry (no referrers API: every
// referrer goes through the sha256-<hex> tag schema).
func registry(t *testing.T) string {
	t.Helper()
	return testenv.Registry(t)
}

func ropts() []remote.Option { return []remote.Option{remote.WithContext(context.Background())} }

// push writes a random single-platform image to addr/repo:tag and returns
// its digest reference.
func push(t *testing.T, addr, repoTag string) name.Digest {
	t.Helper()
	ref, err := name.ParseReference(addr+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, ropts()...); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref.Context().Digest(d.String())
}

// pushIndex writes a two-platform index and returns its digest reference.
func pushIndex(t *testing.T, addr, repoTag string) name.Digest {
	t.Helper()
	ref, err := name.ParseReference(addr+"/"+repoTag, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		img, err := random.Image(256, 1)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf.OS, cf.Architecture = "linux", arch
		img, err = mutate.ConfigFile(img, cf)
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	idx := mutate.AppendManifests(emptyIndex(), adds...)
	if err := remote.WriteIndex(ref, idx, ropts()...); err != nil {
		t.Fatal(err)
	}
	d, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return ref.Context().Digest(d.String())
}

// open opens a registry image as a scan does.
func open(t *testing.T, ref string, platform string) *image.Image {
	t.Helper()
	img, err := image.Open(context.Background(), "docker://"+ref, image.Options{Insecure: true, Platform: platform})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { img.Close() })
	return img
}

// newKey makes a signing key of kind: p256, p384, ed25519, rsa.
func newKey(t *testing.T, kind string) crypto.Signer {
	t.Helper()
	var k crypto.Signer
	var err error
	switch kind {
	case "p256":
		k, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "p384":
		k, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "ed25519":
		_, k, err = ed25519.GenerateKey(rand.Reader)
	case "rsa":
		k, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		t.Fatalf("key kind %s", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// pubFile writes k's public key as PEM and returns its path.
func pubFile(t *testing.T, k crypto.Signer) string {
	t.Helper()
	b, err := MarshalPublicKey(k.Public())
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "cosign.pub")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func keySigner(t *testing.T, k crypto.Signer) *Signer {
	t.Helper()
	pk, err := LoadPublicKey(pubFile(t, k))
	if err != nil {
		t.Fatal(err)
	}
	return &Signer{Key: pk}
}

func keyRule(t *testing.T, need int, ks ...crypto.Signer) *policy.TrustRule {
	t.Helper()
	r := &policy.TrustRule{Repositories: []string{"**"}, Need: need}
	for _, k := range ks {
		r.Signers = append(r.Signers, policy.TrustSigner{Key: pubFile(t, k)})
	}
	return r
}

func discover(t *testing.T, d name.Digest) []*Found {
	t.Helper()
	h, err := v1.NewHash(d.DigestStr())
	if err != nil {
		t.Fatal(err)
	}
	fs, notes, err := Discover(context.Background(), d.Context(), []Subject{{Digest: h, Type: "manifest"}}, ropts())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range notes {
		t.Log("note:", n)
	}
	return fs
}
