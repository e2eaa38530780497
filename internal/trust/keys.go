package trust

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
)

// PEM block types of cosign's encrypted private keys.
const (
	sigstorePrivateKeyPEM = "ENCRYPTED SIGSTORE PRIVATE KEY"
	cosignPrivateKeyPEM   = "ENCRYPTED COSIGN PRIVATE KEY"
)

// PasswordEnv is the environment variable the private key's passphrase
// is read from, as cosign does.
const PasswordEnv = "COSIGN_PASSWORD"

// PublicKey is a signer's public key, loaded from a PEM file.
type PublicKey struct {
	// Path is the file the key came from.
	Path string
	Key  crypto.PublicKey
	// Fingerprint is sha256 of the key's PKIX DER encoding.
	Fingerprint string
	// Algorithm names the key type ("ECDSA P-256", "Ed25519", "RSA 3072").
	Algorithm string
}

// String names the key for reports.
func (k *PublicKey) String() string {
	return fmt.Sprintf("%s (%s, %s)", k.Path, k.Algorithm, k.Fingerprint)
}

// verifier returns the signature verifier cosign would use for the key:
// the curve's hash for ECDSA, PKCS#1 v1.5 with SHA-256 for RSA, pure
// Ed25519.
func (k *PublicKey) verifier() (signature.Verifier, error) {
	return signature.LoadDefaultVerifier(k.Key)
}

// LoadPublicKey reads a PEM public key (ECDSA P-256/P-384/P-521, Ed25519
// or RSA), as cosign generate-key-pair writes it.
func LoadPublicKey(path string) (*PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	k, err := ParsePublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("public key %s: %w", path, err)
	}
	k.Path = path
	return k, nil
}

// ParsePublicKey parses a PEM public key.
func ParsePublicKey(b []byte) (*PublicKey, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("not a PEM public key: %w", err)
	}
	return newPublicKey(pub)
}

func newPublicKey(pub crypto.PublicKey) (*PublicKey, error) {
	alg, err := keyAlgorithm(pub)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return &PublicKey{Key: pub, Fingerprint: "sha256:" + hex.EncodeToString(sum[:]), Algorithm: alg}, nil
}

func keyAlgorithm(pub crypto.PublicKey) (string, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
			return "ECDSA " + k.Curve.Params().Name, nil
		}
		return "", fmt.Errorf("unsupported ECDSA curve %s", k.Curve.Params().Name)
	case ed25519.PublicKey:
		return "Ed25519", nil
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return "", fmt.Errorf("RSA key of %d bits: want 2048 or more", k.N.BitLen())
		}
		return fmt.Sprintf("RSA %d", k.N.BitLen()), nil
	}
	return "", fmt.Errorf("unsupported public key type %T", pub)
}

// LoadPrivateKey reads a cosign private key (ENCRYPTED SIGSTORE PRIVATE
// KEY, or the older ENCRYPTED COSIGN PRIVATE KEY) and decrypts it with
// pass. Unencrypted PKCS#8, EC and RSA PEM keys are read as they are.
func LoadPrivateKey(path string, pass []byte) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	s, err := ParsePrivateKey(b, pass)
	if err != nil {
		return nil, fmt.Errorf("private key %s: %w", path, err)
	}
	return s, nil
}

// ParsePrivateKey parses a private key as LoadPrivateKey reads it.
func ParsePrivateKey(b, pass []byte) (crypto.Signer, error) {
	p, _ := pem.Decode(b)
	if p == nil {
		return nil, errors.New("no PEM block")
	}
	der := p.Bytes
	switch p.Type {
	case sigstorePrivateKeyPEM, cosignPrivateKeyPEM:
		d, err := encrypted.Decrypt(p.Bytes, pass)
		if err != nil {
			return nil, fmt.Errorf("decrypt (wrong passphrase in %s?): %w", PasswordEnv, err)
		}
		der = d
	case "PRIVATE KEY":
	case "EC PRIVATE KEY":
		k, err := x509.ParseECPrivateKey(der)
		if err != nil {
			return nil, err
		}
		return k, nil
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(der)
		if err != nil {
			return nil, err
		}
		return k, nil
	default:
		return nil, fmt.Errorf("PEM block %q is not a private key", p.Type)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("PKCS#8: %w", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("unsupported private key type %T", k)
	}
	if _, err := keyAlgorithm(s.Public()); err != nil {
		return nil, err
	}
	return s, nil
}

// EncryptPrivateKey encodes a private key the way cosign generate-key-pair
// does: PKCS#8, encrypted with scrypt and secretbox under pass, in an
// ENCRYPTED SIGSTORE PRIVATE KEY PEM block.
func EncryptPrivateKey(k crypto.Signer, pass []byte) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encode private key: %w", err)
	}
	enc, err := encrypted.Encrypt(der, pass)
	if err != nil {
		return nil, fmt.Errorf("encrypt private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: sigstorePrivateKeyPEM, Bytes: enc}), nil
}

// MarshalPublicKey encodes a public key as PEM.
func MarshalPublicKey(pub crypto.PublicKey) ([]byte, error) {
	return cryptoutils.MarshalPublicKeyToPEM(pub)
}
