package archive

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// debianReachable reports whether deb.debian.org answers.
func debianReachable() error {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Head(DefaultDebian + "/dists/bookworm/InRelease")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// TestRealBookwormInRelease fetches bookworm's InRelease, its -updates and
// -security suites and their main/amd64 Packages from deb.debian.org,
// verifies them with Debian's archive keyring and stores the index; a
// second update is conditional and leaves it unchanged.
func TestRealBookwormInRelease(t *testing.T) {
	testenv.Require(t, "network access to deb.debian.org", debianReachable())
	_, err := os.Stat(DefaultDebianKeyring)
	testenv.Require(t, "debian-archive-keyring", err)
	dir := t.TempDir()
	u := &Updater{Dir: dir}
	ctx := context.Background()
	start := time.Now()
	rs, err := u.Update(ctx, []Target{{Distro: "debian", Release: "bookworm", Arches: []string{"amd64"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first update: %s", time.Since(start))
	if len(rs) != 1 || rs[0].Status != "updated" || rs[0].Packages < 50000 || len(rs[0].Suites) != 3 {
		t.Fatalf("results %+v", rs)
	}
	for _, s := range rs[0].Suites {
		if s.Verified == "" || s.Packages == 0 || s.Date.IsZero() {
			t.Errorf("suite %+v: not verified or empty", s)
		}
		t.Logf("%s: %d packages, %s, %s", s.Name, s.Packages, s.Date, s.Verified)
	}
	ix, err := Open(dir, Key{"debian", "bookworm", "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Lookup("libc6")) == 0 || len(ix.Lookup("base-files")) == 0 {
		t.Errorf("libc6 or base-files missing from the index")
	}
	start = time.Now()
	rs, err = u.Update(ctx, []Target{{Distro: "debian", Release: "bookworm", Arches: []string{"amd64"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("second update: %s, %s", time.Since(start), rs[0].Status)
	if rs[0].Status != "unchanged" {
		t.Errorf("second update: %s, want unchanged", rs[0].Status)
	}
}
