// Package rules is the table of image rules: for every rule id an image
// analyzer reports (P2, P3, P5, P6, P8, P9), its practice, title, default
// severity and help. Analyzers build their findings with Finding, so that
// rule, practice and default severity come from here; the policy's rule
// overrides, SARIF's rule metadata and docs/image-checks.md read the same
// table, and tests keep the code and the docs in step with it. Secret rules (SS-P1-…) live with their patterns in
// internal/secret, Dockerfile rules (SS-DF-…) in internal/dockerfile.
//
// Rule ids are stable: a rule that changes meaning gets a new id, and an
// id that was retired is never reused.
package rules

import (
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// Rule describes one image rule.
type Rule struct {
	ID       string
	Practice scorecard.Practice
	// Title names what the rule finds, for every finding of it (findings
	// carry their own, specific title).
	Title string
	// Severity is the default severity; SeverityNote says when a finding
	// gets another one.
	Severity     scorecard.Severity
	SeverityNote string
	// Help says why the rule matters and how to satisfy it.
	Help string
}

// Image lists every image rule, by id.
var Image = []Rule{
	{ID: "SS-P2-001", Practice: scorecard.P2, Severity: scorecard.High, Title: "The container runs as root",
		Help: "User is unset, root, 0, 0:0, or a name that maps to UID 0 in the image's passwd. Add a user and USER it (USER 10001:10001)."},
	{ID: "SS-P2-002", Practice: scorecard.P2, Severity: scorecard.High, Title: "The configured user or group does not exist in the image",
		Help: "User (or its group) names an account the image's /etc/passwd or /etc/group lack: the container will not start. Create the account or use a numeric id."},
	{ID: "SS-P2-003", Practice: scorecard.P2, Severity: scorecard.Low, Title: "Numeric user without a passwd entry",
		Help: "The container runs, but without a name or home directory. Add the user to /etc/passwd."},
	{ID: "SS-P2-004", Practice: scorecard.P2, Severity: scorecard.Medium, SeverityNote: "setgid only: low", Title: "setuid or setgid files",
		Help: "setuid/setgid files, with their owning package, let a process gain privileges. Remove the bit (chmod u-s,g-s) or the package."},
	{ID: "SS-P2-005", Practice: scorecard.P2, Severity: scorecard.Medium, Title: "Files with capabilities",
		Help: "File capabilities (security.capability, e.g. cap_net_raw+ep) grant privileges on exec. Remove them with setcap -r."},
	{ID: "SS-P2-006", Practice: scorecard.P2, Severity: scorecard.Medium, Title: "sudo is installed",
		Help: "sudo in a container is a way back to root. Remove the package."},
	{ID: "SS-P2-007", Practice: scorecard.P2, Severity: scorecard.High, Title: "NOPASSWD sudo rules",
		Help: "NOPASSWD rules in /etc/sudoers or /etc/sudoers.d/* give root without a password. Remove them."},
	{ID: "SS-P2-008", Practice: scorecard.P2, Severity: scorecard.High, Title: "Account with an empty password",
		Help: "An empty password field in /etc/shadow lets anyone log in as that account. Lock it (passwd -l) or set '!'."},
	{ID: "SS-P2-009", Practice: scorecard.P2, Severity: scorecard.Medium, Title: "Account with a usable password hash",
		Help: "A usable password hash in /etc/shadow can be cracked offline by anyone who pulls the image. Lock the account. (Hashes never enter the cache: only the state is kept.)"},
	{ID: "SS-P2-010", Practice: scorecard.P2, Severity: scorecard.Low, Title: "Duplicate user or group ids",
		Help: "Two accounts with the same UID or GID share every file and privilege. Give each its own id."},
	{ID: "SS-P2-011", Practice: scorecard.P2, Severity: scorecard.Medium, Title: "World-writable files or directories",
		Help: "World-writable files, and directories without the sticky bit, outside /tmp, /var/tmp, /dev/shm, /run/lock and /var/lock let any process change them. Tighten their modes."},
	{ID: "SS-P3-001", Practice: scorecard.P3, Severity: scorecard.High, SeverityNote: "medium while free LTS lasts: Debian", Title: "The OS release is past the end of its regular support",
		Help: "The distribution no longer publishes security updates for this release (builtin table internal/eol/eol.json: Alpine, Debian, Ubuntu, RHEL/UBI, CentOS, Rocky, Alma, Amazon Linux, Fedora, SLES, openSUSE Leap). Rebuild on a supported release."},
	{ID: "SS-P3-002", Practice: scorecard.P3, Severity: scorecard.Low, Title: "The OS release reaches end of life within six months",
		Help: "Security updates stop soon. Plan the move to a newer release."},
	{ID: "SS-P3-003", Practice: scorecard.P3, Severity: scorecard.Info, Title: "The OS release is not in shipshape's release table",
		Help: "Its end of life is unknown. Check the distribution's support dates by hand, or update shipshape."},
	{ID: "SS-P3-004", Practice: scorecard.P3, Severity: scorecard.Low, Title: "System packages were not upgraded",
		Help: "No upgrade command in the history after the base, and no base package (apk/dpkg) changed version. Upgrade in the build (apk upgrade, apt-get upgrade) or rebuild on a fresh base."},
	{ID: "SS-P3-005", Practice: scorecard.P3, Severity: scorecard.Medium, Title: "apt-get update in a RUN without an install",
		Help: "The layer with the index is cached: later installs use a stale index. Update and install in one RUN."},
	{ID: "SS-P3-006", Practice: scorecard.P3, Severity: scorecard.Low, Title: "A stale package index is left in the image",
		Help: "/var/lib/apt/lists, /var/cache/apk, yum/dnf/zypper caches. Remove them in the RUN that fills them, or use a cache mount."},
	{ID: "SS-P5-001", Practice: scorecard.P5, Severity: scorecard.Medium, SeverityNote: "the advisory's CVSS score or ecosystem rating", Title: "A package has a known vulnerability with a fix",
		Help: "A fixed version exists. Upgrade the package (or the base image that ships it)."},
	{ID: "SS-P5-002", Practice: scorecard.P5, Severity: scorecard.Medium, SeverityNote: "the advisory's CVSS score or ecosystem rating", Title: "A package has a known vulnerability without a fix",
		Help: "No fixed version yet. Check whether the code is reachable, remove the package if unused, and watch for a fix; accept it in .shipshapeignore with a reason and an expiry otherwise."},
	{ID: "SS-P6-001", Practice: scorecard.P6, Severity: scorecard.Medium, Title: "The image is not signed",
		Help: "No signature is attached to the image's manifest digest or to the index that lists it. Sign it (shipshape sign IMAGE --key cosign.key, or cosign sign) and require the signer in .shipshape.yaml trust:."},
	{ID: "SS-P6-002", Practice: scorecard.P6, Severity: scorecard.High, Title: "The trust policy's required signers did not sign the image",
		Help: "The policy's trust.require entry needs signatures from keys or keyless identities that no verified signature matches. Each check in the report's trust section says why. Sign with a required key, or correct the policy."},
	{ID: "SS-P6-003", Practice: scorecard.P6, Severity: scorecard.Low, Title: "The image is signed, but no trust policy says by whom",
		Help: "A signature proves nothing until someone says whose signature counts. Add a trust: section to .shipshape.yaml naming the key or keyless identity and issuer (or run shipshape verify --key cosign.pub)."},
	{ID: "SS-P6-004", Practice: scorecard.P6, Severity: scorecard.High, Title: "A required attestation is missing or not verified",
		Help: "The policy requires an attestation (SLSA provenance from a given builder, an SBOM, OpenVEX) signed by one of its signers. Attach it (shipshape attest IMAGE --key cosign.key --sbom) or have the builder attach its provenance."},
	{ID: "SS-P7-001", Practice: scorecard.P7, Severity: scorecard.Medium, SeverityNote: "the result's security-severity, tool rating or level", Title: "Static analysis reported a problem in the application's own code",
		Help: "A SAST tool (gosec, CodeQL, Semgrep, Bandit …; imported with --sarif) found it in code the image ships. Fix the code at the file and line given, or suppress the result in the tool with a justification."},
	{ID: "SS-P7-002", Practice: scorecard.P7, Severity: scorecard.High, SeverityNote: "the advisory's CVSS, its aliases' CVSS or the ecosystem's rating", Title: "The application's own code calls a vulnerable function",
		Help: "govulncheck's source-mode call graph (scan --source DIR, run in process with the vulnerability database) found a path from the own code to a vulnerable symbol of a dependency or of the standard library. Upgrade the module (go get MODULE@FIXED) or the Go toolchain, rebuild and redeploy; the trace shows the call path."},
	{ID: "SS-P7-003", Practice: scorecard.P7, Severity: scorecard.Critical, Title: "A critical vulnerability is reachable in one of the application's own binaries",
		Help: "P5 found the vulnerability's affected symbols linked into a binary that P7 identifies as the application's own (not an OS package's, not the base image's). Upgrade the module or the Go toolchain and rebuild the binary; the P5 finding with the same id has the fixed version."},
	{ID: "SS-P8-001", Practice: scorecard.P8, Severity: scorecard.Medium, Title: "Image efficiency is below the threshold",
		Help: "Files stored in layers but deleted or replaced by later layers are still downloaded on every pull. Create, use and delete temporary files in one RUN, or build in a separate stage."},
	{ID: "SS-P8-002", Practice: scorecard.P8, Severity: scorecard.Low, Title: "A large file is shipped but not in the final image",
		Help: "A later deletion does not shrink the image. Remove the file in the RUN that creates it, or never COPY it in."},
	{ID: "SS-P8-010", Practice: scorecard.P8, Severity: scorecard.Low, Title: "Package manager caches waste bytes",
		Help: "The same caches as SS-P3-006, with the bytes they waste. Remove them in the RUN that fills them."},
	{ID: "SS-P8-011", Practice: scorecard.P8, Severity: scorecard.Medium, Title: "SSH in a container",
		Help: "Port 22 exposed or sshd installed: a second way in. Containers are entered with docker exec or kubectl exec."},
	{ID: "SS-P8-012", Practice: scorecard.P8, Severity: scorecard.Info, Title: "Shells or package managers in an image that looks distroless",
		Help: "They undo the point of a distroless base. Use the base's non-debug variant."},
	{ID: "SS-P8-013", Practice: scorecard.P8, Severity: scorecard.Low, Title: "The application used only part of the image's bytes",
		Help: "A verified shipshape slim run of this image (same --cache-dir) used less than half of its bytes. Ship the slimmed image, or build from a smaller base. (Was SS-P8-010 before 2026-11-30.)"},
	{ID: "SS-P9-002", Practice: scorecard.P9, Severity: scorecard.High, Title: "The base image is not from a trusted registry",
		Help: "The policy's registries.trusted globs do not match the base (or a build input the provenance names). Build on a trusted base or add its repository to the policy."},
	{ID: "SS-P9-003", Practice: scorecard.P9, Severity: scorecard.Low, SeverityNote: "high with pinDigest", Title: "The base image is not pinned by digest",
		Help: "A tag can be re-pointed; only a digest names exact content. Reference the base as NAME:TAG@sha256:…."},
	{ID: "SS-P9-004", Practice: scorecard.P9, Severity: scorecard.High, Title: "The base image is not allowed by the policy",
		Help: "The base is denied, or not in base.allow. Use one of the allowed bases."},
	{ID: "SS-P9-005", Practice: scorecard.P9, Severity: scorecard.Medium, Title: "The base image uses latest or no tag",
		Help: "latest moves: two builds get different bases. Use a version tag and pin the digest."},
	{ID: "SS-P9-006", Practice: scorecard.P9, Severity: scorecard.Low, SeverityNote: "info for a registry tag without digest", Title: "The scanned reference uses latest, no tag, or no digest",
		Help: "Deploy by digest so that the image that runs is the image that was checked."},
	{ID: "SS-P9-007", Practice: scorecard.P9, Severity: scorecard.Low, Title: "The base image is unknown",
		Help: "Nothing names the base, so it cannot be checked against the policy. Scan with --dockerfile, or record it: the org.opencontainers.image.base.name annotation or label, or a provenance attestation."},
	{ID: "SS-P9-008", Practice: scorecard.P9, Severity: scorecard.Medium, Title: "ADD of a remote URL in the history",
		Help: "The download was not verified. Use ADD --checksum or download and verify in a RUN."},
	{ID: "SS-P9-009", Practice: scorecard.P9, Severity: scorecard.Info, Title: "No HEALTHCHECK",
		Help: "Docker and Compose cannot tell a hung container from a healthy one. Add HEALTHCHECK, or define probes under Kubernetes."},
	{ID: "SS-P9-010", Practice: scorecard.P9, Severity: scorecard.Medium, Title: "A download was piped into a shell during the build",
		Help: "The script ran unverified. Download to a file, verify its checksum or signature, then run it."},
}

// Lookup returns the image rule with id.
func Lookup(id string) (Rule, bool) {
	for _, r := range Image {
		if r.ID == id {
			return r, true
		}
	}
	return Rule{}, false
}

// Finding returns f as a finding of rule id: the rule, its practice, and
// — unless f sets them — its default severity and title come from the
// table. An id missing from the table leaves the practice empty, which the
// table test catches.
func Finding(id string, f scorecard.Finding) scorecard.Finding {
	r, _ := Lookup(id)
	f.Rule, f.Practice = id, r.Practice
	if f.Severity == "" {
		f.Severity = r.Severity
	}
	if f.Title == "" {
		f.Title = r.Title
	}
	return f
}
