package secret_test

import (
	"slices"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/secret"
)

// TestValueFinder: the rules stderr and the server's error messages pass
// through find a token in a line and leave the lines shipshape ordinarily
// writes alone — digests,
// cache keys, log attributes, progress bars — so that redaction does not
// garble errors and logs.
func TestValueFinder(t *testing.T) {
	find := secret.ValueFinder()
	const token = "ghp_R8kX2vQ9mL4zT7bN1wS5yU3eO6aD0fC2gH8j"
	if got := find([]byte(`shipshape: registry reference "ci:` + token + `@127.0.0.1:1/app:1": could not parse reference` + "\n")); !slices.Equal(got, []string{token}) {
		t.Errorf("a token in an error: found %q", got)
	}
	for _, line := range []string{
		"shipshape: layer 2 (sha256:dd569c59f4914cd73db2b4a939ab93b78b0e48e1b861cb84858bc0cbab17d55a): digest mismatch: the manifest says sha256:0eac17e74eeb15e0000fd5b9136a45a97eb9988afb2bc66991aa64a5e81ebc05 but the blob hashes to sha256:8dc8a2734ed2383ca07fca7fabc735ade446b5ec06542739a8964563501e197b\n",
		`time=2026-12-01T01:59:59.612Z level=DEBUG msg="layer not in the cache" layer=2 key=8dc8a2734ed2383ca07fca7fabc735ade446b5ec06542739a8964563501e197b` + "\n",
		`time=2026-12-01T02:10:20.897Z level=DEBUG msg="scan finished" seconds=0.121550191 analyzers=imagecfg@3,inventory@7,own-code@2,secret@4/268435456/2097152` + "\n",
		`shipshape: image "docker://registry.example.com/team/app@sha256:76a496c539554b4579a8c92a1524c6e2567cbbce87fc6b4806b0e29ea3ee8c31": unauthorized: authentication required` + "\n",
		`time=2026-12-01T02:10:20.897Z level=WARN msg="could not cache layer result" layer=3 err="open /root/.cache/shipshape/layers/ab/abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789.tmp-123456: permission denied"` + "\n",
		"layer  2 655.1 MiB / 655.1 MiB [======================================] done\r\n",
		`{"time":"2026-12-01T02:10:20.897Z","level":"INFO","msg":"scan","id":"6f1c2a0e-3b7d-4c55-9a61-2f0e8d4b7c13","image":"registry.example.com/team/app:1.4.2","status":202}` + "\n",
	} {
		if got := find([]byte(line)); len(got) > 0 {
			t.Errorf("%q: found %q", line, got)
		}
	}
}
