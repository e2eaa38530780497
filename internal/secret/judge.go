package secret

import (
	"regexp"
	"strings"
)

// Verdict is P1's judgement of a named value: a variable, label, build-arg
// or Dockerfile ARG/ENV.
type Verdict struct {
	// Rule is the rule that recognised it (nil: not a secret).
	Rule *Rule
	// Match is the secret found (its Value, Confidence, Default).
	Match Match
	// ByValue is set when a content rule recognised the value itself (a
	// token with a known shape); otherwise the name says it is a secret
	// and the value looks like a credential.
	ByValue bool
}

// Secret reports whether the verdict found a secret.
func (v Verdict) Secret() bool { return v.Rule != nil }

// reNotSecretValue matches values that a credential-named variable holds
// when it does not hold the credential: a path, a URL without a password,
// a boolean, a number.
var reNotSecretValue = regexp.MustCompile(`^(?:/|\./|~/|https?://[^:@/\s]+(?:[:/]|$)|(?i:true|false|yes|no|on|off)$|[0-9]+$)`)

// Judge judges name=value as every P1 check does — the image config, the
// history's build-args and the Dockerfile lint: a value a content rule
// recognises is a secret by value; a value under a SecretName name is one
// when it is a value (not a reference, path, URL, boolean or number; weak
// defaults at low confidence). An empty value is never a secret.
func (d *Detector) Judge(name, value string) Verdict {
	ms := d.judge(name, value)
	if len(ms) == 0 {
		return Verdict{}
	}
	return Verdict{Rule: ms[0].Rule, Match: ms[0], ByValue: ms[0].Rule != ruleEnvSecret}
}

// judge returns every secret in name=value (Judge's first one decides).
func (d *Detector) judge(name, value string) []Match {
	if value == "" {
		return nil
	}
	text := value
	if name != "" {
		// With its name, so that rules needing context (AWS_SECRET…=) work.
		text = name + "=" + value
	}
	var out []Match
	for _, m := range d.ScanBytes([]byte(text), "") {
		if m.Rule.Paths == nil {
			out = append(out, m)
		}
	}
	if len(out) > 0 || name == "" || !SecretName(name) {
		return out
	}
	v := strings.TrimSpace(value)
	if reNotSecretValue.MatchString(v) || strings.ContainsAny(v, " \t\n") || strings.ContainsAny(v, "()[]{}$%\\") && !strings.HasPrefix(v, "base64:") {
		return nil
	}
	c, dflt, ok := judge(v)
	if !ok {
		return nil
	}
	return []Match{{Rule: ruleEnvSecret, Value: v, Confidence: c, Default: dflt}}
}
