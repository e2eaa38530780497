package secret

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/ed25519"
	"crypto/md5"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"

	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/fstree"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/redact"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

var update = flag.Bool("update", false, "rewrite golden files")

// tfile is one entry of a test layer.
type tfile struct {
	path string
	body string
	// gen streams size bytes of content instead of body.
	gen  func(w io.Writer) error
	size int64
	// whiteout deletes path from lower layers.
	whiteout bool
}

var epoch = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func writeTar(w io.Writer, files []tfile) error {
	tw := tar.NewWriter(w)
	dirs := map[string]bool{}
	for _, f := range files {
		p := strings.TrimPrefix(f.path, "/")
		// Parent directories first, as real layers have them.
		parts := strings.Split(p, "/")
		for i := 1; i < len(parts); i++ {
			d := strings.Join(parts[:i], "/") + "/"
			if !dirs[d] {
				dirs[d] = true
				if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch}); err != nil {
					return err
				}
			}
		}
		if f.whiteout {
			dir, base := filepath.Split(p)
			if err := tw.WriteHeader(&tar.Header{Name: dir + ".wh." + base, Typeflag: tar.TypeReg, Mode: 0o644, ModTime: epoch}); err != nil {
				return err
			}
			continue
		}
		size := int64(len(f.body))
		if f.gen != nil {
			size = f.size
		}
		if err := tw.WriteHeader(&tar.Header{Name: p, Typeflag: tar.TypeReg, Mode: 0o600, Size: size, ModTime: epoch}); err != nil {
			return err
		}
		var err error
		if f.gen != nil {
			err = f.gen(tw)
		} else {
			_, err = io.WriteString(tw, f.body)
		}
		if err != nil {
			return err
		}
	}
	return tw.Close()
}

// testLayer streams a layer's tar; nothing is held in memory.
func testLayer(t testing.TB, files ...tfile) v1.Layer {
	t.Helper()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(writeTar(pw, files)) }()
		return pr, nil
	}, tarball.WithCompressionLevel(gzip.BestSpeed))
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// testImage writes a docker-save archive of layers with the given config
// and history (history entries with EmptyLayer make no layer).
func testImage(t testing.TB, layers []v1.Layer, cfg v1.Config, history []v1.History) string {
	t.Helper()
	img := empty.Image
	var adds []mutate.Addendum
	for _, l := range layers {
		adds = append(adds, mutate.Addendum{Layer: l})
	}
	img, err := mutate.Append(img, adds...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = "amd64", "linux"
	cf.Created = v1.Time{Time: epoch}
	cf.Config = cfg
	cf.History = history
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "image.tar")
	tag, _ := name.NewTag("shipshape-issue3/test:latest")
	if err := tarball.WriteToFile(p, tag, img); err != nil {
		t.Fatal(err)
	}
	return p
}

func scanImage(t testing.TB, ref string, a *Analyzer) *analyze.Result {
	t.Helper()
	ctx := context.Background()
	img, err := image.Open(ctx, ref, image.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	res, err := analyze.Run(ctx, img, []analyze.Analyzer{a}, analyze.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// What the scan pipeline (internal/scan) does with Output.Redact.
	redact.New(res.Redact...).Findings(res.Findings)
	return res
}

// pkcs8Key is a deterministic private key in PKCS#8 PEM.
func pkcs8Key(seed byte) string {
	k := ed25519.NewKeyFromSeed([]byte(strings.Repeat(string(rune('a'+seed)), 32)))
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

func md5hex(s string) string { h := md5.Sum([]byte(s)); return hex.EncodeToString(h[:]) }
func apkSum(s string) string {
	h := sha1.Sum([]byte(s))
	return "Q1" + base64.StdEncoding.EncodeToString(h[:])
}

// leakyImage is a realistic image that leaks secrets every way a build
// can, and ships package-owned test keys that must not alarm.
func leakyImage(t testing.TB) (string, fakeSecrets) {
	s := newFakeSecrets(t, 7)
	vendorKey := pkcs8Key(1)
	apkKey := pkcs8Key(2)
	modifiedKey := pkcs8Key(3)
	const sampleConf = "[client]\nuser = app\npassword = Tq9-vL2mZx8k\n"
	base := testLayer(t,
		tfile{path: "/etc/os-release", body: "ID=debian\n"},
		// python3 ships test certificates with private keys.
		tfile{path: "/usr/lib/python3.11/test/keycert.pem", body: vendorKey},
		// a package file changed after installation is not vendor.
		tfile{path: "/usr/share/pkg/server.key", body: modifiedKey},
		tfile{path: "/var/lib/dpkg/info/libpython3.11-testsuite.md5sums", body: md5hex(vendorKey) + "  usr/lib/python3.11/test/keycert.pem\n"},
		tfile{path: "/var/lib/dpkg/info/pkg:amd64.md5sums", body: md5hex("original") + "  usr/share/pkg/server.key\n"},
		// a package's conffile, unchanged: its checksum is in the status file.
		tfile{path: "/etc/mysql/conf.d/sample.cnf", body: sampleConf},
		tfile{path: "/var/lib/dpkg/status", body: "Package: mysql-sample\nStatus: install ok installed\nConffiles:\n /etc/mysql/conf.d/sample.cnf " + md5hex(sampleConf) + "\nDescription: x\n\nPackage: other\n"},
		tfile{path: "/usr/lib/node/test/fixtures/keys/agent1.key", body: apkKey},
		tfile{path: "/lib/apk/db/installed", body: "C:Q1x\nP:nodejs-test\nV:1\nF:usr/lib/node/test/fixtures/keys\nR:agent1.key\nZ:" + apkSum(apkKey) + "\n\n"},
		// a third-party package's test fixture.
		tfile{path: "/usr/local/lib/python3.11/site-packages/requests/tests/conftest.py", body: "KEY = '''" + pkcs8Key(4) + "'''\n"},
	)
	add := testLayer(t,
		tfile{path: "/root/.ssh/id_ed25519", body: pkcs8Key(5)},
		tfile{path: "/app/.env", body: "DB_HOST=db\nDB_PASSWORD=hT7-kP2qZ9wL\nAWS_ACCESS_KEY_ID=" + s.AWSKeyID + "\n"},
		tfile{path: "/root/.npmrc", body: "//registry.npmjs.org/:_authToken=" + s.NPM + "\n"},
		tfile{path: "/root/.docker/config.json", body: `{"auths":{"registry.example.com":{"auth":"` + base64.StdEncoding.EncodeToString([]byte("ci:"+s.Docker)) + `"}}}`},
	)
	clean := testLayer(t,
		tfile{path: "/root/.ssh/id_ed25519", whiteout: true},
		tfile{path: "/root/.npmrc", whiteout: true},
		tfile{path: "/app/.env", body: "DB_HOST=db\n"},
	)
	app := testLayer(t,
		tfile{path: "/app/tls/key.pem", body: s.EncryptedPKCS8},
		tfile{path: "/app/server.js", body: "const stripe = require('stripe')('" + s.Stripe + "');\n"},
		tfile{path: "/app/README.md", body: "Set aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY in your config.\n"},
	)
	history := []v1.History{
		{CreatedBy: "/bin/sh -c #(nop) ADD file:abc in / ", Created: v1.Time{Time: epoch}},
		{CreatedBy: "ARG NPM_TOKEN", EmptyLayer: true, Created: v1.Time{Time: epoch}},
		{CreatedBy: "COPY . / # buildkit", Created: v1.Time{Time: epoch}},
		{CreatedBy: "RUN |1 NPM_TOKEN=" + s.NPM + " /bin/sh -c rm /root/.ssh/id_ed25519 /root/.npmrc && echo DB_HOST=db > /app/.env # buildkit", Created: v1.Time{Time: epoch}},
		{CreatedBy: "COPY app /app # buildkit", Created: v1.Time{Time: epoch}},
		{CreatedBy: "ENV AWS_SECRET_ACCESS_KEY=" + s.AWSSecret, EmptyLayer: true, Created: v1.Time{Time: epoch}},
		{CreatedBy: "LABEL ci.token=" + s.GitHub, EmptyLayer: true, Created: v1.Time{Time: epoch}},
	}
	cfg := v1.Config{
		Env:    []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "AWS_SECRET_ACCESS_KEY=" + s.AWSSecret, "APP_VERSION=1.2.3"},
		Labels: map[string]string{"ci.token": s.GitHub, "org.opencontainers.image.source": "https://github.com/example/app"},
	}
	return testImage(t, []v1.Layer{base, add, clean, app}, cfg, history), s
}

func TestLeakyImageGolden(t *testing.T) {
	ref, s := leakyImage(t)
	res := scanImage(t, "docker-archive:"+ref, &Analyzer{})
	got, err := json.MarshalIndent(res.Findings, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	golden := filepath.Join("testdata", "leaky.golden.json")
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if string(got) != string(want) {
		t.Errorf("findings differ from %s (go test -update to accept):\n%s", golden, got)
	}
	// Properties the golden file must keep, spelled out.
	out := string(got)
	for _, v := range []string{s.NPM, s.AWSSecret, s.GitHub, s.Stripe, s.AWSKeyID, "hT7-kP2qZ9wL"} {
		if strings.Contains(out, v) {
			t.Errorf("report shows a secret in clear: %s", Redact(v))
		}
	}
	byPath := map[string][]scorecard.Finding{}
	for _, f := range res.Findings {
		byPath[f.Path+f.Field] = append(byPath[f.Path+f.Field], f)
	}
	check := func(key, rule string, sev scorecard.Severity, class string) scorecard.Finding {
		t.Helper()
		for _, f := range byPath[key] {
			if f.Rule == rule {
				if f.Severity != sev || f.Evidence["class"] != class {
					t.Errorf("%s %s: severity %s class %v, want %s %s", key, rule, f.Severity, f.Evidence["class"], sev, class)
				}
				return f
			}
		}
		t.Errorf("no %s finding for %s", rule, key)
		return scorecard.Finding{}
	}
	f := check("/root/.ssh/id_ed25519", "SS-P1-private-key", scorecard.Critical, ClassBuild)
	if f.RemovedInLayer != 3 || f.Layer != 2 || *f.InFinalImage || f.Evidence["recoverable"] != "removed in layer 3 but still recoverable from layer 2" {
		t.Errorf("deleted key evidence: %+v", f)
	}
	f = check("/app/.env", "SS-P1-dotenv", scorecard.High, ClassBuild)
	if f.OverwrittenInLayer != 3 || f.LayerDiffID == "" || !strings.HasPrefix(f.CreatedBy, "COPY") {
		t.Errorf("overwritten .env evidence: %+v", f)
	}
	check("/app/.env", "SS-P1-aws-access-key-id", scorecard.High, ClassBuild)
	check("/root/.npmrc", "SS-P1-npm-token", scorecard.Critical, ClassBuild)
	check("/root/.docker/config.json", "SS-P1-docker-config-auth", scorecard.Critical, ClassBuild)
	check("/app/tls/key.pem", "SS-P1-private-key", scorecard.Medium, ClassBuild)
	check("/app/server.js", "SS-P1-stripe-key", scorecard.Critical, ClassBuild)
	check("/usr/lib/python3.11/test/keycert.pem", "SS-P1-private-key", scorecard.Info, ClassVendor)
	check("/usr/lib/node/test/fixtures/keys/agent1.key", "SS-P1-private-key", scorecard.Info, ClassVendor)
	check("/usr/share/pkg/server.key", "SS-P1-private-key", scorecard.Critical, ClassBuild)
	check("/etc/mysql/conf.d/sample.cnf", "SS-P1-mysql-cnf", scorecard.Info, ClassVendor)
	check("/usr/local/lib/python3.11/site-packages/requests/tests/conftest.py", "SS-P1-private-key", scorecard.Low, ClassTestFixture)
	check(`Env[1]`, "SS-P1-aws-secret-access-key", scorecard.Critical, ClassConfig)
	check(`Labels["ci.token"]`, "SS-P1-github-token", scorecard.Critical, ClassConfig)
	f = check(`History[3].buildArg["NPM_TOKEN"]`, "SS-P1-npm-token", scorecard.Critical, ClassConfig)
	if f.Layer != 3 || !strings.Contains(f.Fix, "--mount=type=secret") || !strings.Contains(f.Fix, "Rotate") {
		t.Errorf("build-arg finding: %+v", f)
	}
	for _, f := range res.Findings {
		if strings.Contains(f.Path, "README") {
			t.Errorf("documentation example reported: %+v", f)
		}
	}
	var p1 scorecard.PracticeResult
	for _, p := range scorecard.Evaluate(res.Findings, res.Coverage) {
		if p.ID == scorecard.P1 {
			p1 = p
		}
	}
	if p1.Status != scorecard.Fail {
		t.Errorf("P1 status %s, want fail", p1.Status)
	}

	// The values to hide leave the analyzer in Redact, not by rewriting
	// the history.
	if !slices.Contains(res.Redact, s.NPM) || !slices.Contains(res.Redact, s.GitHub) {
		t.Errorf("Redact lacks the build-arg and label values (%d values)", len(res.Redact))
	}

	// --show-secrets prints them whole, and hides nothing.
	res = scanImage(t, "docker-archive:"+ref, &Analyzer{ShowSecrets: true})
	shown, _ := json.Marshal(res.Findings)
	for _, v := range []string{s.NPM, s.AWSSecret, s.GitHub, s.Stripe} {
		if !strings.Contains(string(shown), v) {
			t.Errorf("--show-secrets does not show %s", Redact(v))
		}
	}
	if len(res.Redact) != 0 {
		t.Errorf("--show-secrets: %d values to redact, want none", len(res.Redact))
	}
}

// TestFinishLeavesTheImageAlone: the analyzer reads the history and never
// rewrites it (issue 9), even when it holds a build-arg secret; the values
// to hide go to Output.Redact.
func TestFinishLeavesTheImageAlone(t *testing.T) {
	ref, s := leakyImage(t)
	ctx := context.Background()
	img, err := image.Open(ctx, "docker-archive:"+ref, image.Options{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	var before []string
	for _, l := range img.Layers {
		before = append(before, l.CreatedBy)
	}
	if !strings.Contains(strings.Join(before, "\n"), s.NPM) {
		t.Fatal("fixture: the history holds no build-arg secret")
	}
	in := &analyze.Input{Image: img, Tree: fstree.Squash(nil), Facts: make([]json.RawMessage, len(img.Layers))}
	out, err := (&Analyzer{}).Finish(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range img.Layers {
		if l.CreatedBy != before[i] {
			t.Errorf("layer %d history rewritten: %q", i+1, l.CreatedBy)
		}
	}
	if !slices.Contains(out.Redact, s.NPM) {
		t.Errorf("Redact lacks the build-arg value")
	}
}

// TestLargeLinelessFile finds a secret in the middle of a 200 MB file
// without newlines, streamed through the layer pass (never in memory).
func TestLargeLinelessFile(t *testing.T) {
	if testing.Short() {
		t.Skip("200 MB fixture")
	}
	s := newFakeSecrets(t, 9)
	const size = 200 << 20
	secretAt := int64(137<<20 + 12345)
	pattern := []byte(strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=", 30))
	gen := func(w io.Writer) error {
		var n int64
		for n < size {
			chunk := pattern
			if n <= secretAt && secretAt < n+int64(len(chunk)) {
				tok := " " + s.GitHub + " "
				chunk = append(append(append([]byte{}, chunk[:secretAt-n]...), tok...), chunk[secretAt-n:]...)
			}
			if rem := size - n; int64(len(chunk)) > rem {
				chunk = chunk[:rem]
			}
			m, err := w.Write(chunk)
			n += int64(m)
			if err != nil {
				return err
			}
		}
		return nil
	}
	ref := testImage(t, []v1.Layer{testLayer(t, tfile{path: "/app/data.txt", gen: gen, size: size})}, v1.Config{}, []v1.History{{CreatedBy: "COPY data.txt /app/"}})
	start := time.Now()
	res := scanImage(t, "docker-archive:"+ref, &Analyzer{})
	t.Logf("scanned 200 MB in %v", time.Since(start))
	if len(res.Findings) != 1 || res.Findings[0].Rule != "SS-P1-github-token" || res.Findings[0].Evidence["line"] != 1 {
		t.Fatalf("findings: %+v", res.Findings)
	}
	if got := res.Findings[0].Evidence["secret"]; got != Redact(s.GitHub) {
		t.Errorf("secret %v", got)
	}
}
