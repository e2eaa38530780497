package secret

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestDetect(t *testing.T) {
	s := newFakeSecrets(t, 1)
	d := NewDetector(Rules())
	tests := []struct {
		name, path, content string
		rule, value         string // rule "" means: nothing found
		encrypted           bool
	}{
		{"aws key id", "/app/settings.txt", "key id " + s.AWSKeyID + " here", "SS-P1-aws-access-key-id", s.AWSKeyID, false},
		{"aws secret", "/app/deploy.sh", "export AWS_SECRET_ACCESS_KEY=" + s.AWSSecret + "\n", "SS-P1-aws-secret-access-key", s.AWSSecret, false},
		{"aws credentials file", "/root/.aws/credentials", "[default]\naws_access_key_id = x\naws_secret_access_key = " + s.AWSSecret + "\n", "SS-P1-aws-secret-access-key", s.AWSSecret, false},
		{"github", "/src/main.go", `const tok = "` + s.GitHub + `"`, "SS-P1-github-token", s.GitHub, false},
		{"gitlab", "/ci.txt", "token " + s.GitLab, "SS-P1-gitlab-token", s.GitLab, false},
		{"slack", "/bot.js", "slack('" + s.Slack + "')", "SS-P1-slack-token", s.Slack, false},
		{"stripe", "/pay.rb", "Stripe.api_key = '" + s.Stripe + "'", "SS-P1-stripe-key", s.Stripe, false},
		{"npm token", "/x.txt", s.NPM, "SS-P1-npm-token", s.NPM, false},
		{"npmrc", "/root/.npmrc", "//registry.example.com/:_authToken=q8ZmN2vLw0Rt5YkP3x\n", "SS-P1-npmrc-auth", "q8ZmN2vLw0Rt5YkP3x", false},
		{"pypi", "/x.txt", "tok=" + s.PyPI, "SS-P1-pypi-token", s.PyPI, false},
		{"docker hub", "/x.txt", s.Docker, "SS-P1-dockerhub-pat", s.Docker, false},
		{"sendgrid", "/mail.py", "KEY = '" + s.SendGrid + "'", "SS-P1-sendgrid-key", s.SendGrid, false},
		{"twilio", "/sms.py", "twilio_client = Client('" + s.Twilio + "')", "SS-P1-twilio-key", s.Twilio, false},
		{"azure", "/app.cfg", "DefaultEndpointsProtocol=https;AccountName=prod;AccountKey=" + s.AzureKey + ";EndpointSuffix=core.windows.net", "SS-P1-azure-storage-key", s.AzureKey, false},
		{"jwt", "/x.txt", "Authorization: Bearer " + s.JWT, "SS-P1-jwt", s.JWT, false},
		{"database url", "/app/db.txt", "DATABASE_URL=postgres://app:Xk29fjQ0pLm@db.internal:5432/app", "SS-P1-url-credentials", "Xk29fjQ0pLm", false},
		{"git credentials", "/root/.git-credentials", "https://ci-bot:" + s.GitHub + "@github.com\n", "SS-P1-github-token", s.GitHub, false},
		{"docker config", "/root/.docker/config.json", `{"auths":{"registry.example.com":{"auth":"Y2k6czNjcjN0UGFzc3dvcmQ="}}}`, "SS-P1-docker-config-auth", "Y2k6czNjcjN0UGFzc3dvcmQ=", false},
		{"netrc", "/root/.netrc", "machine example.com login ci password Tr0ub4dor&3x\n", "SS-P1-netrc", "Tr0ub4dor&3x", false},
		{"pypirc", "/root/.pypirc", "[pypi]\nusername = ci\npassword = Qw9!mZr2Lp\n", "SS-P1-pypirc", "Qw9!mZr2Lp", false},
		{"kubeconfig", "/root/.kube/config", "users:\n- name: ci\n  user:\n    token: kq8Z3mN0pR7sT1vW4xY6zA9bC2dE5fG8\n", "SS-P1-kubeconfig", "kq8Z3mN0pR7sT1vW4xY6zA9bC2dE5fG8", false},
		{"dotenv", "/app/.env", "DB_HOST=db\nDB_PASSWORD=hT7#kP2qZ9wL\n", "SS-P1-dotenv", "hT7#kP2qZ9wL", false},
		// A default password is still reported, at low confidence.
		{"default password in env", "/app/.env", "DB_PASSWORD=changeme\nAPI_TOKEN=${API_TOKEN}\n", "SS-P1-dotenv", "changeme", false},
		{"rsa key", "/root/.ssh/id_rsa", s.RSAKey, "SS-P1-private-key", strings.TrimSuffix(s.RSAKey, "\n"), false},
		{"openssh key", "/root/.ssh/id_ed25519", s.OpenSSHKey, "SS-P1-private-key", strings.TrimSuffix(s.OpenSSHKey, "\n"), false},
		{"encrypted openssh key", "/root/.ssh/id_ed25519", s.EncryptedOpenSSHKey, "SS-P1-private-key", strings.TrimSuffix(s.EncryptedOpenSSHKey, "\n"), true},
		{"encrypted pkcs8", "/app/key.pem", s.EncryptedPKCS8, "SS-P1-private-key", strings.TrimSuffix(s.EncryptedPKCS8, "\n"), true},

		// Must not alarm.
		{"aws documentation example", "/doc.md", "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "", "", false},
		{"key header without body", "/usr/lib/python3/ssl.py", `if line == "-----BEGIN RSA PRIVATE KEY-----":`, "", "", false},
		{"references in env", "/app/.env", "DB_PASSWORD=${DB_PASSWORD}\nAPI_TOKEN=$(cat /run/secrets/t)\nSECRET_KEY=\n", "", "", false},
		{"generic in source code", "/app/main.py", "password = get_password_from_vault(name)\n", "", "", false},
		{"generic outside config files", "/app/main.py", "TOKEN = 'hT7#kP2qZ9wLaa'\n", "", "", false},
		{"documentation url", "/app/x.conf", "uri = URI.parse('http://john:S3nsit1ve@my.example.com')", "", "", false},
		{"url without password", "/app/x.conf", "url = https://user@example.com/path", "", "", false},
		{"low entropy", "/app/x.conf", "password = aaaaaaaabbbb\n", "", "", false},
		{"npmrc rule outside .npmrc", "/app/readme.txt", "_authToken=q8ZmN2vLw0Rt5YkP3x", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms := d.ScanBytes([]byte(tt.content), tt.path)
			if tt.rule == "" {
				if len(ms) != 0 {
					t.Fatalf("want nothing, got %s %q", ms[0].Rule.ID, ms[0].Value)
				}
				return
			}
			if len(ms) != 1 {
				var ids []string
				for _, m := range ms {
					ids = append(ids, m.Rule.ID+"="+m.Value)
				}
				t.Fatalf("want one match, got %d: %v", len(ms), ids)
			}
			m := ms[0]
			if m.Rule.ID != tt.rule || m.Value != tt.value || m.Encrypted != tt.encrypted {
				t.Errorf("got %s %q encrypted=%v, want %s %q encrypted=%v", m.Rule.ID, m.Value, m.Encrypted, tt.rule, tt.value, tt.encrypted)
			}
			// The streaming scan agrees with the in-memory one.
			sm, err := d.Scan(strings.NewReader(tt.content), tt.path)
			if err != nil || len(sm) != 1 || sm[0].Value != m.Value || sm[0].Line != m.Line {
				t.Errorf("streaming scan: %v %+v", err, sm)
			}
		})
	}
}

// TestScanChunkBoundaries puts secrets across every chunk boundary of a
// long line-less stream.
func TestScanChunkBoundaries(t *testing.T) {
	s := newFakeSecrets(t, 2)
	d := NewDetector(Rules())
	for _, at := range []int{chunkSize - 10, chunkSize - overlap/2 - 5, chunkSize + 3, 3*chunkSize - 20} {
		filler := bytes.Repeat([]byte{'x'}, at)
		r := io.MultiReader(bytes.NewReader(filler), strings.NewReader(" "+s.GitHub+" "), bytes.NewReader(filler))
		ms, err := d.Scan(r, "/big")
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 1 || ms[0].Value != s.GitHub || ms[0].Offset != int64(at+1) {
			t.Errorf("secret at %d: got %+v", at, ms)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"ghp_abcdefghijklmnopqrstuvwxyz0123456789": "ghp_…6789",
		"hT7#kP2qZ9wL": "hT…wL",
		"short":        "*****",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseBuildArgs(t *testing.T) {
	line := "RUN |2 NPM_TOKEN=npm_abc VERSION=1.2 /bin/sh -c npm ci"
	names, values, spans := ParseBuildArgs(line)
	if strings.Join(names, ",") != "NPM_TOKEN,VERSION" || strings.Join(values, ",") != "npm_abc,1.2" {
		t.Fatalf("got %v %v", names, values)
	}
	for i, sp := range spans {
		if line[sp[0]:sp[1]] != values[i] {
			t.Errorf("span %d = %q", i, line[sp[0]:sp[1]])
		}
	}
	if n, _, _ := ParseBuildArgs("/bin/sh -c #(nop) ENV A=b"); n != nil {
		t.Errorf("non-BuildKit line parsed: %v", n)
	}
}

// TestHostileKeyText feeds truncated and malformed PEM text: no panic, no
// finding without a key body.
func TestHostileKeyText(t *testing.T) {
	d := NewDetector(Rules())
	s := newFakeSecrets(t, 3)
	inputs := []string{
		"-----BEGIN RSA PRIVATE KEY-----",
		"-----BEGIN RSA PRIVATE KEY-----\n-----END",
		"-----BEGIN RSA PRIVATE KEY-----END RSA PRIVATE KEY-----",
		"-----BEGIN PRIVATE KEY-----" + strings.Repeat("A", 10) + "-----END",
		`"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"`,
		"-----BEGIN OPENSSH PRIVATE KEY-----\n" + strings.Repeat("!", 100) + "\n-----END OPENSSH PRIVATE KEY-----",
	}
	for i := 1; i < len(s.RSAKey); i += 7 {
		inputs = append(inputs, s.RSAKey[:i], s.RSAKey[i:], s.RSAKey[:i]+"-----END")
	}
	for _, in := range inputs {
		for _, m := range d.ScanBytes([]byte(in), "/x") {
			if m.Rule.ID == "SS-P1-private-key" && len(m.Value) < 95 { // header + 64 base64 characters at least
				t.Errorf("key without body reported: %q", m.Value)
			}
		}
	}
}

// TestManySecretsCapped: a file made of tokens reports at most MaxMatches
// and stops looking (no quadratic work on hostile input).
func TestManySecretsCapped(t *testing.T) {
	s := newFakeSecrets(t, 4)
	text := strings.Repeat(s.GitHub+" ", 3*chunkSize/len(s.GitHub))
	ms, err := NewDetector(Rules()).Scan(strings.NewReader(text), "/x")
	if err != nil || len(ms) != MaxMatches {
		t.Fatalf("got %d matches (%v), want %d", len(ms), err, MaxMatches)
	}
}
