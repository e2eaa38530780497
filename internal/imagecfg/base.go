package imagecfg

import (
	"fmt"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/rules"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/shellcmd"
)

// Annotation and label keys that name the base image.
const (
	baseNameKey   = "org.opencontainers.image.base.name"
	baseDigestKey = "org.opencontainers.image.base.digest"
)

// selfSource names a base that is the scanned image itself.
const selfSource = "repo tag: the image is a base image"

// Base is the base image as far as the image (or its Dockerfile) tells.
type Base struct {
	Name   string `json:"name,omitempty"`
	Digest string `json:"digest,omitempty"`
	// Source says where the name came from: annotation, label, dockerfile.
	Source string `json:"source,omitempty"`
	// Layers is the number of layers guessed to come from the base.
	Layers int `json:"layers"`
	// Materials are the images the provenance attestation lists as build
	// inputs.
	Materials []Material `json:"materials,omitempty"`
	Trusted   bool       `json:"trusted,omitempty"`
	Allowed   bool       `json:"allowed,omitempty"`
}

func (st *state) policy() *policy.Policy {
	if st.a.Policy != nil {
		return st.a.Policy
	}
	return policy.Default()
}

func (st *state) base() {
	img := st.in.Image
	b := Base{Layers: st.baseLayers}
	var src *scorecard.Source
	if img.Manifest != nil && img.Manifest.Annotations[baseNameKey] != "" {
		b.Name, b.Digest, b.Source = img.Manifest.Annotations[baseNameKey], img.Manifest.Annotations[baseDigestKey], "manifest annotation "+baseNameKey
	} else if img.Config != nil && img.Config.Config.Labels[baseNameKey] != "" {
		l := img.Config.Config.Labels
		b.Name, b.Digest, b.Source = l[baseNameKey], l[baseDigestKey], "label "+baseNameKey
	} else if bases := st.provenanceBases(); len(bases) == 1 {
		b.Name, b.Source = bases[0].Ref, "provenance attestation material "+bases[0].URI
	} else if st.a.DockerfileBase != "" {
		b.Name, b.Source, src = st.a.DockerfileBase, "dockerfile FROM", st.a.DockerfileBaseSource
	} else if st.baseLayers >= len(img.Layers) && len(img.RepoTags) > 0 && !slimmed(img) {
		// No build layers on top of the base: the image is a base image
		// itself, known by its own name.
		b.Name, b.Source = img.RepoTags[0], selfSource
	}
	cov := scorecard.Coverage{Practice: scorecard.P9, Ran: true}
	pol := st.policy()
	if b.Name == "scratch" {
		// FROM scratch: no base image, nothing to trust, pin or tag.
		b.Trusted, b.Allowed = true, true
		cov.Summary = fmt.Sprintf("no base image: built from scratch (from %s)", b.Source)
	} else if b.Name == "" {
		// Unknown is not trusted: the practice warns until the base is
		// named.
		cov.Summary = "base image unknown: pass --dockerfile, or record the base in the image"
		st.add(rules.Finding("SS-P9-007", scorecard.Finding{
			Title:       "The image does not say which base image it was built on",
			Description: "Neither the OCI annotation org.opencontainers.image.base.name, a label, nor a provenance attestation names the base, and no --dockerfile was given: the base cannot be checked against the trusted registries and pinning policy.",
			Fix: "Scan with --dockerfile PATH (the FROM line names the base), or make the image say it: build with " +
				"`docker buildx build --annotation \"manifest:org.opencontainers.image.base.name=NAME:TAG\"` (or --provenance=mode=max), " +
				"or LABEL org.opencontainers.image.base.name=NAME:TAG org.opencontainers.image.base.digest=sha256:… in the Dockerfile.",
		}))
	} else {
		ref, err := policy.ParseRef(b.Name)
		if b.Digest != "" && ref.Digest == "" {
			ref.Digest = b.Digest
		}
		if err != nil {
			st.add(rules.Finding("SS-P9-007", scorecard.Finding{Source: src,
				Title: fmt.Sprintf("Base image name %q is not a valid reference", b.Name), Evidence: map[string]any{"source": b.Source}}))
			cov.Summary = "base image " + b.Name + " (invalid reference)"
		} else {
			b.Trusted = pol.TrustedRef(ref)
			var why string
			b.Allowed, why = pol.BaseAllowed(ref)
			cov.Summary = fmt.Sprintf("base %s (from %s)", ref, b.Source)
			if b.Source != selfSource {
				st.checkRef(ref, "base image", src, b.Source, true)
			}
			if !b.Trusted {
				st.add(rules.Finding("SS-P9-002", scorecard.Finding{
					Source:      src,
					Title:       fmt.Sprintf("Base image %s is not from a trusted registry", ref.Name),
					Description: "The policy's registries.trusted globs do not match it: nobody vetted who publishes it or how it is maintained.",
					Fix:         "Build on an image from a trusted registry (an official, distroless, Chainguard or your own hardened base), or add its repository to registries.trusted in .shipshape.yaml.",
					Evidence:    map[string]any{"base": ref.String(), "source": b.Source, "trusted": pol.Trusted},
				}))
			}
			if !b.Allowed {
				st.add(rules.Finding("SS-P9-004", scorecard.Finding{
					Source:   src,
					Title:    fmt.Sprintf("Base image %s is not allowed: %s", ref, why),
					Fix:      "Use one of the bases allowed by the policy.",
					Evidence: map[string]any{"base": ref.String(), "source": b.Source},
				}))
			}
		}
	}
	// Every image a provenance attestation names as a build input must come
	// from a trusted registry too.
	for _, m := range st.provenanceBases() {
		ref, err := policy.ParseRef(m.Ref)
		if err != nil || ref.Name == "" || pol.TrustedRef(ref) || m.Ref == b.Name {
			continue
		}
		st.add(rules.Finding("SS-P9-002", scorecard.Finding{
			Title:       fmt.Sprintf("Build input %s (provenance) is not from a trusted registry", ref.Name),
			Description: "The image's provenance attestation lists this image as a material of the build: its content may have reached the final image (COPY --from, a build stage).",
			Fix:         "Build only from images of trusted registries, or add the repository to registries.trusted in .shipshape.yaml.",
			Evidence:    map[string]any{"material": m.URI, "reference": ref.String()},
		}))
	}
	if ms := provenanceMaterials(img.Provenance); len(ms) > 0 {
		b.Materials = ms
	}
	st.out.Sections["base"] = b
	// The reference that was scanned.
	if img.Transport == image.Registry || img.Transport == image.Daemon {
		r := img.Reference
		for _, p := range []string{"docker-daemon:", "docker://"} {
			r = strings.TrimPrefix(r, p)
		}
		if ref, err := policy.ParseRef(r); err == nil {
			st.checkRef(ref, "scanned reference", nil, "", false)
		}
	}
	st.out.Coverage = append(st.out.Coverage, cov)
}

// slimmed reports whether the image was written by shipshape slim: one
// layer whose history names the original. Such an image is not a base image
// of its own; its base is the original's (recorded in its labels when known).
func slimmed(img *image.Image) bool {
	if img.Config == nil {
		return false
	}
	for _, h := range img.Config.History {
		if strings.HasPrefix(h.CreatedBy, "shipshape slim ") {
			return true
		}
	}
	return false
}

// checkRef reports latest, missing tags and missing digests.
func (st *state) checkRef(ref policy.Ref, what string, src *scorecard.Source, from string, isBase bool) {
	ev := map[string]any{"reference": ref.String()}
	if from != "" {
		ev["source"] = from
	}
	if ref.Digest == "" && (ref.Tag == "" || ref.Tag == "latest") {
		sev := scorecard.Low
		if isBase {
			sev = scorecard.Medium
		}
		tag := "no tag (latest)"
		if ref.Tag == "latest" {
			tag = "the latest tag"
		}
		id := "SS-P9-006"
		if isBase {
			id = "SS-P9-005"
		}
		st.add(rules.Finding(id, scorecard.Finding{
			Severity: sev, Source: src,
			Title:       fmt.Sprintf("The %s %s uses %s", what, ref.Name, tag),
			Description: "latest moves: two builds or two deployments of the same reference get different images, and a rollback does not roll back.",
			Fix:         "Use a version tag and pin the digest: NAME:1.2.3@sha256:….",
			Evidence:    ev,
		}))
	}
	if !isBase && ref.Digest == "" && st.in.Image.Transport == image.Registry {
		st.add(rules.Finding("SS-P9-006", scorecard.Finding{
			Severity:    scorecard.Info,
			Title:       fmt.Sprintf("The %s %s is a tag, not a digest", what, ref),
			Description: "What was scanned is what the tag pointed to now; deploy by digest so that the image that runs is the image that was checked.",
			Fix:         "Deploy NAME@sha256:… (the digest is in the report's image.digest).",
			Evidence:    ev,
		}))
	}
	if isBase && ref.Digest == "" {
		sev := scorecard.Low
		if st.policy().PinDigest {
			sev = scorecard.High
		}
		st.add(rules.Finding("SS-P9-003", scorecard.Finding{
			Severity: sev, Source: src,
			Title:       fmt.Sprintf("The base image %s is not pinned by digest", ref),
			Description: "A tag can be re-pointed by whoever controls the repository; only a digest names exact content.",
			Fix:         "Reference the base as NAME:TAG@sha256:… and let a bot (Renovate, Dependabot) update the digest.",
			Evidence:    ev,
		}))
	}
}

// shells and package managers that a distroless image should not carry.
var toolPaths = []string{"/bin/sh", "/bin/bash", "/bin/busybox", "/usr/bin/bash", "/sbin/apk", "/usr/bin/apt-get", "/usr/bin/dpkg", "/usr/bin/dnf", "/usr/bin/yum", "/usr/bin/rpm", "/usr/bin/microdnf", "/usr/bin/pip", "/usr/bin/pip3"}

func (st *state) hygiene() {
	img := st.in.Image
	if img.Config == nil {
		return
	}
	cfg := img.Config.Config
	// A root filesystem directory has no config to carry a HEALTHCHECK.
	if img.Transport != image.Dir && (cfg.Healthcheck == nil || len(cfg.Healthcheck.Test) == 0 || cfg.Healthcheck.Test[0] == "NONE") {
		st.add(rules.Finding("SS-P9-009", scorecard.Finding{
			Field:       "Config.Healthcheck",
			Title:       "No HEALTHCHECK",
			Description: "Docker and Compose cannot tell a hung container from a healthy one (Kubernetes ignores HEALTHCHECK and uses probes).",
			Fix:         "Add HEALTHCHECK CMD … if the image runs under Docker or Compose; otherwise define liveness/readiness probes.",
		}))
	}
	var ssh []string
	if _, ok := cfg.ExposedPorts["22/tcp"]; ok {
		ssh = append(ssh, "port 22 is exposed")
	}
	for _, p := range []string{"/usr/sbin/sshd", "/usr/bin/sshd", "/sbin/sshd"} {
		if _, e, _ := st.final(p); e != nil {
			ssh = append(ssh, p+" is installed")
			break
		}
	}
	if len(ssh) > 0 {
		st.add(rules.Finding("SS-P8-011", scorecard.Finding{
			Field:       "Config.ExposedPorts",
			Title:       "SSH in a container: " + strings.Join(ssh, ", "),
			Description: "An SSH server is a second way in with its own keys and passwords to manage; containers are entered with docker exec or kubectl exec.",
			Fix:         "Remove openssh-server and EXPOSE 22 from the image.",
			Evidence:    map[string]any{"ssh": ssh},
		}))
	}
	for _, e := range st.history() {
		switch e.Instr {
		case "ADD":
			if strings.Contains(e.Arg, "://") {
				f := rules.Finding("SS-P9-008", scorecard.Finding{
					Field:       fmt.Sprintf("History[%d]", e.Index),
					Title:       "ADD downloads a remote URL during the build",
					Description: "The download is not verified: whoever controls the URL (or the network path) controls what lands in the image.",
					Fix:         "Use ADD --checksum=sha256:… URL, or download in a RUN that verifies a checksum or signature.",
				})
				st.in.LocateLayer(&f, e.Layer)
				f.CreatedBy = e.CreatedBy
				st.add(f)
			}
		case "RUN":
			if s, err := shellcmd.Parse(e.Arg); err == nil {
				if p := s.PipedToShell(); len(p) > 0 {
					f := rules.Finding("SS-P9-010", scorecard.Finding{
						Field:       fmt.Sprintf("History[%d]", e.Index),
						Title:       "The build piped a download into a shell (" + p[0].Name() + " | sh)",
						Description: "The script ran unverified: a compromised server or proxy could have run anything in the build.",
						Fix:         "Download to a file, verify its checksum or signature, then run it.",
					})
					st.in.LocateLayer(&f, e.Layer)
					f.CreatedBy = e.CreatedBy
					st.add(f)
				}
			}
		}
	}
	// Tools in an image that looks distroless.
	b, _ := st.out.Sections["base"].(Base)
	distroless := strings.Contains(b.Name, "distroless") || strings.Contains(b.Name, "chainguard") || st.in.Tree.Exists("/var/lib/dpkg/status.d")
	for k, v := range cfg.Labels {
		if strings.Contains(strings.ToLower(k+"="+v), "distroless") {
			distroless = true
		}
	}
	if distroless {
		var found []string
		for _, p := range toolPaths {
			if _, e, _ := st.final(p); e != nil {
				found = append(found, p)
			}
		}
		if len(found) > 0 {
			st.add(rules.Finding("SS-P8-012", scorecard.Finding{
				Title:       "An image that looks distroless carries shells or package managers: " + strings.Join(found, ", "),
				Description: "The point of a distroless base is that an attacker finds no shell or installer; these undo it.",
				Fix:         "Use the base's non-debug variant and do not COPY shells into the final stage.",
				Evidence:    map[string]any{"paths": found},
			}))
		}
	}
}

// provenanceBases returns the provenance materials that are images other
// than BuildKit's Dockerfile frontend.
func (st *state) provenanceBases() []Material {
	var out []Material
	for _, m := range provenanceMaterials(st.in.Image.Provenance) {
		if !m.Frontend {
			out = append(out, m)
		}
	}
	return out
}
