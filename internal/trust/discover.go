package trust

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// Kinds of what is attached to an image.
const (
	// KindBundle is a Sigstore bundle (cosign v3's default), found
	// through the referrers API or the referrers tag schema.
	KindBundle = "sigstore-bundle"
	// KindCosignSignature is a legacy cosign signature: a layer of the
	// sha256-<hex>.sig tag.
	KindCosignSignature = "cosign-signature"
	// KindCosignAttestation is a legacy cosign attestation: a DSSE
	// envelope in a layer of the sha256-<hex>.att tag, or of an in-toto
	// referrer.
	KindCosignAttestation = "cosign-attestation"
	// KindNotation is a Notation (Notary Project) signature; shipshape
	// lists it but does not verify it yet.
	KindNotation = "notation-signature"
	// KindOther is any other referrer (an SBOM pushed as an artifact …).
	KindOther = "other"
)

// Media types and annotations of the artifacts read.
const (
	bundleMediaTypePrefix   = "application/vnd.dev.sigstore.bundle"
	bundleV03MediaType      = "application/vnd.dev.sigstore.bundle.v0.3+json"
	intotoMediaType         = "application/vnd.in-toto+json"
	dsseMediaType           = "application/vnd.dsse.envelope.v1+json"
	simpleSigningMediaType  = "application/vnd.dev.cosign.simplesigning.v1+json"
	notationArtifactType    = "application/vnd.cncf.notary.signature"
	annBundlePredicateType  = "dev.sigstore.bundle.predicateType"
	annBundleContent        = "dev.sigstore.bundle.content"
	annCosignSignature      = "dev.cosignproject.cosign/signature"
	annCosignCertificate    = "dev.sigstore.cosign/certificate"
	annCosignChain          = "dev.sigstore.cosign/chain"
	annCosignRekorBundle    = "dev.sigstore.cosign/bundle"
	annPredicateType        = "predicateType"
	emptyConfigMediaType    = "application/vnd.oci.empty.v1+json"
	maxAttachedBytes        = 8 << 20
	maxReferrers            = 256
	maxLayersPerManifest    = 64
	cosignSignPredicateType = "https://sigstore.dev/cosign/sign/v1"
)

// Found is one signature or attestation attached to a digest.
type Found struct {
	Kind string `json:"kind"`
	// Subject is the digest it is attached to: the platform manifest or
	// the index that lists it.
	Subject string `json:"subject"`
	// SubjectType says which: "manifest" or "index".
	SubjectType string `json:"subjectType"`
	// Source says where it was found: "referrers" (the OCI 1.1 API or the
	// sha256-<hex> tag schema), "tag sha256-<hex>.sig", "tag …att".
	Source string `json:"source"`
	// Manifest is the digest of the manifest that carries it.
	Manifest string `json:"manifest"`
	// Layer is the digest of the blob that holds it.
	Layer string `json:"layer,omitempty"`
	// PredicateType is the in-toto predicate type, for attestations and
	// for cosign v3 signatures (https://sigstore.dev/cosign/sign/v1).
	PredicateType string `json:"predicateType,omitempty"`
	// Attestation classifies PredicateType: slsa-provenance,
	// sbom-cyclonedx, sbom-spdx, openvex, other; empty for signatures.
	Attestation string `json:"attestation,omitempty"`

	data        []byte            // the bundle, the envelope or the payload
	annotations map[string]string // the layer's annotations
	mediaType   string            // the layer's media type
	subjectDesc *v1.Descriptor    // the referrer manifest's subject
	repository  string            // where it was found, for Notation's trust policy scopes
}

// IsSignature tells signatures from attestations.
func (f *Found) IsSignature() bool {
	switch f.Kind {
	case KindCosignSignature, KindNotation:
		return true
	case KindBundle:
		return f.PredicateType == cosignSignPredicateType || f.PredicateType == ""
	}
	return false
}

// ClassifyPredicate names well-known in-toto predicate types.
func ClassifyPredicate(pt string) string {
	switch {
	case pt == "":
		return ""
	case pt == cosignSignPredicateType:
		return ""
	case strings.HasPrefix(pt, "https://slsa.dev/provenance/"):
		return "slsa-provenance"
	case strings.HasPrefix(pt, "https://cyclonedx.org/bom"):
		return "sbom-cyclonedx"
	case strings.HasPrefix(pt, "https://spdx.dev/Document"):
		return "sbom-spdx"
	case strings.HasPrefix(pt, "https://openvex.dev/ns"):
		return "openvex"
	}
	return "other"
}

// Subject is a digest whose signatures are looked for.
type Subject struct {
	Digest v1.Hash
	// Type is "manifest" or "index".
	Type string
}

// Discover lists what is attached to each subject in repo: referrers (the
// API, or the referrers tag schema on registries without it) and cosign's
// legacy sha256-<hex>.sig and .att tags. Every request uses opts. Problems
// with one attachment are returned as notes and do not stop the others.
func Discover(ctx context.Context, repo name.Repository, subjects []Subject, opts []remote.Option) ([]*Found, []string, error) {
	opts = append(slices.Clip(opts), remote.WithContext(ctx))
	var out []*Found
	var notes []string
	defer func() {
		for _, f := range out {
			f.repository = repo.Name()
		}
	}()
	for _, s := range subjects {
		fs, ns, err := discoverReferrers(repo, s, opts)
		if err != nil {
			return nil, nil, err
		}
		out, notes = append(out, fs...), append(notes, ns...)
		for _, suffix := range []string{".sig", ".att"} {
			fs, ns, err := discoverLegacy(repo, s, suffix, opts)
			if err != nil {
				return nil, nil, err
			}
			out, notes = append(out, fs...), append(notes, ns...)
		}
	}
	return out, notes, nil
}

func discoverReferrers(repo name.Repository, s Subject, opts []remote.Option) ([]*Found, []string, error) {
	idx, err := remote.Referrers(repo.Digest(s.Digest.String()), opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("referrers of %s@%s: %w", repo, s.Digest, err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, nil, fmt.Errorf("referrers of %s@%s: %w", repo, s.Digest, err)
	}
	var out []*Found
	var notes []string
	if len(im.Manifests) > maxReferrers {
		notes = append(notes, fmt.Sprintf("%s has %d referrers: only the first %d were read", s.Digest, len(im.Manifests), maxReferrers))
		im.Manifests = im.Manifests[:maxReferrers]
	}
	for _, d := range im.Manifests {
		at := d.ArtifactType
		switch {
		case strings.HasPrefix(at, bundleMediaTypePrefix), at == intotoMediaType, at == notationArtifactType:
		default:
			out = append(out, &Found{Kind: KindOther, Subject: s.Digest.String(), SubjectType: s.Type, Source: "referrers", Manifest: d.Digest.String(), PredicateType: at})
			continue
		}
		img, m, err := readManifest(repo.Digest(d.Digest.String()), opts)
		if err != nil {
			notes = append(notes, fmt.Sprintf("referrer %s of %s: %v", d.Digest, s.Digest, err))
			continue
		}
		if m.Subject == nil || m.Subject.Digest != s.Digest {
			notes = append(notes, fmt.Sprintf("referrer %s is listed for %s but its manifest names another subject: ignored", d.Digest, s.Digest))
			continue
		}
		fs, ns := fromManifest(s, "referrers", d.Digest, m, "", func(l v1.Descriptor) ([]byte, error) { return readBlob(img, l) })
		out, notes = append(out, fs...), append(notes, ns...)
	}
	return out, notes, nil
}

// legacyTag is cosign's tag for a digest's signatures (.sig) or
// attestations (.att).
func legacyTag(repo name.Repository, d v1.Hash, suffix string) name.Tag {
	return repo.Tag(d.Algorithm + "-" + d.Hex + suffix)
}

func discoverLegacy(repo name.Repository, s Subject, suffix string, opts []remote.Option) ([]*Found, []string, error) {
	tag := legacyTag(repo, s.Digest, suffix)
	img, m, err := readManifest(tag, opts)
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && (terr.StatusCode == 404 || hasCode(terr, transport.ManifestUnknownErrorCode) || hasCode(terr, transport.NameUnknownErrorCode)) {
			return nil, nil, nil
		}
		return nil, []string{fmt.Sprintf("tag %s: %v", tag.TagStr(), err)}, nil
	}
	dig, err := img.Digest()
	if err != nil {
		return nil, nil, fmt.Errorf("tag %s: %w", tag, err)
	}
	fs, notes := fromManifest(s, "tag "+tag.TagStr(), dig, m, suffix, func(l v1.Descriptor) ([]byte, error) { return readBlob(img, l) })
	return fs, notes, nil
}

// fromManifest lists the signatures and attestations in the layers of m:
// a referrer (legacy "") or a legacy cosign tag or layout image (".sig",
// ".att"). read returns a layer's bytes.
func fromManifest(s Subject, source string, manifest v1.Hash, m *v1.Manifest, legacy string, read func(v1.Descriptor) ([]byte, error)) ([]*Found, []string) {
	var out []*Found
	var notes []string
	layers := m.Layers
	if len(layers) > maxLayersPerManifest {
		notes = append(notes, fmt.Sprintf("%s: manifest %s has %d layers: only the first %d were read", source, manifest, len(layers), maxLayersPerManifest))
		layers = layers[:maxLayersPerManifest]
	}
	for _, l := range layers {
		mt := string(l.MediaType)
		f := &Found{Subject: s.Digest.String(), SubjectType: s.Type, Source: source, Manifest: manifest.String(), Layer: l.Digest.String(), annotations: l.Annotations, mediaType: mt, subjectDesc: m.Subject}
		switch {
		case (mt == notationJWS || mt == notationCOSE) && legacy == "":
			f.Kind = KindNotation
		case strings.HasPrefix(mt, bundleMediaTypePrefix) && legacy != ".sig":
			f.Kind = KindBundle
			f.PredicateType = m.Annotations[annBundlePredicateType]
		case mt == dsseMediaType && legacy != ".sig":
			f.Kind = KindCosignAttestation
			f.PredicateType = l.Annotations[annPredicateType]
		case mt == simpleSigningMediaType && legacy == ".sig":
			f.Kind = KindCosignSignature
		default:
			if legacy != "" {
				notes = append(notes, fmt.Sprintf("%s: layer %s of media type %s ignored", source, l.Digest, l.MediaType))
			}
			continue
		}
		if l.Size > maxAttachedBytes {
			notes = append(notes, fmt.Sprintf("%s: layer %s is %d bytes, over the %d-byte limit: ignored", source, l.Digest, l.Size, maxAttachedBytes))
			continue
		}
		var err error
		if f.data, err = read(l); err != nil {
			notes = append(notes, fmt.Sprintf("%s: layer %s: %v", source, l.Digest, err))
			continue
		}
		f.fillPredicate()
		out = append(out, f)
	}
	return out, notes
}

func hasCode(e *transport.Error, c transport.ErrorCode) bool {
	for _, d := range e.Errors {
		if d.Code == c {
			return true
		}
	}
	return false
}

// fillPredicate reads the predicate type from the statement when the
// manifest did not say, and classifies it.
func (f *Found) fillPredicate() {
	if f.PredicateType == "" {
		f.PredicateType = statementPredicateType(f)
	}
	f.Attestation = ClassifyPredicate(f.PredicateType)
}

// statementPredicateType peeks at the in-toto statement inside a bundle or
// envelope, unverified, only to classify it; verification re-reads it.
func statementPredicateType(f *Found) string {
	env := f.data
	if f.Kind == KindBundle {
		var b struct {
			DSSE json.RawMessage `json:"dsseEnvelope"`
		}
		if json.Unmarshal(f.data, &b) != nil || b.DSSE == nil {
			return ""
		}
		env = b.DSSE
	} else if f.Kind != KindCosignAttestation {
		return ""
	}
	var e struct {
		Payload []byte `json:"payload"`
	}
	if json.Unmarshal(env, &e) != nil {
		return ""
	}
	var st struct {
		PredicateType string `json:"predicateType"`
	}
	if json.Unmarshal(e.Payload, &st) != nil {
		return ""
	}
	return st.PredicateType
}

func readManifest(ref name.Reference, opts []remote.Option) (v1.Image, *v1.Manifest, error) {
	desc, err := remote.Get(ref, opts...)
	if err != nil {
		return nil, nil, err
	}
	if desc.MediaType.IsIndex() {
		return nil, nil, fmt.Errorf("%s is an index, not a manifest", ref)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, nil, err
	}
	return img, m, nil
}

func readBlob(img v1.Image, d v1.Descriptor) ([]byte, error) {
	if d.Size > maxAttachedBytes {
		return nil, fmt.Errorf("blob of %d bytes is over the %d-byte limit", d.Size, maxAttachedBytes)
	}
	l, err := img.LayerByDigest(d.Digest)
	if err != nil {
		return nil, err
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxAttachedBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxAttachedBytes {
		return nil, fmt.Errorf("blob is over the %d-byte limit", maxAttachedBytes)
	}
	return b, nil
}

// Subjects returns the digests to look up for an image read from a
// registry: its manifest, and the index ref points to when that index
// lists the manifest (multi-platform images are usually signed there).
func Subjects(ref name.Reference, manifest v1.Hash, opts []remote.Option) ([]Subject, []string) {
	subs := []Subject{{Digest: manifest, Type: "manifest"}}
	desc, err := remote.Head(ref, opts...)
	if err != nil {
		return subs, []string{fmt.Sprintf("%s: %v (the index, if any, was not searched)", ref, err)}
	}
	if desc.Digest == manifest {
		if desc.MediaType.IsIndex() {
			// A docker-daemon image looked up by its repo digest,
			// which names the index it was pulled through.
			subs[0].Type = "index"
		}
		return subs, nil
	}
	if !desc.MediaType.IsIndex() {
		return subs, nil
	}
	idx, err := remote.Index(ref.Context().Digest(desc.Digest.String()), opts...)
	if err != nil {
		return subs, []string{fmt.Sprintf("index %s: %v", desc.Digest, err)}
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return subs, []string{fmt.Sprintf("index %s: %v", desc.Digest, err)}
	}
	for _, d := range im.Manifests {
		if d.Digest == manifest {
			return append(subs, Subject{Digest: desc.Digest, Type: "index"}), nil
		}
	}
	return subs, []string{fmt.Sprintf("index %s (what %s names now) does not list the scanned manifest %s: its signatures do not cover it", desc.Digest, ref, manifest)}
}
