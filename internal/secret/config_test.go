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
					"API_TOKEN=changeme",               // placeholder
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
	}
	want := map[string]string{
		"Env[1]":                               "SS-P1-config-secret=Zq8-vT3kLm9x",
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
