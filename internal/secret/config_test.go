package secret

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/image"
)

func TestConfigSecrets(t *testing.T) {
	s := newFakeSecrets(t, 21)
	in := &analyze.Input{Image: &image.Image{
		Config: &v1.ConfigFile{
			Config: v1.Config{
				Env: []string{
					"PATH=/bin",
					"DB_PASSWORD=Zq8-vT3kLm9x",         // by name
					"DB_PASSWORD_FILE=/run/secrets/db", // a pointer to a secret
					"API_TOKEN=changeme",               // a default: low confidence
					"SLACK=" + s.Slack,                 // by content
				},
				Labels: map[string]string{"maintainer": "ops@example.com", "deploy.key": s.Stripe},
			},
			History: []v1.History{
				{CreatedBy: "/bin/sh -c #(nop) ADD file:x in /"},
				{CreatedBy: "RUN |2 PIP_INDEX_URL=https://ci:Xk29fjQ0pLm@pypi.internal/simple VERSION=1 /bin/sh -c pip install app # buildkit"},
				{CreatedBy: "|1 GH_PAT=" + s.GitHub + " /bin/sh -c make", EmptyLayer: true},
				{CreatedBy: "/bin/sh -c #(nop)  ENV SLACK=" + s.Slack, EmptyLayer: true},
			},
		},
		Manifest: &v1.Manifest{Annotations: map[string]string{"org.example.token": s.GitLab, "org.opencontainers.image.title": "app"}},
	}}
	got := map[string]string{}
	for _, cs := range NewDetector(Rules()).FindConfigSecrets(ConfigValues(in)) {
		got[cs.Field] = cs.Rule.ID + "=" + cs.Match.Value
		if cs.Field == "Env[3]" && (!cs.Match.Default || cs.Match.Confidence != Low) {
			t.Errorf("default value: confidence %q default %v", cs.Match.Confidence, cs.Match.Default)
		}
	}
	want := map[string]string{
		"Env[1]":                               "SS-P1-config-secret=Zq8-vT3kLm9x",
		"Env[3]":                               "SS-P1-config-secret=changeme",
		"Env[4]":                               "SS-P1-slack-token=" + s.Slack,
		`Labels["deploy.key"]`:                 "SS-P1-stripe-key=" + s.Stripe,
		`History[1].buildArg["PIP_INDEX_URL"]`: "SS-P1-url-credentials=Xk29fjQ0pLm",
		`History[1]`:                           "SS-P1-url-credentials=Xk29fjQ0pLm",
		`History[2].buildArg["GH_PAT"]`:        "SS-P1-github-token=" + s.GitHub,
		`History[2]`:                           "SS-P1-github-token=" + s.GitHub,
		`History[3]`:                           "SS-P1-slack-token=" + s.Slack,
		`Annotations["org.example.token"]`:     "SS-P1-gitlab-token=" + s.GitLab,
	}
	for f, w := range want {
		if got[f] != w {
			t.Errorf("%s: got %q, want %q", f, got[f], w)
		}
	}
	for f, g := range got {
		if _, ok := want[f]; !ok {
			t.Errorf("unexpected %s: %s", f, g)
		}
	}
}

func TestProvenanceBuildArgs(t *testing.T) {
	s := newFakeSecrets(t, 22)
	for _, statement := range []string{
		`{"predicateType":"https://slsa.dev/provenance/v0.2","predicate":{"invocation":{"parameters":{"frontend":"dockerfile.v0","args":{"build-arg:NPM_TOKEN":"` + s.GitHub + `","build-arg:VERSION":"1.2","target":"app"}}}}}`,
		`{"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"externalParameters":{"request":{"args":{"build-arg:NPM_TOKEN":"` + s.GitHub + `"}}}}}}`,
	} {
		in := &analyze.Input{Image: &image.Image{Config: &v1.ConfigFile{}, Provenance: []byte(statement)}}
		found := NewDetector(Rules()).FindConfigSecrets(ConfigValues(in))
		if len(found) != 1 || found[0].Field != `Provenance.args["build-arg:NPM_TOKEN"]` || !found[0].BuildArg || found[0].Name != "NPM_TOKEN" {
			t.Errorf("%.60s…: found %+v", statement, found)
		}
	}
	in := &analyze.Input{Image: &image.Image{Config: &v1.ConfigFile{}, Provenance: []byte(`{"predicate": 12`)}}
	if found := NewDetector(Rules()).FindConfigSecrets(ConfigValues(in)); len(found) != 0 {
		t.Errorf("malformed provenance: %+v", found)
	}
}

// TestLintAndConfigAgree: one judgement for a named value, whether the
// Dockerfile lint sees it in ENV/ARG or P1 in the image config.
func TestLintAndConfigAgree(t *testing.T) {
	s := newFakeSecrets(t, 33)
	lint := NewDockerfileDetector()
	det := NewDetector(Rules())
	tests := []struct {
		name, value string
		secret      bool
		byValue     bool
	}{
		{"AWS_KEY_ID", s.AWSKeyID, true, true},
		// The prefixes the lint's own copy did not know (ABIA, ACCA).
		{"X", "ABIA" + s.AWSKeyID[4:], true, true},
		{"X", "ACCA" + s.AWSKeyID[4:], true, true},
		{"STRIPE", s.Stripe, true, true},
		{"GITLAB", s.GitLab, true, true},
		{"SENDGRID", s.SendGrid, true, true},
		{"DATABASE_URL", "postgres://app:Xk29fjQ0pLm@db:5432/app", true, true},
		{"DB_PASSWORD", "Zq8-vT3kLm9x", true, false},
		{"API_TOKEN", "changeme", true, false},
		{"smtp_pass", "Mq7vL2pXz", true, false},
		{"DB_PASSWORD_FILE", "/run/secrets/db", false, false},
		{"TOKEN_URL", "https://auth.internal/token", false, false},
		{"AUTH_ENABLED", "true", false, false},
		{"SECRET_KEY_BASE", "${SECRET_KEY_BASE}", false, false},
		{"PORT", "8080", false, false},
		{"PATH", "/usr/local/bin:/usr/bin", false, false},
		{"GPG_KEY", "A035C8C19219BA821ECEA86B64E628F8D684696D", false, false},
		{"APP_VERSION", "1.2.3", false, false},
	}
	for _, tt := range tests {
		kind, byValue := lint.Detect(tt.name, tt.value)
		v := det.Judge(tt.name, tt.value)
		cfg := det.FindConfigSecrets([]ConfigValue{{Field: "Env[0]", Name: tt.name, Value: tt.value, History: -1}})
		if (kind != "") != tt.secret || byValue != tt.byValue {
			t.Errorf("lint %s=%s: %q byValue=%v, want secret=%v byValue=%v", tt.name, tt.value, kind, byValue, tt.secret, tt.byValue)
		}
		if v.Secret() != tt.secret || v.ByValue != tt.byValue || (len(cfg) > 0) != tt.secret {
			t.Errorf("config %s=%s: verdict %v byValue=%v, %d findings; want secret=%v byValue=%v", tt.name, tt.value, v.Secret(), v.ByValue, len(cfg), tt.secret, tt.byValue)
		}
		if tt.byValue && (len(cfg) == 0 || cfg[0].Rule.Kind != kind) {
			t.Errorf("%s=%s: lint kind %q, config %v", tt.name, tt.value, kind, cfg)
		}
	}
}
