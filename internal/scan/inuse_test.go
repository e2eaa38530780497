package scan

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/slim/record"
	"github.com/shipshape-dev/shipshape/internal/vuln/db"
	"github.com/shipshape-dev/shipshape/internal/vuln/osv"
)

// TestInUseFromSlimRecord: a slim run's record in the cache directory,
// for the scanned image's config digest, makes P5 say which vulnerable
// packages were opened at run time.
func TestInUseFromSlimRecord(t *testing.T) {
	apk := "P:libcrypto3\nV:3.3.2-r0\nA:x86_64\no:openssl\nF:lib\nR:libcrypto.so.3\n\n" +
		"P:busybox\nV:1.36.1-r29\nA:x86_64\no:busybox\nF:bin\nR:busybox\n\n"
	p := filepath.Join(t.TempDir(), "app.tar")
	imagetest.Image{Layers: []imagetest.Layer{{Files: []imagetest.File{
		imagetest.Dir("etc/"), imagetest.Reg("etc/os-release", "ID=alpine\nVERSION_ID=3.20.3\n"),
		imagetest.Dir("lib/"), imagetest.Dir("lib/apk/"), imagetest.Dir("lib/apk/db/"), imagetest.Reg("lib/apk/db/installed", apk),
		imagetest.Reg("lib/libcrypto.so.3", "\x7fELF"),
		imagetest.Dir("bin/"), imagetest.Reg("bin/busybox", "\x7fELF"),
	}}}}.WriteDockerArchive(t, p, false)

	dbDir := t.TempDir()
	im := db.NewImporter(dbDir)
	for _, name := range []string{"openssl", "busybox"} {
		r := &osv.Record{ID: "ALPINE-CVE-" + name, Affected: []osv.Affected{{Package: osv.Package{Ecosystem: "Alpine:v3.20", Name: name},
			Ranges: []osv.Range{{Type: "ECOSYSTEM", Events: []osv.Event{{Introduced: "0"}, {Fixed: "99-r0"}}}}}}}
		if err := im.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := im.Commit(nil); err != nil {
		t.Fatal(err)
	}
	cache := t.TempDir()
	s, err := New(Options{CacheDir: cache, DBDir: dbDir, Now: fixedNow, Analyzers: []string{Vulnerabilities}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	inUse := func() map[string]any {
		o, err := s.Open(ctx, "docker-archive:"+p)
		if err != nil {
			t.Fatal(err)
		}
		defer o.Close()
		rep, err := s.ScanImage(ctx, o, nil)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]any{}
		for _, f := range rep.Findings {
			out[f.Evidence["id"].(string)] = f.Evidence["inUse"]
		}
		return out
	}
	if got := inUse(); len(got) != 2 || got["ALPINE-CVE-openssl"] != nil || got["ALPINE-CVE-busybox"] != nil {
		t.Fatalf("without a slim record: %v", got)
	}
	o, err := s.Open(ctx, "docker-archive:"+p)
	if err != nil {
		t.Fatal(err)
	}
	digest := o.Image.ConfigDigest
	o.Close()
	if err := record.Save(cache, digest, record.Record{SourceDigest: digest.String(), Verified: true, Created: time.Now(), Used: []string{"/lib/libcrypto.so.3"}}); err != nil {
		t.Fatal(err)
	}
	if got := inUse(); got["ALPINE-CVE-openssl"] != "yes" || got["ALPINE-CVE-busybox"] != "no" {
		t.Errorf("with a slim record: %v", got)
	}
}
