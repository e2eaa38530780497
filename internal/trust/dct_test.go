package trust

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// dctPublish signs tag → d's manifest in the Notary server with the real
// notary client, as docker trust sign would.
func dctPublish(t *testing.T, server string, d name.Digest, tag string) {
	t.Helper()
	notary := testenv.Binary(t, "notary")
	dir := t.TempDir()
	desc, err := remote.Head(d, ropts()...)
	if err != nil {
		t.Fatal(err)
	}
	gun := d.Context().Name()
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(notary, append([]string{"-s", server, "-d", dir}, args...)...)
		cmd.Env = append(os.Environ(), "NOTARY_ROOT_PASSPHRASE=root-pass", "NOTARY_TARGETS_PASSPHRASE=targets-pass", "NOTARY_SNAPSHOT_PASSPHRASE=snapshot-pass")
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Run(); err != nil {
			t.Fatalf("notary %s: %v: %s", strings.Join(args, " "), err, out.String())
		}
	}
	if _, err := os.Stat(dir + "/tuf/" + gun); err != nil {
		run("init", gun)
	}
	run("addhash", gun, tag, strconv.FormatInt(desc.Size, 10), "--sha256", desc.Digest.Hex)
	run("publish", gun)
}

// Docker Content Trust from a real notary-server, published by the real
// notary client: verified TUF data counts only when trust.dct says so,
// the retirement is always said, and a tag re-pointed after signing fails.
func TestDCT(t *testing.T) {
	addr := registry(t)
	server := testenv.NotaryServer(t)
	ctx := context.Background()
	d := push(t, addr, "dct/app:1")
	dctPublish(t, server, d, "1")

	k := newKey(t, "p256") // a required signer who did not sign
	for _, c := range []struct {
		name    string
		a       *Analyzer
		met     bool
		rules   string
		note    string
		reason  string
		verfied bool
	}{
		{"counts", &Analyzer{Rule: keyRule(t, 0, k), DCT: true}, true, "", "only trust data is Docker Content Trust", "", true},
		{"does not count", &Analyzer{Rule: keyRule(t, 0, k)}, false, "SS-P6-002/high", "does not count", "", true},
		{"no policy", &Analyzer{}, false, "SS-P6-003/low", "2026-12-08", "", true},
		{"expired trust data", &Analyzer{Rule: keyRule(t, 0, k), DCT: true, Now: func() time.Time { return time.Now().AddDate(20, 0, 0) }}, false, "SS-P6-002/high", "", "expired", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.a.NotaryServer = server
			res, cov, err := c.a.Check(ctx, open(t, addr+"/dct/app:1", ""))
			if err != nil {
				t.Fatal(err)
			}
			if res == nil {
				t.Fatalf("not run: %s", cov.Reason)
			}
			if res.Met != c.met || strings.Join(rulesOf(res.Findings), ",") != c.rules {
				t.Errorf("met %v %v, want %v %q (%s)", res.Met, rulesOf(res.Findings), c.met, c.rules, cov.Summary)
			}
			var dct *Entry
			for i := range res.Section.Signatures {
				if res.Section.Signatures[i].Kind == KindDCT {
					dct = &res.Section.Signatures[i]
				}
			}
			if dct == nil || dct.Verified != c.verfied {
				t.Fatalf("DCT entry %+v", dct)
			}
			t.Logf("%+v", dct.Checks[0])
			if c.reason != "" && !strings.Contains(dct.Checks[0].Reason, c.reason) {
				t.Errorf("reason %q, want %q", dct.Checks[0].Reason, c.reason)
			}
			if c.verfied && !strings.Contains(dct.Checks[0].Identity, "1 (targets)") {
				t.Errorf("signed tag not named: %+v", dct.Checks[0])
			}
			if notes := strings.Join(res.Section.Notes, " | "); c.note != "" && !strings.Contains(notes, c.note) {
				t.Errorf("notes %q, want %q", notes, c.note)
			}
		})
	}

	// Root pinning in the policy: the root key id as the server has it,
	// then another.
	resp, err := http.Get(server + "/v2/" + d.Context().Name() + "/_trust/tuf/root.json")
	if err != nil {
		t.Fatal(err)
	}
	var root struct {
		Signed struct {
			Roles map[string]struct {
				KeyIDs []string `json:"keyids"`
			} `json:"roles"`
		} `json:"signed"`
	}
	err = json.NewDecoder(resp.Body).Decode(&root)
	resp.Body.Close()
	if err != nil || len(root.Signed.Roles["root"].KeyIDs) != 1 {
		t.Fatalf("root.json: %v %+v", err, root)
	}
	for _, pin := range []struct {
		key    string
		reason string
	}{{root.Signed.Roles["root"].KeyIDs[0], ""}, {strings.Repeat("ab", 32), "none of them pinned"}} {
		pol, err := policy.Parse("p.yaml", []byte("trust:\n  dct: true\n  notaryServer: "+server+"\n  notaryRootKeys: ["+pin.key+"]\n  require:\n    - repositories: [\"**\"]\n      signers: [{key: "+pubFile(t, k)+"}]\n"))
		if err != nil {
			t.Fatal(err)
		}
		res, _, err := (&Analyzer{Policy: pol}).Check(ctx, open(t, addr+"/dct/app:1", ""))
		if err != nil {
			t.Fatal(err)
		}
		ch := res.Section.Signatures[0].Checks[0]
		t.Logf("pin %s: %+v", pin.key, ch)
		if pin.reason == "" && (!res.Met || !strings.Contains(ch.Key, "(pinned)")) {
			t.Errorf("pinned root: met=%v %+v", res.Met, ch)
		}
		if pin.reason != "" && (res.Met || !strings.Contains(ch.Reason, pin.reason)) {
			t.Errorf("wrong pin: met=%v %+v", res.Met, ch)
		}
	}

	// The tag moves to another image after signing: its digest is not
	// the signed one.
	moved := push(t, addr, "dct/app:1")
	res, _, err := (&Analyzer{Rule: keyRule(t, 0, k), DCT: true, NotaryServer: server}).Check(ctx, open(t, addr+"/dct/app:1", ""))
	if err != nil {
		t.Fatal(err)
	}
	if res.Met || len(res.Section.Signatures) != 1 {
		t.Fatalf("re-pointed tag: met=%v %+v", res.Met, res.Section.Signatures)
	}
	ch := res.Section.Signatures[0].Checks[0]
	if ch.Verified || !strings.Contains(ch.Reason, "re-pointed") || !strings.Contains(ch.Reason, d.DigestStr()) || ch.Digest != moved.DigestStr() {
		t.Errorf("re-pointed tag: %+v", ch)
	}
}
