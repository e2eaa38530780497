package secret

import (
	"bytes"
	"path"
	"regexp"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// Rule is one kind of secret: the keywords that must appear near it (the
// cheap prefilter), the expression that finds it, and how bad it is.
type Rule struct {
	// ID is the finding's rule id (SS-P1-…).
	ID string
	// Kind names the secret for people ("AWS secret access key").
	Kind string
	// Keywords are lower-case literals; the expression runs only near one.
	Keywords []string
	// Re finds the secret. Group Group (0: the whole match) is the value.
	Re    *regexp.Regexp
	Group int
	// Severity of a live, build-added secret of this kind.
	Severity scorecard.Severity
	// MinEntropy rejects low-entropy values (placeholders); 0 disables.
	MinEntropy float64
	// Paths, when set, limits the rule to files whose path it accepts;
	// such rules never run on config values.
	Paths func(p string) bool
	// Fix is the kind-specific part of the fix.
	Fix string
	// Before and After bound the text the expression sees around a
	// keyword (0: defaults of 64 and 320 bytes).
	Before, After int
	// CaseSensitive keywords must match exactly, not lower-cased.
	CaseSensitive bool
	// Near, when set, is a cheap check of the text around a keyword at
	// b[pos:]; the expression runs only where it holds.
	Near func(b []byte, pos int) bool
	// Find, when set, replaces Re: it finds the match around the keyword
	// at b[pos:] and its value b[vs:ve], by hand (faster than Re where
	// keywords are frequent). Re still documents the syntax and serves
	// config values.
	Find func(b []byte, pos int) (start, end, vs, ve int, ok bool)
	// Parse, when set, replaces Re and Find: the rule parses its file
	// format once over the content when one of its keywords occurs (or, for
	// a rule without keywords, whenever Paths accepts the file) and returns
	// the fields that hold credentials, with their confidence.
	Parse func(b []byte) []Field
	// Local parsers read line-based formats: they run only on the lines
	// that hold one of the rule's keywords, so a large file (a SQL dump)
	// costs no more than the prefilter. Other parsers see the whole chunk,
	// and only chunks up to maxParse bytes (configuration files are small).
	Local bool
}

var sensitiveSuffixes = func() []string {
	out := []string{"password", "passwd", "pwd", "secret", "token", "apikey", "credential", "credentials"}
	for _, pair := range [][2]string{{"api", "key"}, {"access", "key"}, {"auth", "key"}, {"private", "key"}, {"client", "secret"}} {
		for _, sep := range []string{"", "_", ".", "-"} {
			out = append(out, pair[0]+sep+pair[1])
		}
	}
	return out
}()

func isNameChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

// findAssignment is the generic rule's matcher: NAME = VALUE, NAME: VALUE,
// "NAME": "VALUE" or NAME := VALUE where NAME (the word holding the keyword
// at pos) ends with a credential word; the same syntax as its expression.
func findAssignment(b []byte, pos int) (start, end, vs, ve int, ok bool) {
	ns := pos
	for ns > 0 && pos-ns < 40 && isNameChar(b[ns-1]) {
		ns--
	}
	if ns > 0 && !strings.ContainsRune(" \t\r\n\"'{,;", rune(b[ns-1])) {
		return
	}
	ne := pos
	for ne < len(b) && ne-pos < 48 && isNameChar(b[ne]) {
		ne++
	}
	name := strings.ToLower(string(b[ns:ne]))
	found := false
	for _, suf := range sensitiveSuffixes {
		if strings.HasSuffix(name, suf) {
			found = true
			break
		}
	}
	if !found {
		return
	}
	i := ne
	if i < len(b) && (b[i] == '"' || b[i] == '\'') {
		i++
	}
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	switch {
	case i+1 < len(b) && b[i] == ':' && b[i+1] == '=':
		i += 2
	case i < len(b) && (b[i] == '=' || b[i] == ':'):
		i++
	default:
		return
	}
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	if i < len(b) && (b[i] == '"' || b[i] == '\'') {
		i++
	}
	vs = i
	for i < len(b) && i-vs < 200 && !strings.ContainsRune(" \t\r\n\v\f\"';,)}]", rune(b[i])) {
		i++
	}
	if i-vs < 8 {
		return
	}
	return ns, i, vs, i, true
}

// nearBegin holds when "-----BEGIN" precedes the keyword closely.
func nearBegin(b []byte, pos int) bool {
	return bytes.Contains(b[max(0, pos-40):pos], []byte("-----BEGIN"))
}

// nearUserinfo holds when "://" is followed by user:password@ before any
// space or quote.
func nearUserinfo(b []byte, pos int) bool {
	colon := false
	for i := pos + 3; i < len(b) && i < pos+200; i++ {
		switch c := b[i]; c {
		case ':':
			colon = true
		case '@':
			return colon
		case ' ', '\t', '\n', '\r', '"', '\'', '<', '>', '/':
			return false
		}
	}
	return false
}

// nearAssignment holds when the keyword is the end of a name followed by
// an assignment: "password = …", "api_key: …", "\"token\":".
func nearAssignment(b []byte, pos int) bool {
	i := pos
	end := min(len(b), pos+48)
	for i < end && (b[i] >= 'a' && b[i] <= 'z' || b[i] >= 'A' && b[i] <= 'Z' || b[i] >= '0' && b[i] <= '9' || b[i] == '_' || b[i] == '.' || b[i] == '-') {
		i++
	}
	if i < end && (b[i] == '"' || b[i] == '\'') {
		i++
	}
	for i < end && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return i < end && (b[i] == '=' || b[i] == ':')
}

const (
	fixSecretMount = "Pass it at build time with `RUN --mount=type=secret,id=NAME …` (docker build --secret id=NAME,src=FILE) instead of COPY/ADD/ARG/ENV, or build in a multi-stage build whose final stage does not copy it, and list it in .dockerignore."
	fixSSHMount    = "Use `RUN --mount=type=ssh …` (docker build --ssh default) to reach private repositories instead of copying SSH keys into the image, and list key files in .dockerignore."
	fixHostKey     = "Do not bake SSH host keys into an image: generate them when the container first starts (ssh-keygen -A in the entrypoint) or mount them at run time."
	fixRuntime     = "Provide it at run time (orchestrator secret, mounted file or environment set at deploy time), never with ENV/LABEL/ARG in the Dockerfile; ARG values are recorded in the image history."
	rotate         = "Rotate this credential: it has been published to everyone who can pull the image, and removing it from a new image does not unpublish the old one."
)

var (
	// defaultBefore and defaultAfter bound expressions around keywords.
	defaultBefore, defaultAfter = 64, 320
	configExts                  = map[string]bool{".env": true, ".conf": true, ".cfg": true, ".cnf": true, ".ini": true, ".yaml": true, ".yml": true, ".json": true, ".properties": true, ".toml": true, ".xml": true, ".sh": true, ".bash": true, ".config": true, ".tfvars": true, ".tfstate": true, ".npmrc": true, ".pypirc": true, ".netrc": true, ".pgpass": true, ".my.cnf": true}
	configNames                 = map[string]bool{"credentials": true, "config": true, "Dockerfile": true, "settings.py": true, "wp-config.php": true, "application.properties": true, ".git-credentials": true, ".netrc": true, ".pgpass": true, ".npmrc": true, ".pypirc": true, ".htpasswd": true}
	placeholderW                = []string{"example", "changeme", "change_me", "change-me", "your_", "your-", "yourpass", "placeholder", "dummy", "sample", "redacted", "xxxxxx", "******", "<", ">", "${", "$(", "{{", "%(", "%s", "null", "none", "undefined", "password", "secret", "replace", "insert", "todo", "fixme", "foobar", "test1234", "12345678", "abcdef"}
)

// isEnvFile reports whether p is a dotenv file.
func isEnvFile(p string) bool {
	base := path.Base(p)
	return base == ".env" || strings.HasPrefix(base, ".env.")
}

// isConfigFile reports whether p looks like a configuration file, where
// generic "password = …" assignments are worth reporting.
func isConfigFile(p string) bool {
	base := path.Base(p)
	if isEnvFile(p) || configNames[base] || configExts[path.Ext(base)] {
		return true
	}
	if isJSConfig(base) {
		return !isSystemData(p)
	}
	return strings.HasPrefix(base, ".") && !strings.Contains(base[1:], ".") // dotfiles: .envrc, .boto, …
}

// isUserConfigFile accepts configuration files outside distribution and
// language package data, where the generic assignment rule runs (library
// data files are full of "token": "NextToken" field descriptions).
func isUserConfigFile(p string) bool { return isConfigFile(p) && !isSystemData(p) }

// isJSConfig accepts JavaScript/TypeScript configuration modules
// (config.js, app.config.ts, knexfile.js, ormconfig.js), where
// "password: '…'" is configuration rather than code.
func isJSConfig(base string) bool {
	switch path.Ext(base) {
	case ".js", ".cjs", ".mjs", ".ts":
	default:
		return false
	}
	return strings.Contains(base, "config") || strings.HasPrefix(base, "knexfile.") || strings.HasPrefix(base, "ormconfig.")
}

func pathSuffix(suffixes ...string) func(string) bool {
	return func(p string) bool {
		for _, s := range suffixes {
			if strings.HasSuffix(p, s) {
				return true
			}
		}
		return false
	}
}

// Rules returns shipshape's built-in rules, most specific first: when two
// rules match overlapping text, the earlier one wins.
func Rules() []*Rule {
	rules := []*Rule{
		{ID: "SS-P1-private-key", Kind: "private key", Keywords: []string{"PRIVATE KEY"}, CaseSensitive: true, Near: nearBegin,
			Re:       regexp.MustCompile(`-----BEGIN[ A-Z0-9]{0,30}PRIVATE KEY(?: BLOCK)?-----`),
			Severity: scorecard.Critical, Fix: fixSSHMount},
		{ID: "SS-P1-gcp-service-account", Kind: "GCP service account key", Keywords: []string{"service_account"},
			Re:    regexp.MustCompile(`"type"\s*:\s*"service_account"[^}]*?"private_key_id"\s*:\s*"([0-9a-f]{40})"`),
			Group: 1, Severity: scorecard.Critical, Fix: fixSecretMount},
		{ID: "SS-P1-aws-secret-access-key", Kind: "AWS secret access key", Keywords: []string{"aws", "secret_access_key", "secretaccesskey"},
			Re:    regexp.MustCompile(`(?i)(?:aws|secret)[a-z0-9_ .-]{0,25}(?:secret|key)[a-z0-9_ .-]{0,10}["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)`),
			Group: 1, Severity: scorecard.Critical, MinEntropy: 3.5, Fix: fixSecretMount},
		{ID: "SS-P1-aws-access-key-id", Kind: "AWS access key ID", Keywords: []string{"AKIA", "ASIA", "ABIA", "ACCA"}, CaseSensitive: true,
			Re:    regexp.MustCompile(`\b((?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16})\b`),
			Group: 1, Severity: scorecard.High, Fix: fixSecretMount},
		{ID: "SS-P1-azure-storage-key", Kind: "Azure storage connection string", Keywords: []string{"accountkey="},
			Re:    regexp.MustCompile(`(?i)AccountName=[^;\s]{1,64};\s*AccountKey=([A-Za-z0-9+/]{86}==)`),
			Group: 1, Severity: scorecard.Critical, Fix: fixSecretMount},
		{ID: "SS-P1-azure-sas", Kind: "Azure shared access signature", Keywords: []string{"sharedaccesskey="},
			Re:    regexp.MustCompile(`(?i)SharedAccessKey=([A-Za-z0-9+/]{42,44}=?)`),
			Group: 1, Severity: scorecard.Critical, Fix: fixSecretMount},
		{ID: "SS-P1-github-token", Kind: "GitHub token", Keywords: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"},
			Re:    regexp.MustCompile(`\b(gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{82})\b`),
			Group: 1, Severity: scorecard.Critical, Fix: fixSecretMount},
		{ID: "SS-P1-gitlab-token", Kind: "GitLab token", Keywords: []string{"glpat-", "gldt-", "glrt-", "glptt-", "glcbt-", "glft-", "glimt-", "glagent-", "gloas-", "glsoat-", "glffct-", "gr1348941"},
			Re:    regexp.MustCompile(`\b((?:glpat|gldt|glrt|glptt|glcbt|glft|glimt|glagent|gloas|glsoat|glffct)-[A-Za-z0-9_-]{20,}|GR1348941[A-Za-z0-9_-]{20,})`),
			Group: 1, Severity: scorecard.Critical, Fix: fixSecretMount},
		{ID: "SS-P1-slack-token", Kind: "Slack token", Keywords: []string{"xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxe"},
			Re:    regexp.MustCompile(`\b(xox(?:[abprs]|e(?:\.xox[bp])?)-[0-9A-Za-z-]{10,250})`),
			Group: 1, Severity: scorecard.Critical, Fix: fixSecretMount},
		{ID: "SS-P1-slack-webhook", Kind: "Slack webhook URL", Keywords: []string{"hooks.slack.com"},
			Re:       regexp.MustCompile(`https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9+/_-]{30,}`),
			Severity: scorecard.High, Fix: fixSecretMount},
		{ID: "SS-P1-stripe-key", Kind: "Stripe secret key", Keywords: []string{"sk_live_", "rk_live_"},
			Re:    regexp.MustCompile(`\b((?:sk|rk)_live_[0-9A-Za-z]{20,247})\b`),
			Group: 1, Severity: scorecard.Critical, Fix: fixSecretMount},
		{ID: "SS-P1-npm-token", Kind: "npm access token", Keywords: []string{"npm_"},
			Re:    regexp.MustCompile(`\b(npm_[A-Za-z0-9]{36})\b`),
			Group: 1, Severity: scorecard.Critical, Fix: fixSecretMount},
		{ID: "SS-P1-npmrc-auth", Kind: "npm registry credential (.npmrc)", Keywords: []string{"_authtoken", "_auth", "_password"},
			Re:    regexp.MustCompile(`(?m)(?:_authToken|_auth|_password)\s*=\s*"?([^\s"$]{8,})`),
			Group: 1, Severity: scorecard.Critical, Paths: pathSuffix(".npmrc"), Fix: fixSecretMount},
		{ID: "SS-P1-pypi-token", Kind: "PyPI upload token", Keywords: []string{"pypi-ageichlwas5vcmc"},
			Re:    regexp.MustCompile(`\b(pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,})`),
			Group: 1, Severity: scorecard.Critical, Fix: fixSecretMount},
		{ID: "SS-P1-dockerhub-pat", Kind: "Docker Hub access token", Keywords: []string{"dckr_pat_", "dckr_oat_"},
			Re:    regexp.MustCompile(`\b(dckr_(?:pat|oat)_[A-Za-z0-9_-]{27,})`),
			Group: 1, Severity: scorecard.Critical, Fix: fixSecretMount},
		{ID: "SS-P1-docker-config-auth", Kind: "registry credential (docker config.json)", Keywords: []string{"\"auth\""},
			Re:    regexp.MustCompile(`"auth"\s*:\s*"([A-Za-z0-9+/]{8,}={0,2})"`),
			Group: 1, Severity: scorecard.Critical, Paths: pathSuffix("/config.json", "/.dockercfg"), Fix: fixSecretMount},
		{ID: "SS-P1-twilio-key", Kind: "Twilio API key", Keywords: []string{"twilio"},
			Re:    regexp.MustCompile(`(?i)twilio[\s\S]{0,200}?\b(SK[0-9a-f]{32})\b`),
			Group: 1, Severity: scorecard.High, Fix: fixSecretMount},
		{ID: "SS-P1-sendgrid-key", Kind: "SendGrid API key", Keywords: []string{"SG."}, CaseSensitive: true,
			Re:    regexp.MustCompile(`\b(SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43})\b`),
			Group: 1, Severity: scorecard.Critical, Fix: fixSecretMount},
	}
	rules = append(rules, formatRules()...)
	return append(rules, []*Rule{
		{ID: "SS-P1-url-credentials", Kind: "URL with user:password", Keywords: []string{"://"}, Near: nearUserinfo,
			Re:    regexp.MustCompile(`\b([a-zA-Z][a-zA-Z0-9+.-]{1,20})://([^:/\s@"'<>()\[\]{}]{1,64}):([^@\s/"'<>(){}]{3,128})@[A-Za-z0-9.-]+`),
			Group: 3, Severity: scorecard.High, MinEntropy: 2.0, Fix: fixSecretMount},
		{ID: "SS-P1-aws-credentials-file", Kind: "AWS credentials file", Keywords: []string{"aws_secret_access_key"},
			Re:    regexp.MustCompile(`(?im)^\s*aws_secret_access_key\s*=\s*(\S{16,})`),
			Group: 1, Severity: scorecard.Critical, Paths: pathSuffix("/.aws/credentials", "/.aws/config"), Fix: fixSecretMount},
		{ID: "SS-P1-kubeconfig", Kind: "Kubernetes credential (kubeconfig)", Keywords: []string{"token:", "client-key-data:", "password:"},
			Re:    regexp.MustCompile(`(?m)^\s*(?:token|client-key-data|password):\s*["']?([^\s"']{16,})`),
			Group: 1, Severity: scorecard.Critical, Paths: isKubeconfig, Fix: fixSecretMount},
		{ID: "SS-P1-netrc", Kind: "netrc password", Keywords: []string{"password"},
			Re:    regexp.MustCompile(`(?m)\bpassword\s+(\S{4,})`),
			Group: 1, Severity: scorecard.High, Paths: pathSuffix("/.netrc", "/_netrc"), Fix: fixSecretMount},
		{ID: "SS-P1-pypirc", Kind: "PyPI credential (.pypirc)", Keywords: []string{"password"},
			Re:    regexp.MustCompile(`(?m)^\s*password\s*[:=]\s*(\S{4,})`),
			Group: 1, Severity: scorecard.High, Paths: pathSuffix("/.pypirc"), Fix: fixSecretMount},
		{ID: "SS-P1-jwt", Kind: "JSON web token", Keywords: []string{"eyJ"}, CaseSensitive: true,
			Re:    regexp.MustCompile(`\b(eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{16,})`),
			Group: 1, Severity: scorecard.Medium, Fix: fixSecretMount},
		{ID: "SS-P1-generic-assignment", Kind: "password or token assignment", Keywords: []string{"pass", "pwd", "secret", "token", "key", "credential"}, Near: nearAssignment, Find: findAssignment,
			Re:    regexp.MustCompile(`(?im)(?:^|[\s"'{,;])(?:export\s+)?([a-z0-9_.-]{0,40}(?:password|passwd|pwd|secret|token|api[_.-]?key|apikey|access[_.-]?key|auth[_.-]?key|private[_.-]?key|client[_.-]?secret|credentials?))["']?\s*(?::=|=|:)\s*["']?([^\s"';,)}\]]{8,200})`),
			Group: 2, Severity: scorecard.Medium, MinEntropy: 3.0, Paths: isUserConfigFile, Fix: fixSecretMount},
	}...)
}

func isKubeconfig(p string) bool {
	return strings.HasSuffix(p, "/.kube/config") || strings.HasSuffix(p, "kubeconfig") || strings.HasSuffix(p, ".kubeconfig") || strings.HasPrefix(p, "/etc/kubernetes/")
}

// isPlaceholder reports whether v looks like a documentation value rather
// than a credential.
func isPlaceholder(v string) bool {
	l := strings.ToLower(v)
	for _, w := range placeholderW {
		if strings.Contains(l, w) {
			return true
		}
	}
	// One repeated character, or a variable reference.
	if strings.Trim(l, l[:1]) == "" || strings.HasPrefix(v, "$") || strings.HasPrefix(v, "%") {
		return true
	}
	return false
}

// entropy is the Shannon entropy of s in bits per byte.
func entropy(s string) float64 {
	if s == "" {
		return 0
	}
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	n := float64(len(s))
	var h float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * log2(p)
		}
	}
	return h
}
