package trust

import (
	"bytes"
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/shipshape-dev/shipshape/internal/image"
)

// cosign save marks the images of a layout with this annotation.
const (
	annLayoutKind = "kind"
	layoutSigs    = "dev.cosignproject.cosign/sigs"
	layoutAtts    = "dev.cosignproject.cosign/atts"
)

// LayoutSubjects returns the digests to look up in an OCI layout: the
// manifest, and each index of index.json that lists it.
func LayoutSubjects(ls *image.LayoutSource, manifest v1.Hash) []Subject {
	subs := []Subject{{Digest: manifest, Type: "manifest"}}
	for _, d := range ls.Index.Manifests {
		if !d.MediaType.IsIndex() {
			continue
		}
		b, err := ls.Blob(d.Digest)
		if err != nil {
			continue
		}
		idx, err := v1.ParseIndexManifest(bytes.NewReader(b))
		if err != nil {
			continue
		}
		for _, c := range idx.Manifests {
			if c.Digest == manifest {
				subs = append(subs, Subject{Digest: d.Digest, Type: "index"})
				break
			}
		}
	}
	return subs
}

// DiscoverLayout lists what an OCI layout stores next to the image:
// cosign save's signature and attestation images (whose payloads name the
// digest they sign: verification checks it) and referrers, manifests whose
// subject is one of subjects.
func DiscoverLayout(ls *image.LayoutSource, subjects []Subject) ([]*Found, []string) {
	var out []*Found
	var notes []string
	read := func(l v1.Descriptor) ([]byte, error) { return ls.Blob(l.Digest) }
	for i, d := range ls.Index.Manifests {
		if i >= maxReferrers {
			notes = append(notes, fmt.Sprintf("index.json lists %d manifests: only the first %d were read", len(ls.Index.Manifests), maxReferrers))
			break
		}
		kind := d.Annotations[annLayoutKind]
		if d.MediaType.IsIndex() {
			continue
		}
		if kind != layoutSigs && kind != layoutAtts {
			ok, err := subjectOf(ls, d, subjects)
			if err != nil {
				// A referrer that cannot be read is not silently absent.
				notes = append(notes, fmt.Sprintf("layout manifest %s: %v", d.Digest, err))
			}
			if !ok {
				continue
			}
		}
		b, err := ls.Blob(d.Digest)
		if err != nil {
			notes = append(notes, fmt.Sprintf("layout manifest %s: %v", d.Digest, err))
			continue
		}
		m, err := v1.ParseManifest(bytes.NewReader(b))
		if err != nil {
			notes = append(notes, fmt.Sprintf("layout manifest %s: %v", d.Digest, err))
			continue
		}
		switch kind {
		case layoutSigs, layoutAtts:
			// cosign save does not say which digest they sign: each
			// is checked against the subject its (still unverified)
			// payload names, else against the scanned manifest.
			suffix := ".sig"
			if kind == layoutAtts {
				suffix = ".att"
			}
			fs, ns := fromManifest(subjects[0], "layout (cosign save "+suffix+")", d.Digest, m, suffix, read)
			for _, f := range fs {
				claimed := claimedDigests(f)
				for _, s := range subjects {
					if claimed[s.Digest.String()] {
						f.Subject, f.SubjectType = s.Digest.String(), s.Type
						break
					}
				}
			}
			out, notes = append(out, fs...), append(notes, ns...)
		default:
			for _, s := range subjects {
				if m.Subject == nil || m.Subject.Digest != s.Digest {
					continue
				}
				fs, ns := fromManifest(s, "layout referrers", d.Digest, m, "", read)
				out, notes = append(out, fs...), append(notes, ns...)
			}
		}
	}
	return out, notes
}

// subjectOf reports whether the manifest d names one of subjects as its
// subject, reading it only when it is small; an error says it could not
// be read.
func subjectOf(ls *image.LayoutSource, d v1.Descriptor, subjects []Subject) (bool, error) {
	for _, s := range subjects {
		if d.Digest == s.Digest {
			return false, nil
		}
	}
	if d.Size > 64<<10 {
		return false, nil
	}
	b, err := ls.Blob(d.Digest)
	if err != nil {
		return false, err
	}
	var m struct {
		Subject *v1.Descriptor `json:"subject"`
	}
	if json.Unmarshal(b, &m) != nil || m.Subject == nil {
		return false, nil
	}
	for _, s := range subjects {
		if m.Subject.Digest == s.Digest {
			return true, nil
		}
	}
	return false, nil
}

// claimedDigests reads, unverified, the digests a legacy signature or
// attestation says it signs: only to pick the subject to verify it
// against.
func claimedDigests(f *Found) map[string]bool {
	out := map[string]bool{}
	switch f.Kind {
	case KindCosignSignature:
		var p simpleSigning
		if json.Unmarshal(f.data, &p) == nil {
			out[p.Critical.Image.DockerManifestDigest] = true
		}
	case KindCosignAttestation:
		var e envelope
		var st statement
		if json.Unmarshal(f.data, &e) == nil && json.Unmarshal(e.Payload, &st) == nil {
			for _, s := range st.Subject {
				out["sha256:"+s.Digest["sha256"]] = true
			}
		}
	}
	return out
}
