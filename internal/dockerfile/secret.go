package dockerfile

import (
	"strings"
	"sync"

	"github.com/shipshape-dev/shipshape/internal/secret"
)

// SecretDetector decides whether a variable or a value is a secret.
// secret.DockerfileDetector, the default, judges with P1's rules
// (secret.Detector.Judge), so that the lint and the image scan agree.
type SecretDetector interface {
	// Detect returns what kind of secret name=value is ("" when none) and
	// whether the value itself (not only the name) looks like one.
	Detect(name, value string) (kind string, byValue bool)
}

// defaultSecrets is the detector Lint uses when Options.Secrets is nil:
// built once (its rule tables are immutable and safe for concurrent use).
var defaultSecrets = sync.OnceValue(func() SecretDetector { return secret.NewDockerfileDetector() })

// withArticle prefixes a kind of secret with "a" or "an".
func withArticle(kind string) string {
	if kind != "" && strings.ContainsRune("aeiouAEIO", rune(kind[0])) {
		return "an " + kind
	}
	return "a " + kind
}

// credentialFile reports whether a COPY/ADD source names a credential
// file or directory.
func credentialFile(src string) (string, bool) {
	s := strings.TrimSuffix(strings.ReplaceAll(src, "\\", "/"), "/")
	base := s[strings.LastIndex(s, "/")+1:]
	switch base {
	case ".ssh", "id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", ".env", ".npmrc", ".pypirc", ".git-credentials", ".aws", ".netrc", ".dockercfg", ".htpasswd", "credentials", ".gnupg", ".kube":
		return base, true
	}
	if strings.HasSuffix(s, ".docker/config.json") || strings.HasSuffix(s, ".aws/credentials") {
		return ".docker/config.json", true
	}
	if strings.HasPrefix(base, ".env.") && base != ".env.example" && base != ".env.sample" && base != ".env.template" {
		return base, true
	}
	for _, ext := range []string{".pem", ".key", ".p12", ".pfx", ".jks"} {
		if strings.HasSuffix(base, ext) {
			return base, true
		}
	}
	return "", false
}
