package trust

import (
	"testing"
)

// Garbage attached to an image is refused with a reason, never a panic.
func TestHostileAttachments(t *testing.T) {
	key := keySigner(t, newKey(t, "p256"))
	keyless := &Signer{Identity: "a", Issuer: "b"}
	const digest = "sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b"
	for _, kind := range []string{KindBundle, KindCosignSignature, KindCosignAttestation, KindNotation, KindOther, "unknown"} {
		for _, data := range [][]byte{nil, []byte("{"), []byte(`{"dsseEnvelope":{"payload":"!!"}}`), []byte(`{"critical":{"type":"cosign container image signature","image":{"docker-manifest-digest":"` + digest + `"}}}`), []byte(`{"payloadType":"x","payload":"e30=","signatures":[{"sig":"AAAA"}]}`)} {
			for _, s := range []*Signer{key, keyless, {Notation: &NotationSigner{}}} {
				f := &Found{Kind: kind, Subject: digest, data: data, annotations: map[string]string{annCosignSignature: "AAAA", annCosignCertificate: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", annCosignRekorBundle: "{"}}
				c := Verify(f, s)
				if c.Verified || c.Reason == "" {
					t.Errorf("%s %q with %s: verified=%v reason %q", kind, data, s, c.Verified, c.Reason)
				}
			}
		}
	}
	if c := Verify(&Found{Kind: KindBundle, Subject: "md5:abc"}, key); c.Verified {
		t.Error("a non-sha256 subject verified")
	}
}
