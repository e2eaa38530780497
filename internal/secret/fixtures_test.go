package secret

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	mrand "math/rand/v2"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// Test secrets are generated, never committed: a deterministic random
// source makes every run (and the golden files) identical.

func tokenChars(r *mrand.Rand, alphabet string, n int) string {
	var b strings.Builder
	for range n {
		b.WriteByte(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

const (
	alnum  = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	upper2 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b64    = alnum + "+/"
	hexlc  = "0123456789abcdef"
)

// fakeSecrets are realistic-looking credentials of each kind.
type fakeSecrets struct {
	AWSKeyID, AWSSecret, GitHub, GitLab, Slack, Stripe, NPM, PyPI, Docker, SendGrid, Twilio, AzureKey, JWT string
	RSAKey, OpenSSHKey, EncryptedOpenSSHKey, EncryptedPKCS8                                                string
}

func newFakeSecrets(t testing.TB, seed uint64) fakeSecrets {
	t.Helper()
	r := mrand.New(mrand.NewPCG(seed, seed+1))
	s := fakeSecrets{
		AWSKeyID:  "AKIA" + tokenChars(r, upper2, 16),
		AWSSecret: tokenChars(r, b64, 40),
		GitHub:    "ghp_" + tokenChars(r, alnum, 36),
		GitLab:    "glpat-" + tokenChars(r, alnum, 20),
		Slack:     "xoxb-" + tokenChars(r, "0123456789", 12) + "-" + tokenChars(r, "0123456789", 13) + "-" + tokenChars(r, alnum, 24),
		Stripe:    "sk_live_" + tokenChars(r, alnum, 24),
		NPM:       "npm_" + tokenChars(r, alnum, 36),
		PyPI:      "pypi-AgEIcHlwaS5vcmc" + tokenChars(r, alnum+"_-", 60),
		Docker:    "dckr_pat_" + tokenChars(r, alnum+"_-", 27),
		SendGrid:  "SG." + tokenChars(r, alnum, 22) + "." + tokenChars(r, alnum, 43),
		Twilio:    "SK" + tokenChars(r, hexlc, 32),
		AzureKey:  tokenChars(r, b64, 86) + "==",
		JWT:       "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ." + tokenChars(r, alnum+"_-", 43),
	}
	rk, err := rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // a test key
	if err != nil {
		t.Fatal(err)
	}
	s.RSAKey = string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rk)}))
	_, ek, _ := ed25519.GenerateKey(rand.Reader)
	b, err := ssh.MarshalPrivateKey(ek, "build@ci")
	if err != nil {
		t.Fatal(err)
	}
	s.OpenSSHKey = string(pem.EncodeToMemory(b))
	b, err = ssh.MarshalPrivateKeyWithPassphrase(ek, "build@ci", []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	s.EncryptedOpenSSHKey = string(pem.EncodeToMemory(b))
	der, _ := x509.MarshalPKCS8PrivateKey(ek)
	s.EncryptedPKCS8 = "-----BEGIN ENCRYPTED PRIVATE KEY-----\n" + wrap64(tokenChars(r, b64, len(der)*2)) + "-----END ENCRYPTED PRIVATE KEY-----\n"
	return s
}

func wrap64(s string) string {
	var b strings.Builder
	for len(s) > 64 {
		b.WriteString(s[:64] + "\n")
		s = s[64:]
	}
	b.WriteString(s + "\n")
	return b.String()
}
