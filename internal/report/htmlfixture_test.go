package report_test

import (
	"fmt"
	"math/rand/v2"

	"time"

	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/slim/record"
	"github.com/shipshape-dev/shipshape/internal/waste"
)

// largeReport builds, deterministically, the report of a big application
// image: 20 layers, packages packages in four ecosystems, vulns
// vulnerabilities (most with a fix), secrets, wasted files and a slim
// record. The sections carry the analyzers' own Go types, as a live scan's
// do.
func largeReport(packages, vulns int) *scorecard.Report {
	rng := rand.New(rand.NewPCG(15, 1000))
	at := time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)
	r := &scorecard.Report{
		SchemaVersion: scorecard.SchemaVersion,
		Tool:          scorecard.Tool{Name: "shipshape", Version: "test"},
		CreatedAt:     at,
		Image: scorecard.ImageInfo{
			Reference: "registry.example.com/team/big-app:2.4.1", Transport: "docker",
			Digest:       "sha256:" + hex64(rng),
			ConfigDigest: "sha256:" + hex64(rng),
			OS:           "linux", Architecture: "amd64", Created: &at,
			RepoTags: []string{"registry.example.com/team/big-app:2.4.1"},
		},
	}
	commands := []string{
		"/bin/sh -c #(nop) ADD file:4f9a7d2c1e in / ",
		"RUN /bin/sh -c apt-get update && apt-get install -y --no-install-recommends ca-certificates curl libssl3 python3 python3-pip nodejs npm && rm -rf /var/lib/apt/lists/* # buildkit",
		"COPY requirements.txt /app/ # buildkit",
		"RUN /bin/sh -c pip install -r /app/requirements.txt # buildkit",
		"COPY package.json package-lock.json /app/ # buildkit",
		"RUN /bin/sh -c npm ci --omit=dev # buildkit",
		"COPY . /app # buildkit",
	}
	for i := 1; i <= 20; i++ {
		by := commands[min(i-1, len(commands)-1)]
		if i > len(commands) {
			by = fmt.Sprintf("RUN /bin/sh -c ./build-step-%d.sh # buildkit", i)
		}
		r.Image.Layers = append(r.Image.Layers, scorecard.LayerInfo{
			Index: i, Digest: "sha256:" + hex64(rng), DiffID: "sha256:" + hex64(rng),
			Size: rng.Int64N(80 << 20), Bytes: rng.Int64N(200 << 20), Files: rng.IntN(9000),
			CreatedBy: by, MediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
		})
	}

	inv := &inventory.Inventory{Distro: &inventory.Distro{ID: "debian", VersionID: "12", Name: "Debian GNU/Linux 12 (bookworm)", Ecosystem: "Debian:12", Source: "/etc/os-release"}}
	ecos := []struct {
		eco, typ, loc string
		share         int
	}{
		{"Debian:12", "deb", "/var/lib/dpkg/status", 60},
		{"npm", "npm", "/app/node_modules/%s/package.json", 25},
		{"PyPI", "pypi", "/usr/lib/python3/dist-packages/%s.dist-info/METADATA", 10},
		{"Go", "golang", "/usr/local/bin/app", 5},
	}
	licences := []string{"MIT", "Apache-2.0", "BSD-3-Clause", "GPL-2.0-or-later", "ISC", "MPL-2.0"}
	for _, e := range ecos {
		n := packages * e.share / 100
		for i := 0; i < n; i++ {
			name := fmt.Sprintf("%s-lib-%03d", e.typ, i)
			loc := e.loc
			if e.typ == "npm" || e.typ == "pypi" {
				loc = fmt.Sprintf(e.loc, name)
			}
			ver := fmt.Sprintf("%d.%d.%d", rng.IntN(5), rng.IntN(20), rng.IntN(30))
			p := inventory.Package{
				Name: name, Version: ver, Ecosystem: e.eco, Type: e.typ,
				PURL:      fmt.Sprintf("pkg:%s/%s@%s", e.typ, name, ver),
				Licenses:  []string{licences[rng.IntN(len(licences))]},
				Locations: []string{loc}, Extractor: e.typ, Layer: 2 + rng.IntN(5),
			}
			if e.typ == "deb" && i%4 == 0 {
				p.SourceName, p.SourceVersion = fmt.Sprintf("deb-src-%03d", i/4), ver
			}
			inv.Packages = append(inv.Packages, p)
		}
	}
	for len(inv.Packages) < packages { // rounding
		inv.Packages = append(inv.Packages, inventory.Package{Name: fmt.Sprintf("extra-%d", len(inv.Packages)), Version: "1.0.0", Ecosystem: "npm", Type: "npm", Locations: []string{"/app/node_modules/extra/package.json"}, Layer: 6})
	}
	inv.Removed = []inventory.Package{{Name: "build-essential", Version: "12.9", Ecosystem: "Debian:12", Type: "deb", Layer: 2, RemovedIn: 7, Locations: []string{"/var/lib/dpkg/status"}}}

	sevs := []scorecard.Severity{scorecard.Critical, scorecard.High, scorecard.High, scorecard.Medium, scorecard.Medium, scorecard.Medium, scorecard.Low, scorecard.Low}
	for i := 0; i < vulns; i++ {
		p := inv.Packages[((i%150)*37)%len(inv.Packages)] // 50 packages have two
		sev := sevs[rng.IntN(len(sevs))]
		id := fmt.Sprintf("GHSA-%04x-%04x-%04x", rng.IntN(1<<16), rng.IntN(1<<16), rng.IntN(1<<16))
		if p.Type == "deb" {
			id = fmt.Sprintf("DEBIAN-CVE-2025-%05d", 10000+i)
		}
		ev := map[string]any{"id": id, "installedVersion": p.Version, "severitySource": "cvss_v3", "aliases": []string{fmt.Sprintf("CVE-2025-%05d", 10000+i)}}
		rule, title := "SS-P5-002", fmt.Sprintf("%s in %s %s (no fix yet)", id, p.Name, p.Version)
		if i%5 != 0 {
			fixed := p.Version + "-1"
			ev["fixedVersions"] = []string{fixed}
			rule, title = "SS-P5-001", fmt.Sprintf("%s in %s %s (fixed in %s)", id, p.Name, p.Version, fixed)
		}
		score := map[scorecard.Severity]float64{scorecard.Critical: 9.8, scorecard.High: 7.5, scorecard.Medium: 5.3, scorecard.Low: 3.1}[sev] - float64(rng.IntN(5))/10
		ev["cvssScore"], ev["cvssVector"] = score, "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"
		r.Findings = append(r.Findings, scorecard.Finding{
			Practice: scorecard.P5, Rule: rule, Severity: sev, Title: title,
			Description: fmt.Sprintf("%s mishandles crafted input %d, which lets a remote attacker cause a denial of service.", p.Name, i),
			Layer:       p.Layer, LayerDiffID: r.Image.Layers[p.Layer-1].DiffID, CreatedBy: r.Image.Layers[p.Layer-1].CreatedBy,
			Path: p.Locations[0], InFinalImage: scorecard.Bool(true),
			Package:  &scorecard.PackageRef{Name: p.Name, Version: p.Version, Ecosystem: p.Ecosystem, PURL: p.PURL},
			Evidence: ev, Fix: fmt.Sprintf("Upgrade %s.", p.Name),
			Fingerprint: fmt.Sprintf("%s:%s:%s:%s", id, p.Ecosystem, p.Name, p.Version),
		})
	}
	r.Findings = append(r.Findings,
		scorecard.Finding{Practice: scorecard.P1, Rule: "SS-P1-aws-secret-access-key", Severity: scorecard.Critical,
			Title: "AWS secret access key 9Rk2…jK4l in /app/config/.env", Layer: 7, LayerDiffID: r.Image.Layers[6].DiffID, CreatedBy: r.Image.Layers[6].CreatedBy,
			Path: "/app/config/.env", InFinalImage: scorecard.Bool(true),
			Evidence: map[string]any{"class": "build", "confidence": "high", "kind": "AWS secret access key", "secret": "9Rk2…jK4l", "secretHash": "667d6e0ecce17208"},
			Fix:      "Pass it at build time with `RUN --mount=type=secret,id=NAME …` instead of COPY. Rotate this credential."},
		scorecard.Finding{Practice: scorecard.P2, Rule: "SS-P2-001", Severity: scorecard.High, Title: "The image runs as root (no USER)", Field: "User", Fix: "Add `USER app` after creating the user."},
		scorecard.Finding{Practice: scorecard.P3, Rule: "SS-P3-004", Severity: scorecard.Low, Title: "Package lists left in /var/lib/apt/lists", Layer: 2, LayerDiffID: r.Image.Layers[1].DiffID, CreatedBy: r.Image.Layers[1].CreatedBy, Path: "/var/lib/apt/lists", InFinalImage: scorecard.Bool(true)},
	)
	wm := waste.Metrics{Efficiency: 0.91, WastedBytes: 187 << 20, TotalBytes: 2 << 30, UserWastedPercent: 0.09}
	for i := 0; i < 30; i++ {
		p := fmt.Sprintf("/root/.cache/pip/http/%02d/blob-%d.bin", i, i)
		wm.Paths = append(wm.Paths, waste.Path{Path: p, Copies: 2, Bytes: int64(30-i) << 20, Layers: []int{4, 9}})
		r.Findings = append(r.Findings, scorecard.Finding{Practice: scorecard.P8, Rule: "SS-P8-002", Severity: scorecard.Low,
			Title: "Wasted space: " + p, Layer: 4, LayerDiffID: r.Image.Layers[3].DiffID, CreatedBy: r.Image.Layers[3].CreatedBy,
			Path: p, InFinalImage: scorecard.Bool(false), RemovedInLayer: 9, Evidence: map[string]any{"bytes": int64(30-i) << 20}})
	}
	scorecard.SortFindings(r.Findings)

	var cov []scorecard.Coverage
	for _, p := range []scorecard.Practice{scorecard.P1, scorecard.P2, scorecard.P3, scorecard.P4, scorecard.P5, scorecard.P8, scorecard.P9} {
		c := scorecard.Coverage{Practice: p, Ran: true}
		switch p {
		case scorecard.P4:
			c.Summary = fmt.Sprintf("%d packages on Debian:12", len(inv.Packages))
		case scorecard.P5:
			c.Summary = fmt.Sprintf("%d vulnerabilities in %d packages", vulns, vulns)
			c.FailIf = func(f scorecard.Finding) bool { return f.Rule == "SS-P5-001" }
		case scorecard.P8:
			c.Summary = "image efficiency 91.0%, 187.0 MiB wasted"
			c.Metrics = map[string]any{"efficiency": wm.Efficiency, "wastedBytes": wm.WastedBytes}
		}
		cov = append(cov, c)
	}
	r.Practices = scorecard.Evaluate(r.Findings, cov)
	r.Suppressed = []scorecard.Suppressed{{Rule: "SS-P8-002", Path: "/opt/vendor/**", Reason: "vendored SDK, replaced in Q3", Expires: "2027-03-31", Source: ".shipshapeignore:3"}}
	r.Warnings = []string{"layer 5: entry ../../etc/shadow leaves the image root; clamped to /etc/shadow"}
	r.Sections = map[string]any{
		inventory.SectionName: inv,
		"waste":               wm,
		"slim": &record.Record{SourceDigest: r.Image.ConfigDigest, ImageDigest: "sha256:" + hex64(rng),
			Before: record.Stats{Files: 48211, Bytes: 2 << 30}, After: record.Stats{Files: 3120, Bytes: 310 << 20},
			UsedShare: 0.151, Verified: true, Created: at},
		"vulnerabilities": map[string]any{"missingEcosystems": []string{"Packagist"}},
		"user":            map[string]any{"config": "", "name": "root", "uid": 0},
		"os":              map[string]any{"id": "debian", "versionID": "12", "prettyName": "Debian GNU/Linux 12 (bookworm)", "eol": "2028-06-30", "eolKnown": true},
	}
	return r
}

func hex64(rng *rand.Rand) string {
	return fmt.Sprintf("%016x%016x%016x%016x", rng.Uint64(), rng.Uint64(), rng.Uint64(), rng.Uint64())
}
