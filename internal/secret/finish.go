package secret

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/humanize"
	"github.com/shipshape-dev/shipshape/internal/imagecfg"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// Classes of findings, in Evidence["class"].
const (
	// ClassBuild is a secret the build put into the image.
	ClassBuild = "build"
	// ClassVendor is a secret inside a file owned by the distribution's
	// package manager and unchanged from the package: a test key or sample
	// shipped by the vendor, reported at info severity.
	ClassVendor = "vendor"
	// ClassTestFixture is a secret in a test, example or documentation
	// directory of a third-party package (site-packages, node_modules, …).
	ClassTestFixture = "test-fixture"
	// ClassConfig is a secret in the image config or history.
	ClassConfig = "config"
)

// totals are the scan counters of all layers.
type totals struct {
	scanned, skipped, truncated             int
	scannedBytes, skippedBytes, binaryBytes int64
}

// Finish implements analyze.Analyzer: the file findings of every layer,
// then the config findings, then the coverage. It never changes in: the
// values to hide go to Output.Redact.
func (a *Analyzer) Finish(ctx context.Context, in *analyze.Input) (*analyze.Output, error) {
	facts, tot, err := loadFacts(in)
	if err != nil {
		return nil, err
	}
	var out analyze.Output
	out.Findings = a.fileFindings(in, facts)
	cfg, values := a.configFindings(in)
	out.Findings = append(out.Findings, cfg...)
	out.Redact = values
	switch {
	case a.ConfigOnly:
		out.Coverage = []scorecard.Coverage{{Practice: scorecard.P1, Reason: "only the config and history were checked, no file was read"}}
	case in.Empty() && len(out.Findings) == 0:
		out.Coverage = []scorecard.Coverage{{Practice: scorecard.P1, Reason: scorecard.NothingToJudge}}
	default:
		out.Coverage = []scorecard.Coverage{coverage(out.Findings, tot, len(facts), in.System.Owned())}
	}
	return &out, ctx.Err()
}

// loadFacts decodes the facts of every layer and adds up the counters.
func loadFacts(in *analyze.Input) ([]layerFacts, totals, error) {
	facts := make([]layerFacts, len(in.Facts))
	var t totals
	for i, raw := range in.Facts {
		if len(raw) == 0 {
			continue
		}
		if err := json.Unmarshal(raw, &facts[i]); err != nil {
			return nil, t, fmt.Errorf("layer %d: secret facts: %w", i+1, err)
		}
		t.scanned += facts[i].Scanned
		t.scannedBytes += facts[i].ScannedBytes
		t.skipped += facts[i].Skipped
		t.skippedBytes += facts[i].SkippedBytes
		t.truncated += facts[i].Truncated
		t.binaryBytes += facts[i].BinaryBytes
	}
	return facts, t, nil
}

// fileFindings turns the matches of every layer into findings, classed
// (build, vendor, test fixture) and located.
func (a *Analyzer) fileFindings(in *analyze.Input, facts []layerFacts) []scorecard.Finding {
	rules := map[string]*Rule{}
	for _, r := range a.detector().Rules() {
		rules[r.ID] = r
	}
	layers := in.Tree.Layers()
	shadow := newShadowSplit(in, facts)
	var out []scorecard.Finding
	for i, lf := range facts {
		var byPath map[string]*fstree.Entry
		if len(lf.Files) > 0 && i < len(layers) {
			// Only the files with facts are looked up: the lookup builds
			// no string per file of the layer.
			byPath = make(map[string]*fstree.Entry, len(lf.Files))
			for _, ff := range lf.Files {
				byPath[ff.Path] = nil
			}
			var p []byte
			for _, e := range layers[i].All() {
				if e.Type != fstree.Regular {
					continue
				}
				p = e.AppendPath(p[:0])
				if _, ok := byPath[string(p)]; ok {
					byPath[string(p)] = e
				}
			}
		}
		for _, ff := range lf.Files {
			class, pkg := ClassBuild, ""
			// Unchanged from the package that owns it (the shared facts
			// hold the package databases' checksums).
			if o, ok := in.System.Owner(ff.Path); ok && o.Sum != "" && (o.Sum == "md5:"+ff.MD5 || o.Sum == "sha1:"+ff.SHA1) {
				class, pkg = ClassVendor, o.Package
			} else if isThirdPartyTestPath(ff.Path) {
				class = ClassTestFixture
			}
			for _, m := range ff.Matches {
				r := rules[m.Rule]
				if r == nil || shadow.baseOwned(i+1, ff.Path, m) {
					continue
				}
				f := a.fileFinding(r, m, ff, class)
				if e := byPath[ff.Path]; e != nil {
					in.Locate(&f, e)
				} else {
					f.Path = fstree.Display(ff.Path)
					in.LocateLayer(&f, i+1)
				}
				if pkg != "" {
					f.Package = &scorecard.PackageRef{Name: pkg}
				}
				describeFate(&f)
				out = append(out, f)
			}
		}
	}
	return out
}

// shadowSplit implements P1's side of the shadow split (see
// imagecfg.ShadowBaseLayers): a hash in a shadow file is P1's only when a
// layer after the base image's wrote it and the base's version of the same
// file did not already hold a hash for that account.
type shadowSplit struct {
	base int
	// baseHashes maps a shadow file to the accounts with a hash in the
	// base image's last version of it.
	baseHashes map[string]map[string]bool
}

func newShadowSplit(in *analyze.Input, facts []layerFacts) *shadowSplit {
	s := &shadowSplit{base: imagecfg.ShadowBaseLayers(in.Image), baseHashes: map[string]map[string]bool{}}
	layers := in.Tree.Layers()
	for i := 0; i < s.base && i < len(layers) && i < len(facts); i++ {
		for _, e := range layers[i].All() {
			if e.Type != fstree.Regular || !isShadowName(e.Name()) || !isShadow(e.Path()) {
				continue
			}
			accounts := map[string]bool{} // this version replaces earlier ones
			for _, ff := range facts[i].Files {
				if ff.Path != e.Path() {
					continue
				}
				for _, m := range ff.Matches {
					if m.Rule == ruleShadowHash {
						accounts[m.Key] = true
					}
				}
			}
			s.baseHashes[e.Path()] = accounts
		}
	}
	return s
}

// baseOwned reports whether match m of file p in layer is the base
// image's shadow hash, which P1 leaves to P2.
func (s *shadowSplit) baseOwned(layer int, p string, m matchFact) bool {
	if m.Rule != ruleShadowHash {
		return false
	}
	return layer <= s.base || s.baseHashes[p][m.Key]
}

// coverage is P1's line on the scorecard.
func coverage(fs []scorecard.Finding, t totals, layers, owned int) scorecard.Coverage {
	live, warn, vendor := 0, 0, 0
	for _, f := range fs {
		if c := f.Evidence["class"]; c == ClassVendor || c == ClassTestFixture {
			vendor++
		}
		switch {
		case f.Severity.Rank() >= scorecard.High.Rank():
			live++
		case f.Severity.Rank() > scorecard.Info.Rank():
			warn++
		}
	}
	return scorecard.Coverage{
		Practice: scorecard.P1,
		Ran:      true,
		FailAt:   scorecard.High,
		Summary: fmt.Sprintf("%s (%d likely live, %d lower confidence, %d in package or test files) in %s scanned across %s; %s skipped",
			humanize.Count(len(fs), "secret"), live, warn, vendor, humanize.Count(t.scanned, "file"), humanize.Count(layers, "layer"), humanize.Count(t.skipped, "large binary", "large binaries")),
		Metrics: map[string]any{
			"secretsFound":        len(fs),
			"vendorSecrets":       vendor,
			"filesScanned":        t.scanned,
			"bytesScanned":        t.scannedBytes,
			"binaryBytesScanned":  t.binaryBytes,
			"binariesSkipped":     t.skipped,
			"binaryBytesSkipped":  t.skippedBytes,
			"filesTruncated":      t.truncated,
			"packageOwnedIndexed": owned,
		},
	}
}

// severityFor lowers a rule's severity for the class, encryption and the
// match's confidence: high keeps the rule's severity, medium caps it at
// medium, low at low.
func severityFor(r *Rule, m matchFact, class string) (scorecard.Severity, string) {
	sev := r.Severity
	confidence := "high"
	if m.Encrypted {
		sev, confidence = scorecard.Medium, "medium"
	}
	switch class {
	case ClassVendor:
		return scorecard.Info, "low"
	case ClassTestFixture:
		return scorecard.Low, "low"
	}
	switch m.Confidence {
	case Medium:
		if sev.Rank() > scorecard.Medium.Rank() {
			sev = scorecard.Medium
		}
		return sev, string(Medium)
	case Low:
		return scorecard.Low, string(Low)
	case High:
		return sev, string(High)
	}
	if sev.Rank() <= scorecard.Medium.Rank() {
		confidence = "medium"
	}
	return sev, confidence
}

func (a *Analyzer) fileFinding(r *Rule, m matchFact, ff fileFacts, class string) scorecard.Finding {
	if r.ID == "SS-P1-generic-assignment" && isEnvFile(ff.Path) {
		r2 := *r
		r2.Severity = scorecard.High
		r = &r2
	}
	sev, conf := severityFor(r, m, class)
	kind := kindFor(r, ff.Path, m.Encrypted)
	if m.Default {
		kind += " (looks like a default value)"
	}
	f := scorecard.Finding{
		Practice: scorecard.P1,
		Rule:     r.ID,
		Severity: sev,
		Title:    fmt.Sprintf("%s%s in %s", capitalize(kind), titleValue(r, m.Redacted), fstree.Display(ff.Path)),
		Evidence: map[string]any{
			"kind":       kind,
			"secret":     m.Redacted,
			"class":      class,
			"confidence": conf,
			"secretHash": m.Hash,
		},
		Fingerprint: fingerprint(r.ID, ff.Path, m.Hash),
	}
	if m.Line > 0 && !ff.Binary {
		f.Evidence["line"] = m.Line
	}
	if m.Encrypted {
		f.Evidence["encrypted"] = true
	}
	if m.Key != "" {
		f.Evidence["key"] = m.Key
	}
	if m.Default {
		f.Evidence["default"] = true
	}
	if a.ShowSecrets && m.Value != "" {
		f.Evidence["secret"] = m.Value
	}
	switch class {
	case ClassVendor:
		f.Description = "The file belongs to a distribution package and is unchanged from it: this is most likely a test key or sample the vendor ships, not a credential of yours."
		f.Fix = "No action needed unless the key is used by your service; to silence it, add a .shipshapeignore entry for this path."
	case ClassTestFixture:
		f.Description = "The file is in a test, example or documentation directory of a third-party package."
		f.Fix = "Check that the value is a fixture; remove test directories from the final image (multi-stage build) to be sure."
	default:
		f.Description = fmt.Sprintf("The %s is stored in the image's layers, where anyone who can pull the image can read it.", kind)
		fix := r.Fix
		if strings.HasPrefix(ff.Path, "/etc/ssh/ssh_host_") {
			fix = fixHostKey
		}
		if !m.Encrypted {
			fix += " " + rotate
		} else {
			fix += " The key is encrypted, but its passphrase may be guessable: rotate it too."
		}
		f.Fix = fix + " `shipshape fix secrets` writes a copy of the image without the file."
	}
	return f
}

// describeFate adds the "removed but recoverable" evidence.
func describeFate(f *scorecard.Finding) {
	switch {
	case f.RemovedInLayer > 0:
		f.Evidence["recoverable"] = fmt.Sprintf("removed in layer %d but still recoverable from layer %d", f.RemovedInLayer, f.Layer)
	case f.OverwrittenInLayer > 0:
		f.Evidence["recoverable"] = fmt.Sprintf("overwritten in layer %d but still recoverable from layer %d", f.OverwrittenInLayer, f.Layer)
	}
}

func kindFor(r *Rule, p string, encrypted bool) string {
	k := r.Kind
	if r.ID == "SS-P1-private-key" {
		switch {
		case strings.HasPrefix(p, "/etc/ssh/ssh_host_"):
			k = "SSH host private key"
		case strings.Contains(p, "/.ssh/"):
			k = "SSH private key"
		}
		if encrypted {
			k = "encrypted " + k
		}
	}
	if isEnvFile(p) && r.ID == "SS-P1-generic-assignment" {
		k = "secret in .env file"
	}
	return k
}

func capitalize(s string) string {
	if s == "" || strings.HasPrefix(s, "npm ") {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// titleValue shows the redacted value in a title (never the whole one),
// except for keys, whose redacted form is a PEM header.
func titleValue(r *Rule, redacted string) string {
	if r.ID == "SS-P1-private-key" || redacted == "" {
		return ""
	}
	return " " + redacted
}

// fingerprint identifies a finding across scans and rebuilds: the rule,
// where it is, and a hash of the value (not the layer, which changes with
// every rebuild).
func fingerprint(parts ...string) string {
	h := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(h[:12])
}

var reTestPath = regexp.MustCompile(`/(?:site-packages|dist-packages|node_modules|gems|vendor|share/doc|share/java|lib/jvm|go/pkg/mod|src)/.*/(?:tests?|testdata|test_data|fixtures?|examples?|samples?|docs?|spec)/|/(?:site-packages|dist-packages)/[^/]+\.(?:dist|egg)-info/(?:METADATA|PKG-INFO|DESCRIPTION\.rst)$`)

// isThirdPartyTestPath reports whether p is inside a test, example or
// documentation directory of a third-party package, or is a Python
// package's metadata (its README, with the package's usage examples).
func isThirdPartyTestPath(p string) bool { return reTestPath.MatchString(p) }
