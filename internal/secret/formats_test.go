package secret

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// corpusFile is one fixture: testdata/{recall,clean}/RULE/PATH holds the
// file an image would have at /PATH, and RULE is the rule (format) that
// must find its credential (recall) or must not fire on it (clean).
type corpusFile struct {
	rule, path string
	body       []byte
}

func readCorpus(t testing.TB, dir string) []corpusFile {
	t.Helper()
	var out []corpusFile
	root := filepath.Join("testdata", dir)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rule, ip, _ := strings.Cut(filepath.ToSlash(rel), "/")
		if rule == "README.md" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out = append(out, corpusFile{rule: rule, path: "/" + ip, body: b})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("no fixtures in %s", root)
	}
	return out
}

// TestFormatRuleFixtures checks every format rule against its good and bad
// fixtures: each bad file yields the rule's finding, with its key and line
// and not as a default; a good file yields nothing from the rule and
// nothing at medium confidence or above from any rule.
func TestFormatRuleFixtures(t *testing.T) {
	d := NewDetector(Rules())
	haveBad, haveGood := map[string]bool{}, map[string]bool{}
	for _, f := range readCorpus(t, "recall") {
		haveBad[f.rule] = true
		t.Run("bad/"+f.rule+f.path, func(t *testing.T) {
			ms := d.ScanBytes(f.body, f.path)
			found := false
			for _, m := range ms {
				if m.Rule.ID != f.rule {
					continue
				}
				found = true
				if m.Rule.Parse != nil && (m.Key == "" || m.Line == 0 || m.Default || m.Confidence == "") {
					t.Errorf("%s: key %q line %d default %v confidence %q", f.rule, m.Key, m.Line, m.Default, m.Confidence)
				}
			}
			if !found {
				var got []string
				for _, m := range ms {
					got = append(got, m.Rule.ID)
				}
				t.Errorf("%s not found in %s (found %v)", f.rule, f.path, got)
			}
		})
	}
	for _, f := range readCorpus(t, "clean") {
		haveGood[f.rule] = true
		t.Run("good/"+f.rule+f.path, func(t *testing.T) {
			for _, m := range d.ScanBytes(f.body, f.path) {
				if m.Rule.ID == f.rule || m.Confidence != Low {
					t.Errorf("%s %s key %q line %d confidence %q", m.Rule.ID, Redact(m.Value), m.Key, m.Line, m.Confidence)
				}
			}
		})
	}
	for _, r := range Rules() {
		if r.Parse != nil && (!haveBad[r.ID] || !haveGood[r.ID]) {
			t.Errorf("format rule %s lacks a fixture: bad %v, good %v", r.ID, haveBad[r.ID], haveGood[r.ID])
		}
	}
}

// TestRecallCorpus scans the recall corpus end to end, as one image layer
// through the analyzer, and measures recall per format: a file counts as
// found when its rule reports it from the layer, at low severity or above.
// Every file of the corpus must be found.
func TestRecallCorpus(t *testing.T) {
	corpus := readCorpus(t, "recall")
	var files []tfile
	for _, f := range corpus {
		files = append(files, tfile{path: f.path, body: string(f.body)})
	}
	// The corpus is what a build added on top of a base image whose
	// accounts are locked.
	base := testLayer(t, tfile{path: "/etc/os-release", body: "ID=alpine\n"}, tfile{path: "/etc/shadow", body: "root:*:19701:0:99999:7:::\n"})
	ref := testImage(t, []v1.Layer{base, testLayer(t, files...)}, v1.Config{}, []v1.History{{CreatedBy: "ADD rootfs.tar.gz /"}, {CreatedBy: "COPY . / # buildkit"}})
	res := scanImage(t, "docker-archive:"+ref, &Analyzer{})
	found := map[string]bool{}
	for _, f := range res.Findings {
		if f.Severity.Rank() >= scorecard.Low.Rank() {
			found[f.Rule+f.Path] = true
		}
	}
	type tally struct{ found, total int }
	per := map[string]*tally{}
	var missed []string
	for _, f := range corpus {
		tl := per[f.rule]
		if tl == nil {
			tl = &tally{}
			per[f.rule] = tl
		}
		tl.total++
		if found[f.rule+f.path] {
			tl.found++
		} else {
			missed = append(missed, f.rule+" "+f.path)
		}
	}
	var rules []string
	for r := range per {
		rules = append(rules, r)
	}
	sort.Strings(rules)
	var table strings.Builder
	all, hit := 0, 0
	for _, r := range rules {
		fmt.Fprintf(&table, "  %-30s %d/%d\n", r, per[r].found, per[r].total)
		all += per[r].total
		hit += per[r].found
	}
	t.Logf("recall %d/%d files (%.1f%%) over %d formats:\n%s", hit, all, 100*float64(hit)/float64(all), len(rules), table.String())
	for _, m := range missed {
		t.Errorf("missed: %s", m)
	}
	// The analyzer never lets a corpus value out in clear.
	for _, f := range res.Findings {
		if s, _ := f.Evidence["secret"].(string); len(s) > 12 && !strings.Contains(s, "…") && !strings.HasPrefix(s, "-----BEGIN") {
			t.Errorf("%s %s: secret evidence not redacted: %q", f.Rule, f.Path, s)
		}
	}
}

// TestCleanCorpusNoFindings scans the good fixtures end to end: nothing at
// medium or above.
func TestCleanCorpusNoFindings(t *testing.T) {
	// Each rule's good fixture in its own layer: paths repeat across rules.
	var layers []v1.Layer
	var hist []v1.History
	for _, f := range readCorpus(t, "clean") {
		layers = append(layers, testLayer(t, tfile{path: f.path, body: string(f.body)}))
		hist = append(hist, v1.History{CreatedBy: "COPY " + f.rule + " /"})
	}
	res := scanImage(t, "docker-archive:"+testImage(t, layers, v1.Config{}, hist), &Analyzer{})
	for _, f := range res.Findings {
		if f.Severity.Rank() >= scorecard.Medium.Rank() {
			t.Errorf("%s %s %s: %v", f.Severity, f.Rule, f.Path, f.Evidence["secret"])
		}
	}
}

// TestCleanAlpineHasNoSecrets scans Alpine's minirootfs images (shared
// test data) with every rule: no P1 finding at medium or above.
func TestCleanAlpineHasNoSecrets(t *testing.T) {
	for _, rel := range []string{"rootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz", "rootfs/alpine-minirootfs-3.12.12-x86_64.tar.gz"} {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			rootfs := testenv.SharedData(t, rel)
			l, err := tarball.LayerFromFile(rootfs)
			if err != nil {
				t.Fatal(err)
			}
			ref := testImage(t, []v1.Layer{l}, v1.Config{}, []v1.History{{CreatedBy: "ADD " + filepath.Base(rel) + " /"}})
			res := scanImage(t, "docker-archive:"+ref, &Analyzer{})
			for _, f := range res.Findings {
				if f.Severity.Rank() >= scorecard.Medium.Rank() {
					t.Errorf("%s %s %s: %v", f.Severity, f.Rule, f.Path, f.Evidence["secret"])
				}
			}
			files := 0
			for _, c := range res.Coverage {
				if c.Practice == scorecard.P1 {
					files, _ = c.Metrics["filesScanned"].(int)
				}
			}
			if files < 50 {
				t.Errorf("only %d files scanned: the rootfs was not read", files)
			}
			t.Logf("%d findings below medium in %d files", len(res.Findings), files)
		})
	}
}

// TestShadowSplitP1: P1 reports the shadow hashes the build added and
// leaves those the base image ships to P2 (imagecfg.ShadowBaseLayers).
func TestShadowSplitP1(t *testing.T) {
	const h1, h2 = "$6$Fq2k9sLm$T0bXr8w3Jc1pQeV6zYh2uN5aK7dG9fS4lR1mC8xB0vE3n", "$y$j9T$4Pz9QmR2sT8vW1xY3zA5b.$Kd8fJ2hL4nP6rT8vX0zB2dF4hJ6lN8pR0tV2x"
	base := testLayer(t, tfile{path: "/etc/shadow", body: "root:" + h1 + ":1::::::\nops:*:1::::::\n"}, tfile{path: "/etc/shadow-", body: "root:" + h1 + ":1::::::\n"})
	build := testLayer(t, tfile{path: "/etc/shadow", body: "root:" + h1 + ":1::::::\nops:" + h2 + ":2::::::\napp:" + h2 + ":2::::::\n"})
	ref := testImage(t, []v1.Layer{base, build}, v1.Config{}, []v1.History{{CreatedBy: "ADD rootfs.tar.gz /"}, {CreatedBy: "RUN chpasswd"}})
	res := scanImage(t, "docker-archive:"+ref, &Analyzer{})
	var got []string
	for _, f := range res.Findings {
		if f.Rule == ruleShadowHash {
			got = append(got, fmt.Sprintf("%s:%d:%v", f.Path, f.Layer, f.Evidence["key"]))
		}
	}
	sort.Strings(got)
	want := []string{"/etc/shadow:2:app", "/etc/shadow:2:ops"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("shadow findings %v, want %v", got, want)
	}
}

// FuzzFormatParsers feeds arbitrary content to every format rule, through
// the detector at a path the rule accepts: no panic, and every match lies
// inside the content.
func FuzzFormatParsers(f *testing.F) {
	for _, c := range readCorpus(f, "recall") {
		f.Add(c.body, c.path)
	}
	f.Add([]byte("<?xml version='1.1'?><a b='x\"'>\x00<password>"), "/x/tomcat-users.xml")
	f.Add([]byte("a:b\\:c\\"), "/root/.pgpass")
	d := NewDetector(Rules())
	f.Fuzz(func(t *testing.T, b []byte, p string) {
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		for _, r := range d.Rules() {
			if r.Parse == nil {
				continue
			}
			for _, fl := range r.Parse(b) {
				if fl.Start < 0 || fl.End > len(b) || fl.Start > fl.End {
					t.Fatalf("%s: field %d:%d outside %d bytes", r.ID, fl.Start, fl.End, len(b))
				}
			}
		}
		for _, m := range d.ScanBytes(b, p) {
			if m.Offset < 0 || m.Offset > int64(len(b)) {
				t.Fatalf("%s: offset %d outside %d bytes", m.Rule.ID, m.Offset, len(b))
			}
		}
	})
}

// TestRulesDocumented keeps docs/secrets.md in step with the format rules.
func TestRulesDocumented(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "secrets.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Rules() {
		if r.Parse != nil && !strings.Contains(string(doc), "| "+r.ID+" |") {
			t.Errorf("%s is not in docs/secrets.md", r.ID)
		}
	}
}
