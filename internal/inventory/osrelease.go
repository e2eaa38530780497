package inventory

import (
	"strings"

	"github.com/shipshape-dev/shipshape/internal/facts"
)

// detectDistro builds the distro from the release files present in the
// final image (path → content).
func detectDistro(files map[string][]byte) *Distro {
	for _, p := range []string{"/etc/os-release", "/usr/lib/os-release"} {
		b, ok := files[p]
		if !ok {
			continue
		}
		m := facts.ParseOSRelease(string(b))
		if m["ID"] == "" {
			continue
		}
		d := &Distro{ID: strings.ToLower(m["ID"]), VersionID: m["VERSION_ID"], Codename: m["VERSION_CODENAME"], Name: m["PRETTY_NAME"], Source: p}
		if d.ID == "debian" && d.VersionID == "" {
			if v, ok := files["/etc/debian_version"]; ok {
				d.VersionID = debianMajor(string(v))
			}
		}
		d.Ecosystem = OSEcosystem(d.ID, d.VersionID)
		return d
	}
	if b, ok := files["/etc/alpine-release"]; ok {
		d := &Distro{ID: "alpine", VersionID: strings.TrimSpace(string(b)), Source: "/etc/alpine-release"}
		d.Ecosystem = OSEcosystem(d.ID, d.VersionID)
		return d
	}
	if b, ok := files["/etc/debian_version"]; ok {
		d := &Distro{ID: "debian", VersionID: debianMajor(string(b)), Source: "/etc/debian_version"}
		d.Ecosystem = OSEcosystem(d.ID, d.VersionID)
		return d
	}
	if b, ok := files["/etc/redhat-release"]; ok {
		s := strings.TrimSpace(string(b))
		d := &Distro{ID: "rhel", Name: s, Source: "/etc/redhat-release"}
		if i := strings.Index(s, "release "); i >= 0 {
			d.VersionID = strings.Fields(s[i+len("release "):] + " ")[0]
		}
		d.Ecosystem = OSEcosystem(d.ID, d.VersionID)
		return d
	}
	return nil
}

func debianMajor(v string) string {
	v = strings.TrimSpace(v)
	major, _, _ := strings.Cut(v, ".")
	for _, c := range major {
		if c < '0' || c > '9' {
			return "" // "bookworm/sid"
		}
	}
	return major
}

// OSEcosystem maps an os-release ID and VERSION_ID to the OSV ecosystem
// of the distro's packages ("" when OSV has none).
func OSEcosystem(id, versionID string) string {
	majorMinor := func(v string) string {
		parts := strings.SplitN(v, ".", 3)
		if len(parts) >= 2 {
			return parts[0] + "." + parts[1]
		}
		return v
	}
	major, _, _ := strings.Cut(versionID, ".")
	with := func(eco, v string) string {
		if v == "" {
			return eco
		}
		return eco + ":" + v
	}
	switch id {
	case "debian":
		return with("Debian", major)
	case "ubuntu":
		return with("Ubuntu", versionID)
	case "alpine":
		if versionID == "" {
			return "Alpine"
		}
		return "Alpine:v" + majorMinor(versionID)
	case "rhel", "redhat":
		// OSV keys Red Hat data by CPE product and major release
		// ("Red Hat:enterprise_linux:9::baseos"); UBI images are RHEL.
		if major == "" {
			return "Red Hat"
		}
		return "Red Hat:enterprise_linux:" + major
	case "rocky":
		return with("Rocky Linux", major)
	case "almalinux":
		return with("AlmaLinux", major)
	case "wolfi":
		return "Wolfi"
	case "chainguard":
		return "Chainguard"
	case "opensuse-leap":
		return with("openSUSE", "Leap "+versionID)
	case "sles":
		return "SUSE"
	case "mageia":
		return with("Mageia", versionID)
	}
	return ""
}
