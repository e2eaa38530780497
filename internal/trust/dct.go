package trust

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// KindDCT is Docker Content Trust (Notary v1) trust data for the digest.
const KindDCT = "docker-content-trust"

// DCTRetirement is what P6 says whenever it meets DCT data.
const DCTRetirement = "Docker Content Trust (Notary v1) is retired: Docker Hub stops serving DCT data on 2026-12-08. Re-sign the image with shipshape sign --key cosign.key (or cosign sign, or notation sign) and require that signer in trust:"

const maxTUFBytes = 4 << 20

// tufFile is a signed TUF metadata file as Notary serves it. Notary writes
// canonical JSON, so the raw "signed" bytes are what was signed.
type tufFile struct {
	Signed     json.RawMessage `json:"signed"`
	Signatures []struct {
		KeyID  string `json:"keyid"`
		Method string `json:"method"`
		Sig    []byte `json:"sig"`
	} `json:"signatures"`
}

type tufKey struct {
	Type string `json:"keytype"`
	Val  struct {
		Public []byte `json:"public"`
	} `json:"keyval"`
}

type tufRole struct {
	Name      string   `json:"name"`
	KeyIDs    []string `json:"keyids"`
	Threshold int      `json:"threshold"`
}

type tufSigned struct {
	Type    string             `json:"_type"`
	Expires time.Time          `json:"expires"`
	Version int                `json:"version"`
	Keys    map[string]tufKey  `json:"keys"`
	Roles   map[string]tufRole `json:"roles"`
	Meta    map[string]struct {
		Hashes map[string][]byte `json:"hashes"`
		Length int64             `json:"length"`
	} `json:"meta"`
	Targets map[string]struct {
		Hashes map[string][]byte `json:"hashes"`
		Length int64             `json:"length"`
	} `json:"targets"`
	Delegations struct {
		Keys  map[string]tufKey `json:"keys"`
		Roles []tufRole         `json:"roles"`
	} `json:"delegations"`
}

// dctClient reads one GUN's trust data from a Notary server.
type dctClient struct {
	server string
	gun    string
	hc     *http.Client
	now    time.Time
	// pins, when set, are the root key ids one of which must sign the
	// root (else the root is trusted on first use).
	pins []string
}

func (d *dctClient) fetch(ctx context.Context, role string) ([]byte, error) {
	u := strings.TrimSuffix(d.server, "/") + "/v2/" + d.gun + "/_trust/tuf/" + url.PathEscape(role) + ".json"
	u = strings.ReplaceAll(u, "%2F", "/")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := d.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return nil, errNoTrustData
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxTUFBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxTUFBytes {
		return nil, fmt.Errorf("%s.json is over %d bytes", role, maxTUFBytes)
	}
	return b, nil
}

var errNoTrustData = errors.New("no trust data")

// verifyRole parses raw as a TUF file of type typ, signed by threshold of
// keyIDs from keys, not expired.
func (d *dctClient) verifyRole(name string, raw []byte, typ string, keys map[string]tufKey, role tufRole) (*tufSigned, error) {
	var f tufFile
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("%s.json: %w", name, err)
	}
	var s tufSigned
	if err := json.Unmarshal(f.Signed, &s); err != nil {
		return nil, fmt.Errorf("%s.json: %w", name, err)
	}
	if s.Type != typ {
		return nil, fmt.Errorf("%s.json: type %q, want %q", name, s.Type, typ)
	}
	if role.Threshold < 1 {
		return nil, fmt.Errorf("%s: threshold %d", name, role.Threshold)
	}
	valid := map[string]bool{}
	var why []string
	for _, sg := range f.Signatures {
		if !contains(role.KeyIDs, sg.KeyID) || valid[sg.KeyID] {
			continue
		}
		k, ok := keys[sg.KeyID]
		if !ok {
			continue
		}
		if err := verifyTUFSignature(k, sg.Method, sg.Sig, f.Signed, d.now); err != nil {
			why = append(why, fmt.Sprintf("key %.12s: %v", sg.KeyID, err))
		} else {
			valid[sg.KeyID] = true
		}
	}
	if len(valid) < role.Threshold {
		msg := fmt.Sprintf("%s.json: %d valid signatures from its %d keys, threshold %d", name, len(valid), len(role.KeyIDs), role.Threshold)
		if len(why) > 0 {
			msg += " (" + strings.Join(why, "; ") + ")"
		}
		return nil, errors.New(msg)
	}
	if !s.Expires.After(d.now) {
		return nil, fmt.Errorf("%s.json expired at %s", name, s.Expires.UTC().Format(time.RFC3339))
	}
	return &s, nil
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func tufPublicKey(k tufKey, now time.Time) (crypto.PublicKey, error) {
	switch k.Type {
	case "ecdsa", "rsa":
		return x509.ParsePKIXPublicKey(k.Val.Public)
	case "ed25519":
		if len(k.Val.Public) != ed25519.PublicKeySize {
			return nil, errors.New("bad ed25519 key")
		}
		return ed25519.PublicKey(k.Val.Public), nil
	case "ecdsa-x509", "rsa-x509":
		p, _ := pem.Decode(k.Val.Public)
		if p == nil {
			return nil, errors.New("x509 key without a PEM certificate")
		}
		c, err := x509.ParseCertificate(p.Bytes)
		if err != nil {
			return nil, err
		}
		if now.After(c.NotAfter) || now.Before(c.NotBefore) {
			return nil, fmt.Errorf("key certificate %q is expired or not yet valid (valid from %s to %s)", c.Subject, c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
		}
		return c.PublicKey, nil
	}
	return nil, fmt.Errorf("unsupported key type %q", k.Type)
}

func verifyTUFSignature(k tufKey, method string, sig, msg []byte, now time.Time) error {
	pub, err := tufPublicKey(k, now)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(msg)
	switch p := pub.(type) {
	case *ecdsa.PublicKey:
		if method != "ecdsa" {
			return fmt.Errorf("method %q for an ECDSA key", method)
		}
		n := (p.Curve.Params().BitSize + 7) / 8
		if len(sig) != 2*n {
			return errors.New("bad ECDSA signature length")
		}
		r, s := new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])
		if !ecdsa.Verify(p, sum[:], r, s) {
			return errors.New("bad signature")
		}
		return nil
	case ed25519.PublicKey:
		if !ed25519.Verify(p, msg, sig) {
			return errors.New("bad signature")
		}
		return nil
	case *rsa.PublicKey:
		if method == "rsapss" {
			return rsa.VerifyPSS(p, crypto.SHA256, sum[:], sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		return rsa.VerifyPKCS1v15(p, crypto.SHA256, sum[:], sig)
	}
	return fmt.Errorf("unsupported key %T", pub)
}

// CheckDCT reads the Docker Content Trust data of gun from a Notary server
// and verifies it as TUF does — root (signed by one of the pinned root key
// ids, or trusted on first use without pins), timestamp, snapshot, targets and one level of delegations, each
// signed by its threshold of keys and unexpired, each file's hash as the
// one above it records — then looks for a target whose sha256 is digest.
func CheckDCT(ctx context.Context, hc *http.Client, server, gun string, digest v1.Hash, now time.Time, pins []string) (*Found, Check) {
	f := &Found{Kind: KindDCT, Subject: digest.String(), SubjectType: "manifest", Source: "notary " + server}
	c := Check{Signer: "Docker Content Trust (" + server + ")", Digest: digest.String(), Transparency: "none: Notary v1 has no transparency log"}
	tags, root, err := dctTargets(ctx, &dctClient{server: server, gun: gun, hc: hc, now: now, pins: pins}, digest)
	if err != nil {
		c.Reason = err.Error()
		return f, c
	}
	c.Verified = true
	if len(pins) > 0 {
		c.Key = "root keys " + strings.Join(root, ", ") + " (pinned)"
	} else {
		c.Key = "root keys " + strings.Join(root, ", ") + " (trusted on first use: no trust.notaryRootKeys pin)"
	}
	c.Identity = "tags " + strings.Join(tags, ", ")
	f.Manifest = "gun " + gun
	return f, c
}

func dctTargets(ctx context.Context, d *dctClient, digest v1.Hash) ([]string, []string, error) {
	rootRaw, err := d.fetch(ctx, "root")
	if err != nil {
		return nil, nil, err
	}
	var rf tufFile
	if err := json.Unmarshal(rootRaw, &rf); err != nil {
		return nil, nil, fmt.Errorf("root.json: %w", err)
	}
	var rs tufSigned
	if err := json.Unmarshal(rf.Signed, &rs); err != nil {
		return nil, nil, fmt.Errorf("root.json: %w", err)
	}
	rootRole := rs.Roles["root"]
	if len(d.pins) > 0 {
		var pinned []string
		for _, id := range rootRole.KeyIDs {
			if contains(d.pins, id) {
				pinned = append(pinned, id)
			}
		}
		if len(pinned) == 0 {
			return nil, nil, fmt.Errorf("root.json is signed by root keys %s, none of them pinned (%s): the trust data was replaced or re-initialised", strings.Join(rootRole.KeyIDs, ", "), strings.Join(d.pins, ", "))
		}
		// Only pinned keys count towards the root's threshold.
		rootRole.KeyIDs = pinned
	}
	root, err := d.verifyRole("root", rootRaw, "Root", rs.Keys, rootRole)
	if err != nil {
		return nil, nil, err
	}
	tsRaw, err := d.fetch(ctx, "timestamp")
	if err != nil {
		return nil, nil, err
	}
	ts, err := d.verifyRole("timestamp", tsRaw, "Timestamp", root.Keys, root.Roles["timestamp"])
	if err != nil {
		return nil, nil, err
	}
	snapRaw, err := d.fetch(ctx, "snapshot")
	if err != nil {
		return nil, nil, err
	}
	if err := checkMeta(ts, "snapshot", snapRaw); err != nil {
		return nil, nil, err
	}
	snap, err := d.verifyRole("snapshot", snapRaw, "Snapshot", root.Keys, root.Roles["snapshot"])
	if err != nil {
		return nil, nil, err
	}
	targetsRaw, err := d.fetch(ctx, "targets")
	if err != nil {
		return nil, nil, err
	}
	if err := checkMeta(snap, "targets", targetsRaw); err != nil {
		return nil, nil, err
	}
	targets, err := d.verifyRole("targets", targetsRaw, "Targets", root.Keys, root.Roles["targets"])
	if err != nil {
		return nil, nil, err
	}
	var tags, others []string
	match := func(s *tufSigned, role string) {
		for tag, t := range s.Targets {
			h := hex.EncodeToString(t.Hashes["sha256"])
			if "sha256:"+h == digest.String() {
				tags = append(tags, tag+" ("+role+")")
			} else {
				others = append(others, fmt.Sprintf("%s → sha256:%s", tag, h))
			}
		}
	}
	match(targets, "targets")
	for _, del := range targets.Delegations.Roles {
		raw, err := d.fetch(ctx, del.Name)
		if err != nil {
			continue
		}
		if checkMeta(snap, del.Name, raw) != nil {
			continue
		}
		s, err := d.verifyRole(del.Name, raw, "Targets", targets.Delegations.Keys, del)
		if err != nil {
			continue
		}
		match(s, del.Name)
	}
	if len(tags) == 0 {
		sort.Strings(others)
		if len(others) == 0 {
			return nil, nil, errors.New("the trust data signs no tag")
		}
		return nil, nil, fmt.Errorf("no signed tag names %s: the signed tags are %s (the tag was re-pointed after signing, or the image was never signed)", digest, strings.Join(others, ", "))
	}
	sort.Strings(tags)
	return tags, root.Roles["root"].KeyIDs, nil
}

// checkMeta compares raw with the hash the parent role records for role.
func checkMeta(parent *tufSigned, role string, raw []byte) error {
	m, ok := parent.Meta[role+".json"]
	if !ok {
		m, ok = parent.Meta[role]
	}
	if !ok {
		return fmt.Errorf("%s.json is not recorded by %s", role, parent.Type)
	}
	sum := sha256.Sum256(raw)
	if want := m.Hashes["sha256"]; !bytes.Equal(want, sum[:]) {
		return fmt.Errorf("%s.json hashes to sha256:%x, %s records sha256:%x", role, sum, parent.Type, want)
	}
	return nil
}

// dctGUN is the Notary name of a repository, as docker names it.
func dctGUN(repo string) string {
	return strings.TrimPrefix(repo, "index.")
}
