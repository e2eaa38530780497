package secret

// DockerfileDetector lets the Dockerfile lint judge ARG and ENV values
// exactly as P1 judges the image config (Detector.Judge): it implements
// dockerfile.SecretDetector.
type DockerfileDetector struct {
	det *Detector
}

// NewDockerfileDetector returns a detector with the built-in rules.
func NewDockerfileDetector() *DockerfileDetector {
	return &DockerfileDetector{det: NewDetector(Rules())}
}

// Detect implements dockerfile.SecretDetector: the kind of secret name=value
// holds ("" when none) and whether the value itself was recognised. A name
// that says it holds a secret, without a value (ARG NPM_TOKEN), is a secret
// by name: its value will come from the build and land in the history.
func (d *DockerfileDetector) Detect(name, value string) (string, bool) {
	if v := d.det.Judge(name, value); v.Secret() {
		if v.ByValue {
			return v.Rule.Kind, true
		}
		return "secret-name", false
	}
	if value == "" && SecretName(name) {
		return "secret-name", false
	}
	return "", false
}
