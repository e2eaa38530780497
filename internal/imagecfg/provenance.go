package imagecfg

import (
	"encoding/json"
	"net/url"
	"strings"
)

// Material is one build input named by a provenance attestation.
type Material struct {
	URI string `json:"uri"`
	// Ref is the image reference the material names ("alpine:3.20@sha256:…").
	Ref string `json:"ref,omitempty"`
	// Frontend is set for BuildKit's Dockerfile frontend image, which is a
	// build tool, not a base.
	Frontend bool `json:"frontend,omitempty"`
}

// provenanceMaterials reads the container images a SLSA provenance
// statement (v0.2 materials or v1 resolvedDependencies) lists as inputs.
func provenanceMaterials(b []byte) []Material {
	var st struct {
		Predicate struct {
			Materials []struct {
				URI    string            `json:"uri"`
				Digest map[string]string `json:"digest"`
			} `json:"materials"`
			BuildDefinition struct {
				ResolvedDependencies []struct {
					URI    string            `json:"uri"`
					Digest map[string]string `json:"digest"`
				} `json:"resolvedDependencies"`
			} `json:"buildDefinition"`
		} `json:"predicate"`
	}
	if json.Unmarshal(b, &st) != nil {
		return nil
	}
	deps := st.Predicate.Materials
	for _, d := range st.Predicate.BuildDefinition.ResolvedDependencies {
		deps = append(deps, struct {
			URI    string            `json:"uri"`
			Digest map[string]string `json:"digest"`
		}(d))
	}
	var out []Material
	for _, d := range deps {
		ref, ok := dockerPURL(d.URI, d.Digest["sha256"])
		if !ok {
			continue
		}
		out = append(out, Material{URI: d.URI, Ref: ref, Frontend: strings.Contains(ref, "docker/dockerfile")})
	}
	return out
}

// dockerPURL turns "pkg:docker/alpine@3.20?platform=linux%2Famd64" (or
// "pkg:docker/ghcr.io/org/img@v1") into an image reference.
func dockerPURL(uri, sha string) (string, bool) {
	rest, ok := strings.CutPrefix(uri, "pkg:docker/")
	if !ok {
		return "", false
	}
	rest, _, _ = strings.Cut(rest, "#")
	rest, _, _ = strings.Cut(rest, "?")
	name, version, _ := strings.Cut(rest, "@")
	if n, err := url.PathUnescape(name); err == nil {
		name = n
	}
	if v, err := url.PathUnescape(version); err == nil {
		version = v
	}
	if name == "" {
		return "", false
	}
	ref := name
	switch {
	case strings.HasPrefix(version, "sha256:"):
		ref += "@" + version
	case version != "":
		ref += ":" + version
	}
	if len(sha) == 64 && strings.Trim(sha, "0123456789abcdef") == "" && !strings.Contains(ref, "@") {
		ref += "@sha256:" + sha
	}
	return ref, true
}
