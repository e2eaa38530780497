package dockerfile

import (
	"regexp"
	"strings"
)

// SecretDetector decides whether a variable or a value is a secret. The
// P1 secret detectors can be plugged in behind it; NameValueDetector is a
// small built-in fallback.
type SecretDetector interface {
	// Detect returns what kind of secret name=value is ("" when none) and
	// whether the value itself (not only the name) looks like one.
	Detect(name, value string) (kind string, byValue bool)
}

// NameValueDetector flags variable names that say they hold a secret
// (TOKEN, PASSWORD, API_KEY…) when their value is not obviously something
// else (a path, a URL, a boolean, a number), and values with the shape of
// well-known credentials.
type NameValueDetector struct{}

var (
	secretName = regexp.MustCompile(`(?i)(^|_|-)(pass(word|wd)?|secret|token|api_?key|access_?key|private_?key|secret_?key|credentials?|auth|pat)($|_|-)`)
	// Names that contain a secret word but hold something else.
	notSecretName = regexp.MustCompile(`(?i)(_(file|path|dir|url|uri|endpoint|host|name|user(name)?|id|type|length|enabled|header)$)|^(pat)h$`)
	notSecretVal  = regexp.MustCompile(`^(/|\./|\$|https?://[^:@/]+(/|$)|true$|false$|yes$|no$|[0-9]+$|changeme$|<[^>]*>$)`)
	valuePatterns = []struct {
		kind string
		re   *regexp.Regexp
	}{
		{"aws-access-key-id", regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`)},
		{"github-token", regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{36,}\b`)},
		{"github-fine-grained-token", regexp.MustCompile(`\bgithub_pat_[A-Za-z0-9_]{50,}\b`)},
		{"gitlab-token", regexp.MustCompile(`\bglpat-[A-Za-z0-9_-]{20,}\b`)},
		{"slack-token", regexp.MustCompile(`\bxox[abpors]-[A-Za-z0-9-]{10,}\b`)},
		{"stripe-live-key", regexp.MustCompile(`\b[sr]k_live_[A-Za-z0-9]{20,}\b`)},
		{"npm-token", regexp.MustCompile(`\bnpm_[A-Za-z0-9]{36}\b`)},
		{"private-key", regexp.MustCompile(`-----BEGIN ([A-Z]+ )?PRIVATE KEY-----`)},
		{"url-credentials", regexp.MustCompile(`[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@`)},
	}
)

// Detect implements SecretDetector.
func (NameValueDetector) Detect(name, value string) (string, bool) {
	for _, p := range valuePatterns {
		if p.re.MatchString(value) {
			return p.kind, true
		}
	}
	if !SecretName(name) {
		return "", false
	}
	if value != "" && notSecretVal.MatchString(value) {
		return "", false
	}
	return "secret-name", false
}

// SecretName reports whether a variable's name says it holds a secret.
func SecretName(name string) bool {
	return secretName.MatchString(name) && !notSecretName.MatchString(name)
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
