package secret

// Evaluation of osv-scalibr's veles detectors against shipshape's rules:
// recall on the same realistic samples, and throughput on the same text.
// Veles validators (which call the providers' APIs) are never used: only
// the offline detectors.

import (
	"bytes"
	"context"
	"fmt"
	"hash/crc32"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/osv-scalibr/veles"
	"github.com/google/osv-scalibr/veles/secrets/awsaccesskey"
	"github.com/google/osv-scalibr/veles/secrets/azurestorageaccountaccesskey"
	"github.com/google/osv-scalibr/veles/secrets/dockerhubpat"
	"github.com/google/osv-scalibr/veles/secrets/gcpsak"
	"github.com/google/osv-scalibr/veles/secrets/github"
	"github.com/google/osv-scalibr/veles/secrets/gitlabpat"
	"github.com/google/osv-scalibr/veles/secrets/jwt"
	"github.com/google/osv-scalibr/veles/secrets/npmjsaccesstoken"
	"github.com/google/osv-scalibr/veles/secrets/privatekey"
	"github.com/google/osv-scalibr/veles/secrets/pypiapitoken"
	"github.com/google/osv-scalibr/veles/secrets/sendgrid"
	"github.com/google/osv-scalibr/veles/secrets/slacktoken"
	"github.com/google/osv-scalibr/veles/secrets/stripeapikeys"
	"github.com/google/osv-scalibr/veles/secrets/urlcreds"
)

// velesDetectors are the veles detectors for the kinds P1 must find.
func velesDetectors() []veles.Detector {
	return []veles.Detector{
		privatekey.NewDetector(), awsaccesskey.NewDetector(), gcpsak.NewDetector(),
		azurestorageaccountaccesskey.NewDetector(),
		github.NewClassicPATDetector(), github.NewFineGrainedPATDetector(), github.NewOAuthTokenDetector(),
		github.NewAppS2STokenDetector(), github.NewAppU2SDetector(), github.NewAppRefreshTokenDetector(),
		gitlabpat.NewDetector(), slacktoken.NewAppLevelTokenDetector(), slacktoken.NewAppConfigAccessTokenDetector(),
		slacktoken.NewAppConfigRefreshTokenDetector(), stripeapikeys.NewSecretKeyDetector(), stripeapikeys.NewRestrictedKeyDetector(),
		npmjsaccesstoken.NewDetector(), pypiapitoken.NewDetector(), dockerhubpat.NewDetector(), sendgrid.NewDetector(),
		jwt.NewDetector(), urlcreds.NewDetector(),
	}
}

// githubToken is a classic GitHub PAT with a valid checksum: 30 random
// base62 characters and the base62 CRC32 of them (veles checks it).
func githubToken(seed uint64) string {
	r := mrand.New(mrand.NewPCG(seed, seed))
	body := tokenChars(r, alnum, 30)
	const b62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	c := crc32.ChecksumIEEE([]byte(body))
	var sum []byte
	for c > 0 {
		sum = append([]byte{b62[c%62]}, sum...)
		c /= 62
	}
	for len(sum) < 6 {
		sum = append([]byte{'0'}, sum...)
	}
	return "ghp_" + body + string(sum)
}

// recallCorpus is one sample per kind, in the context a build leaves it.
func recallCorpus(t testing.TB) []struct{ name, path, content string } {
	s := newFakeSecrets(t, 11)
	return []struct{ name, path, content string }{
		{"rsa key", "/root/.ssh/id_rsa", s.RSAKey},
		{"openssh key", "/root/.ssh/id_ed25519", s.OpenSSHKey},
		{"encrypted openssh key", "/root/.ssh/id_ed25519", s.EncryptedOpenSSHKey},
		{"encrypted pkcs8", "/app/key.pem", s.EncryptedPKCS8},
		{"aws pair in credentials file", "/root/.aws/credentials", "[default]\naws_access_key_id = " + s.AWSKeyID + "\naws_secret_access_key = " + s.AWSSecret + "\n"},
		{"aws secret in env file", "/app/.env", "AWS_SECRET_ACCESS_KEY=" + s.AWSSecret + "\n"},
		{"github pat", "/src/main.go", `tok := "` + s.GitHub + `"`},
		{"github pat with valid checksum", "/src/main.go", `tok := "` + githubToken(11) + `"`},
		{"gitlab pat", "/ci.txt", "token " + s.GitLab},
		{"slack bot token", "/bot.js", "slack('" + s.Slack + "')"},
		{"stripe live key", "/pay.rb", "Stripe.api_key = '" + s.Stripe + "'"},
		{"npm token in .npmrc", "/root/.npmrc", "//registry.npmjs.org/:_authToken=" + s.NPM + "\n"},
		{"npm legacy token in .npmrc", "/root/.npmrc", "//registry.example.com/:_authToken=3f1e9c2a-7b4d-4e8f-9a6c-1d2e3f4a5b6c\n"},
		{"pypi token", "/root/.pypirc", "[pypi]\nusername = __token__\npassword = " + s.PyPI + "\n"},
		{"pypirc password", "/root/.pypirc", "[pypi]\nusername = ci\npassword = Qw9!mZr2Lp\n"},
		{"docker hub pat", "/x.txt", s.Docker},
		{"docker config auth", "/root/.docker/config.json", `{"auths":{"registry.example.com":{"auth":"Y2k6czNjcjN0UGFzc3dvcmQ="}}}`},
		{"sendgrid", "/mail.py", "KEY = '" + s.SendGrid + "'"},
		{"twilio", "/sms.py", "twilio_client = Client('" + s.Twilio + "')"},
		{"azure connection string", "/app.cfg", "DefaultEndpointsProtocol=https;AccountName=prod;AccountKey=" + s.AzureKey + ";EndpointSuffix=core.windows.net"},
		{"jwt", "/x.txt", "Authorization: Bearer " + s.JWT},
		{"database url", "/app/db.txt", "DATABASE_URL=postgres://app:Xk29fjQ0pLm@db.internal:5432/app"},
		{"git credentials", "/root/.git-credentials", "https://ci-bot:" + s.GitLab + "@gitlab.internal\n"},
		{"netrc", "/root/.netrc", "machine example.com login ci password Tr0ub4dor&3x\n"},
		{"kubeconfig token", "/root/.kube/config", "users:\n- name: ci\n  user:\n    token: kq8Z3mN0pR7sT1vW4xY6zA9bC2dE5fG8\n"},
		{".env password", "/app/.env", "DB_HOST=db\nDB_PASSWORD=hT7-kP2qZ9wL\n"},
	}
}

func velesFinds(t testing.TB, e *veles.DetectionEngine, content string) int {
	ss, err := e.Detect(context.Background(), strings.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	return len(ss)
}

// TestRecallAgainstVeles records recall of both on the corpus, and fails if
// shipshape's rules miss a sample.
func TestRecallAgainstVeles(t *testing.T) {
	e, err := veles.NewDetectionEngine(velesDetectors())
	if err != nil {
		t.Fatal(err)
	}
	d := NewDetector(Rules())
	corpus := recallCorpus(t)
	ours, theirs := 0, 0
	var table strings.Builder
	for _, c := range corpus {
		o := len(d.ScanBytes([]byte(c.content), c.path)) > 0
		v := velesFinds(t, e, c.content) > 0
		if o {
			ours++
		} else {
			t.Errorf("shipshape misses %s", c.name)
		}
		if v {
			theirs++
		}
		fmt.Fprintf(&table, "  %-30s shipshape=%-5v veles=%v\n", c.name, o, v)
	}
	t.Logf("recall on %d samples: shipshape %d, veles %d\n%s", len(corpus), ours, theirs, table.String())
}

// benchText is text like the files of an image: source, configuration and
// base64 blobs, with a few secrets.
func benchText(b *testing.B, size int) []byte {
	if dir := os.Getenv("SHIPSHAPE_P1_CORPUS_DIR"); dir != "" {
		// Real text: the files of a directory (e.g. /usr/lib/python3).
		var buf bytes.Buffer
		filepath.WalkDir(dir, func(p string, de os.DirEntry, err error) error {
			if err != nil || buf.Len() >= size || !de.Type().IsRegular() {
				return nil
			}
			if c, err := os.ReadFile(p); err == nil && bytes.IndexByte(c[:min(len(c), 8192)], 0) < 0 {
				buf.Write(c)
			}
			return nil
		})
		return buf.Bytes()
	}
	r := mrand.New(mrand.NewPCG(1, 2))
	words := strings.Fields("the of and to a in is it you that he was for on are with as I his they be at one have this from or had by hot word but what some we can out other were all there when up use your how said an each she which do their time if will way about many then them write would like so these her long make thing see him two has look more day could go come did number sound no most people my over know water than call first who may down side been now find def return import class self config password token key secret url http https user value")
	var buf bytes.Buffer
	s := newFakeSecrets(b, 5)
	for buf.Len() < size {
		switch r.IntN(50) {
		case 0:
			buf.WriteString("export GITHUB_TOKEN=" + s.GitHub + "\n")
		case 1, 2, 3:
			buf.WriteString(tokenChars(r, b64, 76) + "\n")
		default:
			for range 8 + r.IntN(8) {
				buf.WriteString(words[r.IntN(len(words))])
				buf.WriteByte(" ._(=:,"[r.IntN(7)])
			}
			buf.WriteByte('\n')
		}
	}
	return buf.Bytes()
}

func BenchmarkDetectors(b *testing.B) {
	text := benchText(b, 16<<20)
	// A configuration file gets every rule; other files skip the
	// path-specific ones (generic assignments, .npmrc, kubeconfig …).
	for _, p := range []string{"/app/config.yaml", "/usr/lib/app/module.py"} {
		b.Run("shipshape"+p, func(b *testing.B) {
			d := NewDetector(Rules())
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				d.ScanBytes(text, p)
			}
		})
	}
	b.Run("veles", func(b *testing.B) {
		e, err := veles.NewDetectionEngine(velesDetectors())
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			e.Detect(context.Background(), bytes.NewReader(text))
		}
	})
}
