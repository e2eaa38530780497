package trust

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"github.com/sigstore/sigstore/pkg/signature"
	"google.golang.org/protobuf/encoding/protojson"
)

// Written says what Sign or Attest attached to the registry.
type Written struct {
	// Subject is the digest signed.
	Subject string
	// Manifest is the digest of the referrer manifest or of the legacy
	// tag's new manifest.
	Manifest string
	// Where is "referrers" or the legacy tag.
	Where string
}

// SignOptions tune Sign and Attest.
type SignOptions struct {
	// Key signs. Only key-based signing is supported: keyless signing
	// needs online Fulcio and Rekor.
	Key crypto.Signer
	// LegacyTags writes cosign's sha256-<hex>.sig / .att tags instead of
	// a Sigstore bundle referrer, for verifiers older than cosign v3.
	LegacyTags bool
	// Remote are the registry options (credentials, TLS).
	Remote []remote.Option
	// Now is the clock for the created annotation (nil: time.Now).
	Now func() time.Time
}

func (o SignOptions) now() time.Time {
	if o.Now == nil {
		return time.Now()
	}
	return o.Now()
}

// Sign signs the manifest digest d the way cosign v3 sign --key does: an
// in-toto statement with the cosign sign predicate, in a DSSE envelope, in
// a Sigstore bundle attached through the referrers API (or its tag schema).
// With LegacyTags it writes a simple-signing payload to sha256-<hex>.sig.
func Sign(ctx context.Context, d name.Digest, o SignOptions) (*Written, error) {
	if o.LegacyTags {
		return signLegacy(ctx, d, o)
	}
	return attachStatement(ctx, d, cosignSignPredicateType, json.RawMessage(`{}`), o)
}

// Attest attaches an in-toto attestation of predicateType with predicate
// (JSON) to d, signed with the key: a Sigstore bundle referrer, or a DSSE
// envelope in sha256-<hex>.att with LegacyTags.
func Attest(ctx context.Context, d name.Digest, predicateType string, predicate json.RawMessage, o SignOptions) (*Written, error) {
	if !json.Valid(predicate) {
		return nil, errors.New("attestation predicate is not JSON")
	}
	if o.LegacyTags {
		return attestLegacy(ctx, d, predicateType, predicate, o)
	}
	return attachStatement(ctx, d, predicateType, predicate, o)
}

func statementFor(d name.Digest, predicateType string, predicate json.RawMessage) ([]byte, error) {
	h, err := v1.NewHash(d.DigestStr())
	if err != nil {
		return nil, err
	}
	return json.Marshal(map[string]any{
		"_type":         "https://in-toto.io/Statement/v1",
		"subject":       []any{map[string]any{"name": d.Context().Name(), "digest": map[string]string{h.Algorithm: h.Hex}}},
		"predicateType": predicateType,
		"predicate":     predicate,
	})
}

func attachStatement(ctx context.Context, d name.Digest, predicateType string, predicate json.RawMessage, o SignOptions) (*Written, error) {
	st, err := statementFor(d, predicateType, predicate)
	if err != nil {
		return nil, err
	}
	kp, err := newKeypair(o.Key)
	if err != nil {
		return nil, err
	}
	sig, _, err := kp.SignData(ctx, pae(intotoMediaType, st))
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", d, err)
	}
	// The bundle sigstore-go's sign.Bundle builds for a key without
	// Fulcio or Rekor (that package would bring their clients along).
	pb := &protobundle.Bundle{
		MediaType: bundleV03MediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{PublicKey: &protocommon.PublicKeyIdentifier{Hint: string(kp.hint)}},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: st, PayloadType: intotoMediaType, Signatures: []*protodsse.Signature{{Sig: sig}},
		}},
	}
	bb, err := protojson.Marshal(pb)
	if err != nil {
		return nil, fmt.Errorf("sign %s: encode bundle: %w", d, err)
	}
	ann := map[string]string{
		"org.opencontainers.image.created": o.now().UTC().Format(time.RFC3339),
		annBundleContent:                   "dsse-envelope",
		annBundlePredicateType:             predicateType,
	}
	return writeReferrer(ctx, d, bundleV03MediaType, bundleV03MediaType, bb, ann, o.Remote)
}

// rawManifest is a manifest to PUT as it is.
type rawManifest struct {
	b  []byte
	mt types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.b, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// writeReferrer pushes an OCI 1.1 artifact manifest whose subject is d and
// whose one layer is blob. go-containerregistry updates the referrers tag
// schema (sha256-<hex>) when the registry has no referrers API.
func writeReferrer(ctx context.Context, d name.Digest, artifactType, layerMediaType string, blob []byte, ann map[string]string, ropts []remote.Option) (*Written, error) {
	opts := append(slices.Clip(ropts), remote.WithContext(ctx))
	repo := d.Context()
	subj, err := remote.Head(d, opts...)
	if err != nil {
		return nil, fmt.Errorf("subject %s: %w", d, err)
	}
	cfg := static.NewLayer([]byte("{}"), emptyConfigMediaType)
	layer := static.NewLayer(blob, types.MediaType(layerMediaType))
	for _, l := range []v1.Layer{cfg, layer} {
		if err := remote.WriteLayer(repo, l, opts...); err != nil {
			return nil, fmt.Errorf("upload to %s: %w", repo, err)
		}
	}
	cd, _ := cfg.Digest()
	ld, _ := layer.Digest()
	m := map[string]any{
		"schemaVersion": 2,
		"mediaType":     types.OCIManifestSchema1,
		"artifactType":  artifactType,
		"config":        v1.Descriptor{MediaType: emptyConfigMediaType, Digest: cd, Size: 2},
		"layers":        []v1.Descriptor{{MediaType: types.MediaType(layerMediaType), Digest: ld, Size: int64(len(blob))}},
		"subject":       v1.Descriptor{MediaType: subj.MediaType, Digest: subj.Digest, Size: subj.Size},
		"annotations":   ann,
	}
	mb, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	md, _, err := v1.SHA256(bytes.NewReader(mb))
	if err != nil {
		return nil, err
	}
	if err := remote.Put(repo.Digest(md.String()), rawManifest{mb, types.OCIManifestSchema1}, opts...); err != nil {
		return nil, fmt.Errorf("push referrer to %s: %w", repo, err)
	}
	return &Written{Subject: d.DigestStr(), Manifest: md.String(), Where: "referrers"}, nil
}

func signLegacy(ctx context.Context, d name.Digest, o SignOptions) (*Written, error) {
	payload, err := json.Marshal(map[string]any{
		"critical": map[string]any{
			"identity": map[string]string{"docker-reference": d.Context().Name()},
			"image":    map[string]string{"docker-manifest-digest": d.DigestStr()},
			"type":     "cosign container image signature",
		},
		"optional": nil,
	})
	if err != nil {
		return nil, err
	}
	s, err := signature.LoadDefaultSigner(o.Key)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	sig, err := s.SignMessage(bytes.NewReader(payload))
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", d, err)
	}
	l := static.NewLayer(payload, simpleSigningMediaType)
	return appendLegacy(ctx, d, ".sig", l, map[string]string{annCosignSignature: base64.StdEncoding.EncodeToString(sig)}, o.Remote)
}

func attestLegacy(ctx context.Context, d name.Digest, predicateType string, predicate json.RawMessage, o SignOptions) (*Written, error) {
	st, err := statementFor(d, predicateType, predicate)
	if err != nil {
		return nil, err
	}
	s, err := signature.LoadDefaultSigner(o.Key)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	sig, err := s.SignMessage(bytes.NewReader(pae(intotoMediaType, st)))
	if err != nil {
		return nil, fmt.Errorf("attest %s: %w", d, err)
	}
	env, err := json.Marshal(envelope{PayloadType: intotoMediaType, Payload: st, Signatures: []struct {
		KeyID string `json:"keyid"`
		Sig   []byte `json:"sig"`
	}{{Sig: sig}}})
	if err != nil {
		return nil, err
	}
	l := static.NewLayer(env, dsseMediaType)
	// cosign requires the (empty) signature annotation on .att layers too.
	return appendLegacy(ctx, d, ".att", l, map[string]string{annPredicateType: predicateType, annCosignSignature: ""}, o.Remote)
}

// appendLegacy adds a layer to cosign's legacy tag for d, creating it when
// missing.
func appendLegacy(ctx context.Context, d name.Digest, suffix string, l v1.Layer, ann map[string]string, ropts []remote.Option) (*Written, error) {
	opts := append(slices.Clip(ropts), remote.WithContext(ctx))
	h, err := v1.NewHash(d.DigestStr())
	if err != nil {
		return nil, err
	}
	tag := legacyTag(d.Context(), h, suffix)
	base, err := remote.Image(tag, opts...)
	if err != nil {
		var terr *transport.Error
		if !errors.As(err, &terr) || terr.StatusCode != 404 && !hasCode(terr, transport.ManifestUnknownErrorCode) {
			return nil, fmt.Errorf("tag %s: %w", tag, err)
		}
		base = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	}
	img, err := mutate.Append(base, mutate.Addendum{Layer: l, Annotations: ann})
	if err != nil {
		return nil, err
	}
	if err := remote.Write(tag, img, opts...); err != nil {
		return nil, fmt.Errorf("push %s: %w", tag, err)
	}
	md, err := img.Digest()
	if err != nil {
		return nil, err
	}
	return &Written{Subject: d.DigestStr(), Manifest: md.String(), Where: "tag " + tag.TagStr()}, nil
}

// keypair is a private key with the algorithm details a bundle records.
type keypair struct {
	s       signature.Signer
	pub     crypto.PublicKey
	hint    []byte
	alg     string
	hash    protocommon.HashAlgorithm
	details protocommon.PublicKeyDetails
}

func newKeypair(k crypto.Signer) (*keypair, error) {
	if k == nil {
		return nil, errors.New("no signing key")
	}
	pk, err := newPublicKey(k.Public())
	if err != nil {
		return nil, err
	}
	s, err := signature.LoadDefaultSigner(k)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	kp := &keypair{s: s, pub: k.Public(), hint: []byte(base64.StdEncoding.EncodeToString([]byte(pk.Fingerprint)))}
	switch p := k.Public().(type) {
	case *ecdsa.PublicKey:
		kp.alg = "ECDSA"
		switch p.Curve.Params().BitSize {
		case 256:
			kp.hash, kp.details = protocommon.HashAlgorithm_SHA2_256, protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256
		case 384:
			kp.hash, kp.details = protocommon.HashAlgorithm_SHA2_384, protocommon.PublicKeyDetails_PKIX_ECDSA_P384_SHA_384
		default:
			kp.hash, kp.details = protocommon.HashAlgorithm_SHA2_512, protocommon.PublicKeyDetails_PKIX_ECDSA_P521_SHA_512
		}
	case ed25519.PublicKey:
		kp.alg, kp.hash, kp.details = "ED25519", protocommon.HashAlgorithm_SHA2_512, protocommon.PublicKeyDetails_PKIX_ED25519
	case *rsa.PublicKey:
		kp.alg, kp.hash = "RSA", protocommon.HashAlgorithm_SHA2_256
		switch p.N.BitLen() {
		case 2048:
			kp.details = protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_2048_SHA256
		case 3072:
			kp.details = protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_3072_SHA256
		default:
			kp.details = protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_4096_SHA256
		}
	}
	return kp, nil
}

func (k *keypair) GetHashAlgorithm() protocommon.HashAlgorithm       { return k.hash }
func (k *keypair) GetSigningAlgorithm() protocommon.PublicKeyDetails { return k.details }
func (k *keypair) GetHint() []byte                                   { return k.hint }
func (k *keypair) GetKeyAlgorithm() string                           { return k.alg }
func (k *keypair) GetPublicKey() crypto.PublicKey                    { return k.pub }
func (k *keypair) GetPublicKeyPem() (string, error) {
	b, err := MarshalPublicKey(k.pub)
	return string(b), err
}

// SignData signs data and returns the signature and data's digest.
func (k *keypair) SignData(_ context.Context, data []byte) ([]byte, []byte, error) {
	var digest []byte
	switch k.hash {
	case protocommon.HashAlgorithm_SHA2_384:
		s := sha512.Sum384(data)
		digest = s[:]
	case protocommon.HashAlgorithm_SHA2_512:
		s := sha512.Sum512(data)
		digest = s[:]
	default:
		s := sha256.Sum256(data)
		digest = s[:]
	}
	sig, err := k.s.SignMessage(bytes.NewReader(data))
	if err != nil {
		return nil, nil, err
	}
	return sig, digest, nil
}
