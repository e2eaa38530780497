package pending

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/rules"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// BaseFreshness is what the registry says about the base image's tag now.
type BaseFreshness struct {
	Check
	Name string `json:"name,omitempty"`
	// Tag is the name's tag reference in full (registry/repository:tag).
	Tag string `json:"tag,omitempty"`
	// Platform is the image's platform, whose build of the tag counts.
	Platform string `json:"platform,omitempty"`
	Digest   string `json:"digest,omitempty"`
	Source   string `json:"source,omitempty"`
	// Created is when the base build the image used was made (when the
	// registry still has it).
	Created time.Time `json:"created,omitzero"`
	// CurrentDigest is what the tag points to now (the index digest for
	// a multi-platform tag); CurrentPlatformDigest the manifest of the
	// image's platform, CurrentCreated its creation time.
	CurrentDigest         string    `json:"currentDigest,omitempty"`
	CurrentPlatformDigest string    `json:"currentPlatformDigest,omitempty"`
	CurrentCreated        time.Time `json:"currentCreated,omitzero"`
	// Rebuilt is true when the tag now points to another build than the
	// one the image was built on.
	Rebuilt bool `json:"rebuilt"`
	// NewerBuilds is how many builds of the tag newer than the image's
	// base shipshape knows of (at least 1 when rebuilt).
	NewerBuilds int `json:"newerBuilds,omitempty"`
	// RecordedAt is set when the current build comes from the records of
	// `db update --for` (an offline scan): when they were made.
	RecordedAt time.Time `json:"recordedAt,omitzero"`
	Fix        string    `json:"fix,omitempty"`
}

func (b *BaseFreshness) summary() string {
	if b.Name == "" {
		return ""
	}
	if !b.Rebuilt {
		return fmt.Sprintf("base %s is the current build", b.Name)
	}
	s := fmt.Sprintf("base %s was rebuilt %d time(s) since", b.Name, b.NewerBuilds)
	if !b.CurrentCreated.IsZero() {
		s += "; current build created " + b.CurrentCreated.Format(time.DateOnly)
	}
	return s
}

// baseFreshness asks the registry what the base image's tag points to now.
func (a *Analyzer) baseFreshness(ctx context.Context, in *analyze.Input) (BaseFreshness, []scorecard.Finding) {
	base := a.base(in)
	b := BaseFreshness{Name: base.Name, Digest: base.Digest, Source: base.Source}
	if b.Name == "" || b.Name == "scratch" {
		why := "the base image is unknown (P9 says how to record it)"
		if b.Name == "scratch" {
			why = "built from scratch: no base image"
		}
		b.Check = Check{Status: "not-applicable", Reason: why}
		return b, nil
	}
	tagPart := b.Name
	if n, d, ok := strings.Cut(b.Name, "@"); ok {
		// NAME:TAG@DIGEST: the digest is the build, the tag what to ask.
		tagPart = n
		if b.Digest == "" {
			b.Digest = d
		}
		if !strings.Contains(n[strings.LastIndex(n, "/")+1:], ":") {
			tagPart = b.Name // no tag: parsed as a digest reference below
		}
	}
	ref, err := name.ParseReference(tagPart, a.NameOptions...)
	if err != nil {
		b.Check = Check{Status: "not-applicable", Reason: fmt.Sprintf("base image name %q is not a valid reference", b.Name)}
		return b, nil
	}
	if d, ok := ref.(name.Digest); ok {
		if b.Digest == "" {
			b.Digest = d.DigestStr()
		}
		// name@digest: the tag, if the name had one, is lost by the
		// parser; without one there is nothing to ask about.
		b.Check = Check{Status: "not-applicable", Reason: "the base is named by digest only: no tag to compare with"}
		return b, nil
	}
	tag := ref.(name.Tag)
	b.Tag = tag.Name()
	plat := platformOf(in)
	b.Platform = plat.String()
	recs, err := LoadBaseRecords(a.DBDir)
	if err != nil {
		recs = BaseRecords{} // unreadable records: as if none
	}
	var opts []remote.Option
	if a.Remote == nil {
		rec, ok := recs.latest(b.Tag, plat.String())
		if !ok {
			b.Check = Check{Status: "not-run", Reason: "not checked offline: asking the registry what " + b.Name + " points to now needs the network (run without --offline, or record it with `" + a.updateCommand(in) + "`)",
				Command: a.updateCommand(in)}
			return b, nil
		}
		b.CurrentDigest, b.CurrentPlatformDigest, b.CurrentCreated = rec.Digest, rec.PlatformDigest, rec.Created
		b.RecordedAt = rec.Seen
	} else {
		opts = append(append([]remote.Option{}, a.Remote...), remote.WithContext(ctx), remote.WithPlatform(plat))
		desc, err := remote.Get(tag, opts...)
		if err != nil {
			b.Check = Check{Status: "not-run", Reason: fmt.Sprintf("the registry did not answer for %s: %v", tag, err), Command: "docker login (registry credentials), and check the network"}
			return b, nil
		}
		b.CurrentDigest = desc.Digest.String()
		img, err := desc.Image() // the platform's manifest of an index
		if err == nil {
			if d, err := img.Digest(); err == nil {
				b.CurrentPlatformDigest = d.String()
			}
			if cf, err := img.ConfigFile(); err == nil && !cf.Created.IsZero() {
				b.CurrentCreated = cf.Created.UTC()
			}
		}
		recs.add(b.Tag, plat.String(), Build{Digest: b.CurrentDigest, PlatformDigest: b.CurrentPlatformDigest, Created: b.CurrentCreated, Seen: a.now()})
	}
	b.Check = Check{Status: "ran"}
	if !b.RecordedAt.IsZero() {
		b.Reason = "offline: as `shipshape db update --for` recorded it on " + b.RecordedAt.Format(time.DateOnly)
	}
	switch {
	case b.Digest != "":
		b.Rebuilt = b.Digest != b.CurrentDigest && b.Digest != b.CurrentPlatformDigest
		if opts != nil {
			if old, err := remote.Image(tag.Context().Digest(b.Digest), opts...); err == nil {
				if cf, err := old.ConfigFile(); err == nil && !cf.Created.IsZero() {
					b.Created = cf.Created.UTC()
				}
			}
		}
		for _, r := range recs[recordKey(b.Tag, plat.String())] {
			if b.Created.IsZero() && (r.Digest == b.Digest || r.PlatformDigest == b.Digest) {
				b.Created = r.Created
			}
		}
	default:
		// No digest recorded: a current base built after the image cannot
		// be the one it was built on.
		if in.Image != nil && in.Image.Config != nil && !in.Image.Config.Created.IsZero() && b.CurrentCreated.After(in.Image.Config.Created.Time) {
			b.Rebuilt = true
		} else {
			b.Reason = strings.TrimPrefix(b.Reason+"; the image does not record its base digest: a rebuild before this image was built cannot be told", "; ")
		}
	}
	if !b.Rebuilt {
		return b, nil
	}
	b.NewerBuilds = max(1, recs.newerThan(b.Tag, plat.String(), Build{Digest: b.Digest, Created: b.Created}))
	pin := tag.Context().Name() + ":" + tag.TagStr() + "@" + b.CurrentDigest
	b.Fix = fmt.Sprintf("Rebuild on the current base: docker build --pull (FROM %s)", pin)
	ev := map[string]any{"base": b.Name, "currentDigest": b.CurrentDigest, "source": b.Source}
	if b.Digest != "" {
		ev["digest"] = b.Digest
	}
	if !b.Created.IsZero() {
		ev["created"] = b.Created.Format(time.RFC3339)
	}
	if !b.CurrentCreated.IsZero() {
		ev["currentCreated"] = b.CurrentCreated.Format(time.RFC3339)
	}
	title := fmt.Sprintf("Base image %s was rebuilt since this image was built: current digest %s", b.Name, short(b.CurrentDigest))
	if !b.CurrentCreated.IsZero() {
		title += ", created " + b.CurrentCreated.Format(time.DateOnly)
	}
	f := rules.Finding("SS-P3-009", scorecard.Finding{Title: title, Evidence: ev, Fix: b.Fix, Field: "base"})
	return b, []scorecard.Finding{f}
}

// OCI annotations (and labels) that name the base image.
const (
	baseNameKey   = "org.opencontainers.image.base.name"
	baseDigestKey = "org.opencontainers.image.base.digest"
)

// base finds the base image as P9 does (internal/imagecfg): the manifest
// annotation, then the label, then the Dockerfile's FROM.
func (a *Analyzer) base(in *analyze.Input) BaseRef {
	img := in.Image
	switch {
	case img == nil:
	case img.Manifest != nil && img.Manifest.Annotations[baseNameKey] != "":
		return BaseRef{img.Manifest.Annotations[baseNameKey], img.Manifest.Annotations[baseDigestKey], "manifest annotation " + baseNameKey}
	case img.Config != nil && img.Config.Config.Labels[baseNameKey] != "":
		l := img.Config.Config.Labels
		return BaseRef{l[baseNameKey], l[baseDigestKey], "label " + baseNameKey}
	}
	if a.DockerfileBase != "" {
		return BaseRef{Name: a.DockerfileBase, Source: "dockerfile FROM"}
	}
	return BaseRef{}
}

func short(d string) string {
	if len(d) > 19 {
		return d[:19] + "…"
	}
	return d
}

func platformOf(in *analyze.Input) v1.Platform {
	p := v1.Platform{OS: "linux", Architecture: "amd64"}
	if in.Image != nil && in.Image.Config != nil {
		if in.Image.Config.OS != "" {
			p.OS = in.Image.Config.OS
		}
		if in.Image.Config.Architecture != "" {
			p.Architecture, p.Variant = in.Image.Config.Architecture, in.Image.Config.Variant
		}
	}
	return p
}

func (b *BaseFreshness) tagName() string { return b.Tag }
