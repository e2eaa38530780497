package testenv

import "testing"

// CosignVersion is the cosign release .ci/run installs with go install.
const CosignVersion = "v3.1.3"

// Cosign returns the path of the cosign CLI (see [GoTool]). A missing
// cosign is handled by [Require].
func Cosign(t testing.TB) string {
	t.Helper()
	return GoTool(t, "cosign", "go install github.com/sigstore/cosign/v3/cmd/cosign@"+CosignVersion)
}
