package trust

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// A docker-daemon image pulled from a registry is checked there by the
// repo digest the Engine recorded; offline, P6 says why it did not run.
func TestDaemonImageByRepoDigest(t *testing.T) {
	testenv.Docker(t)
	docker := testenv.DockerCLI(t)
	addr := registry(t)
	ctx := context.Background()
	k := newKey(t, "p256")
	tag := addr + "/daemon/app:1"
	d := push(t, addr, "daemon/app:1")
	if _, err := Sign(ctx, d, SignOptions{Key: k, Remote: ropts()}); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(docker, "pull", "-q", tag).CombinedOutput(); err != nil {
		testenv.Require(t, "docker pull from the test registry", err)
		t.Fatal(string(out))
	}
	t.Cleanup(func() { exec.Command(docker, "rmi", "-f", tag).Run() })
	img, err := image.Open(ctx, "docker-daemon:"+tag, image.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer img.Close()
	if len(img.RepoDigests) == 0 || !strings.HasSuffix(img.RepoDigests[0], d.DigestStr()) {
		t.Fatalf("repo digests %v, want %s", img.RepoDigests, d.DigestStr())
	}

	a := &Analyzer{Rule: keyRule(t, 0, k), Local: true, Lookup: ropts(), LookupName: []name.Option{name.Insecure}}
	res, cov, err := a.Check(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if res == nil || !res.Met {
		t.Fatalf("daemon image signed in its registry: %s %s", cov.Reason, cov.Summary)
	}
	if len(res.Section.Signatures) != 1 || res.Section.Signatures[0].Subject != d.DigestStr() {
		t.Errorf("signatures %+v", res.Section.Signatures)
	}

	a.Lookup = nil // offline
	res, cov, err = a.Check(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if res != nil || cov.Ran || !strings.Contains(cov.Reason, "offline") || !strings.Contains(cov.Reason, d.DigestStr()) {
		t.Errorf("offline: ran=%v reason %q", cov.Ran, cov.Reason)
	}
}
