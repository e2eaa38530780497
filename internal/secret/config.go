package secret

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// ConfigValue is one value from the image config or history that may hold
// a secret.
type ConfigValue struct {
	// Field names the location: Env[2], Labels["k"], History[4],
	// History[4].buildArg["NPM_TOKEN"], Annotations["k"].
	Field string
	// Name is the variable, label or build-arg name ("" for free text).
	Name  string
	Value string
	// Layer is the layer the history entry made (0: none).
	Layer int
	// History is the index into the config history (-1: not history).
	History int
	// BuildArg is set for a build-arg recorded by BuildKit.
	BuildArg bool
	// Provenance is set for a value from the provenance attestation.
	Provenance bool
}

// reBuildKitArgs matches BuildKit's record of build-args in a RUN line:
// "RUN |2 A=1 B=2 /bin/sh -c …".
var reBuildKitArgs = regexp.MustCompile(`^(?:RUN )?\|(\d+) `)

// ParseBuildArgs returns the build-args BuildKit recorded in a history
// line, in order, and the byte ranges of their values.
func ParseBuildArgs(line string) (names, values []string, spans [][2]int) {
	m := reBuildKitArgs.FindStringSubmatchIndex(line)
	if m == nil {
		return nil, nil, nil
	}
	n, err := strconv.Atoi(line[m[2]:m[3]])
	if err != nil || n <= 0 || n > 1000 {
		return nil, nil, nil
	}
	pos := m[1]
	for i := 0; i < n && pos < len(line); i++ {
		end := strings.IndexByte(line[pos:], ' ')
		if end < 0 {
			end = len(line) - pos
		}
		tok := line[pos : pos+end]
		k, v, ok := strings.Cut(tok, "=")
		if !ok {
			break
		}
		vs := pos + len(k) + 1
		names = append(names, k)
		values = append(values, v)
		spans = append(spans, [2]int{vs, vs + len(v)})
		pos += end + 1
	}
	return names, values, spans
}

// ConfigValues lists the values of the image config that are checked for
// secrets.
func ConfigValues(in *analyze.Input) []ConfigValue {
	var vs []ConfigValue
	cfg := in.Image.Config
	if cfg == nil {
		return nil
	}
	for i, kv := range cfg.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		vs = append(vs, ConfigValue{Field: fmt.Sprintf("Env[%d]", i), Name: k, Value: v, History: -1})
	}
	keys := make([]string, 0, len(cfg.Config.Labels))
	for k := range cfg.Config.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		vs = append(vs, ConfigValue{Field: fmt.Sprintf("Labels[%q]", k), Name: k, Value: cfg.Config.Labels[k], History: -1})
	}
	for _, h := range in.Image.History() {
		i, l := h.Index, h.Layer
		names, values, _ := ParseBuildArgs(h.CreatedBy)
		for j := range names {
			vs = append(vs, ConfigValue{Field: fmt.Sprintf("History[%d].buildArg[%q]", i, names[j]), Name: names[j], Value: values[j], Layer: l, History: i, BuildArg: true})
		}
		vs = append(vs, ConfigValue{Field: fmt.Sprintf("History[%d]", i), Value: h.CreatedBy, Layer: l, History: i})
	}
	if in.Image.Manifest != nil {
		akeys := make([]string, 0, len(in.Image.Manifest.Annotations))
		for k := range in.Image.Manifest.Annotations {
			akeys = append(akeys, k)
		}
		sort.Strings(akeys)
		for _, k := range akeys {
			vs = append(vs, ConfigValue{Field: fmt.Sprintf("Annotations[%q]", k), Name: k, Value: in.Image.Manifest.Annotations[k], History: -1})
		}
	}
	return append(vs, provenanceValues(in.Image.Provenance)...)
}

// provenanceValues lists the build arguments that a BuildKit provenance
// attestation records (SLSA v0.2: predicate.invocation.parameters.args; v1:
// predicate.buildDefinition.externalParameters.request.args). In max mode
// they hold every --build-arg value, secrets included.
func provenanceValues(statement []byte) []ConfigValue {
	if len(statement) == 0 {
		return nil
	}
	var st struct {
		Predicate struct {
			Invocation struct {
				Parameters struct {
					Args map[string]string `json:"args"`
				} `json:"parameters"`
			} `json:"invocation"`
			BuildDefinition struct {
				ExternalParameters struct {
					Request struct {
						Args map[string]string `json:"args"`
					} `json:"request"`
				} `json:"externalParameters"`
			} `json:"buildDefinition"`
		} `json:"predicate"`
	}
	if json.Unmarshal(statement, &st) != nil {
		return nil // a malformed attestation is left out, never fatal
	}
	var vs []ConfigValue
	for _, args := range []map[string]string{st.Predicate.Invocation.Parameters.Args, st.Predicate.BuildDefinition.ExternalParameters.Request.Args} {
		keys := make([]string, 0, len(args))
		for k := range args {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			name, isArg := strings.CutPrefix(k, "build-arg:")
			vs = append(vs, ConfigValue{Field: fmt.Sprintf("Provenance.args[%q]", k), Name: name, Value: args[k], History: -1, BuildArg: isArg, Provenance: true})
		}
	}
	return vs
}

// ConfigSecret is a secret found in a config value.
type ConfigSecret struct {
	ConfigValue
	Rule  *Rule
	Match Match
}

// ruleEnvSecret reports a credential-named variable with a credential-like
// value that no specific rule recognised.
var ruleEnvSecret = &Rule{ID: "SS-P1-config-secret", Kind: "credential in image config", Severity: scorecard.High, MinEntropy: 3.0, Fix: fixRuntime}

// FindConfigSecrets checks config values with the detector's rules and by
// name.
func (d *Detector) FindConfigSecrets(vals []ConfigValue) []ConfigSecret {
	var out []ConfigSecret
	for _, v := range vals {
		if v.Value == "" {
			continue
		}
		// The same judgement as the Dockerfile lint's (Judge).
		ms := d.judge(v.Name, v.Value)
		// Free-text history lines: generic assignments too ("ENV A_TOKEN=…").
		if v.Name == "" {
			ms = append(ms, genericInLine(d, v.Value)...)
		}
		for _, m := range ms {
			out = append(out, ConfigSecret{ConfigValue: v, Rule: m.Rule, Match: m})
		}
	}
	return out
}

var genericRule = func() *Rule {
	for _, r := range Rules() {
		if r.ID == "SS-P1-generic-assignment" {
			r.Paths = nil
			return r
		}
	}
	panic("no generic rule")
}()

func genericInLine(d *Detector, line string) []Match {
	var out []Match
	for _, loc := range genericRule.Re.FindAllStringSubmatchIndex(line, -1) {
		name := line[loc[2]:loc[3]]
		v := line[loc[4]:loc[5]]
		if !SecretName(name) || isPlaceholder(v) || entropy(v) < genericRule.MinEntropy || strings.ContainsAny(v, "()[]{}$%\\") {
			continue
		}
		// Already found by a specific rule?
		if len(d.ScanBytes([]byte(v), "")) > 0 {
			continue
		}
		out = append(out, Match{Rule: ruleEnvSecret, Value: v, Offset: int64(loc[4])})
	}
	return out
}

// configFindings reports the secrets of the image config and history, and
// the values that the scan must redact wherever they appear (nil when
// secrets are shown).
func (a *Analyzer) configFindings(in *analyze.Input) ([]scorecard.Finding, []string) {
	var out []scorecard.Finding
	seen, defaults := map[string]bool{}, map[string]bool{}
	for _, cs := range a.detector().FindConfigSecrets(ConfigValues(in)) {
		// A build-arg is also in its history line: report it once, as
		// the build-arg.
		// The same value is often in Env and in the ENV history line, or in
		// a build-arg and its RUN line: report a history line only for
		// values not already reported.
		if (cs.History >= 0 || cs.Provenance) && seen[cs.Match.Value] {
			continue
		}
		seen[cs.Match.Value] = true
		if cs.Match.Default {
			// A well-known default ("admin") is no secret to hide, and
			// hiding it would garble ordinary text.
			defaults[cs.Match.Value] = true
		}
		r := cs.Rule
		sev := r.Severity
		if sev.Rank() < scorecard.High.Rank() && cs.Rule != ruleEnvSecret {
			sev = scorecard.Medium
		}
		switch cs.Match.Confidence {
		case Medium:
			if sev.Rank() > scorecard.Medium.Rank() {
				sev = scorecard.Medium
			}
		case Low:
			sev = scorecard.Low
		}
		kind := r.Kind
		if cs.Match.Default {
			kind += " (looks like a default value)"
		}
		where := cs.Field
		fix := fixRuntime
		switch {
		case cs.BuildArg && cs.Provenance:
			kind = fmt.Sprintf("%s in build-arg %s (provenance attestation)", r.Kind, cs.Name)
			fix = "BuildKit's provenance attestation (mode=max) records every build-arg value. Pass the secret with `RUN --mount=type=secret,id=" + strings.ToLower(cs.Name) + " …` instead of --build-arg, or build with --provenance=mode=min."
		case cs.BuildArg:
			kind = fmt.Sprintf("%s in build-arg %s", r.Kind, cs.Name)
			fix = "Build-arg values are recorded in the image history. Pass the secret with `RUN --mount=type=secret,id=" + strings.ToLower(cs.Name) + " …` and `docker build --secret id=" + strings.ToLower(cs.Name) + ",env=" + cs.Name + "` instead of --build-arg."
		case strings.HasPrefix(cs.Field, "Env"):
			kind = fmt.Sprintf("%s in ENV %s", r.Kind, cs.Name)
		case strings.HasPrefix(cs.Field, "Labels"):
			kind = fmt.Sprintf("%s in LABEL %s", r.Kind, cs.Name)
		case strings.HasPrefix(cs.Field, "Annotations"):
			kind = fmt.Sprintf("%s in annotation %s", r.Kind, cs.Name)
		case cs.History >= 0:
			kind = fmt.Sprintf("%s in a build instruction", r.Kind)
			fix = "The instruction is recorded in the image history. " + fixSecretMount
		}
		enc := cs.Match.Encrypted
		if enc {
			sev = scorecard.Medium
		}
		f := scorecard.Finding{
			Practice:    scorecard.P1,
			Rule:        r.ID,
			Severity:    sev,
			Title:       fmt.Sprintf("%s (%s)", capitalize(strings.Replace(kind, r.Kind, r.Kind+titleValue(r, Redact(cs.Match.Value)), 1)), where),
			Description: "The image config is published with the image: every value in it is readable by anyone who can pull it (docker inspect, docker history).",
			Field:       cs.Field,
			Evidence: map[string]any{
				"kind":       kind,
				"secret":     Redact(cs.Match.Value),
				"class":      ClassConfig,
				"confidence": confidenceOf(cs.Match),
				"secretHash": cs.Match.Hash(),
			},
			Fix:         fix + " " + rotate,
			Fingerprint: fingerprint(r.ID, cs.Field, cs.Match.Hash()),
		}
		if cs.Name != "" {
			f.Evidence["name"] = cs.Name
		}
		if a.ShowSecrets {
			f.Evidence["secret"] = cs.Match.Value
		}
		if cs.Layer > 0 {
			in.LocateLayer(&f, cs.Layer)
		}
		if cs.History >= 0 && cs.Layer == 0 && in.Image.Config != nil {
			f.CreatedBy = in.Image.Config.History[cs.History].CreatedBy
		}
		out = append(out, f)
	}
	if a.ShowSecrets {
		return out, nil
	}
	// History lines are evidence in every finding and in the report's
	// layer list: the scan redacts the values they carry (analyze.Run,
	// redact.Set); the image itself is left as it is.
	secrets := make([]string, 0, len(seen))
	for v := range seen {
		if !defaults[v] {
			secrets = append(secrets, v)
		}
	}
	sort.Strings(secrets)
	return out, secrets
}

// confidenceOf is a config match's confidence: high unless the judgement
// said otherwise.
func confidenceOf(m Match) string {
	if m.Confidence != "" {
		return string(m.Confidence)
	}
	return string(High)
}
