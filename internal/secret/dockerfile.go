package secret

import "github.com/shipshape-dev/shipshape/internal/dockerfile"

// DockerfileDetector lets the Dockerfile rules judge ARG and ENV values with
// the P1 content rules: a value that matches one is a secret by value; a
// name that says it holds a secret is judged by the fallback's name rules.
type DockerfileDetector struct {
	det      *Detector
	fallback dockerfile.NameValueDetector
}

// NewDockerfileDetector returns a detector with the built-in rules.
func NewDockerfileDetector() *DockerfileDetector {
	return &DockerfileDetector{det: NewDetector(Rules())}
}

// Detect implements dockerfile.SecretDetector.
func (d *DockerfileDetector) Detect(name, value string) (string, bool) {
	if value != "" {
		// Config values are scanned as "NAME=value" lines, as in an .env
		// file, so that assignment rules see the name too.
		for _, m := range d.det.ScanBytes([]byte(name+"="+value+"\n"), "Dockerfile") {
			if m.Rule.Paths == nil {
				return m.Rule.Kind, true
			}
		}
	}
	return d.fallback.Detect(name, value)
}
