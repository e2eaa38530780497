package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/shipshape-dev/shipshape/internal/cli"
	"github.com/shipshape-dev/shipshape/internal/imageout"
	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/scan"
	"github.com/shipshape-dev/shipshape/internal/server"
	"github.com/shipshape-dev/shipshape/internal/testenv"
	"github.com/shipshape-dev/shipshape/internal/walk"
)

const secretPassword = "pw-Do-Not-Log-7731"

func layerOf(t testing.TB, files ...imagetest.File) v1.Layer {
	t.Helper()
	data := imagetest.Layer{Files: files}.Tar()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// alpineBase is a small Alpine-like base layer whose openssl the test
// database's record matches.
func alpineBase(t testing.TB) v1.Layer {
	return layerOf(t,
		imagetest.Dir("etc/"),
		imagetest.Reg("etc/os-release", "ID=alpine\nVERSION_ID=3.20.3\n"),
		imagetest.Dir("lib/"), imagetest.Dir("lib/apk/"), imagetest.Dir("lib/apk/db/"),
		imagetest.Reg("lib/apk/db/installed", "P:libcrypto3\nV:3.3.2-r0\nA:x86_64\no:openssl\n\nP:musl\nV:1.2.5-r0\nA:x86_64\no:musl\n\n"),
	)
}

// pushApp pushes an image of the shared base plus an app layer of its own
// to host/repo:tag with imageout, and returns its digest.
func pushApp(t testing.TB, base v1.Layer, host, repo string, n int) string {
	t.Helper()
	img, err := mutate.Append(empty.Image,
		mutate.Addendum{Layer: base, History: v1.History{CreatedBy: "ADD alpine-minirootfs.tar.gz /"}},
		mutate.Addendum{Layer: layerOf(t, imagetest.Dir("app/"), imagetest.Reg("app/run", fmt.Sprintf("#!/bin/sh\necho app %d\n", n))), History: v1.History{CreatedBy: "COPY run /app/run"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.User = "1000:1000"
	cf.Config.Cmd = []string{"/app/run"}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	if _, err := imageout.Write(context.Background(), img, "docker://"+host+"/"+repo, imageout.Options{Insecure: true}); err != nil {
		t.Fatalf("push %s: %v", repo, err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

// normalise drops what legitimately differs between two scans of one
// image: when it ran and which layers came from the cache.
func normalise(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("report: %v\n%.300s", err, b)
	}
	delete(m, "createdAt")
	if img, ok := m["image"].(map[string]any); ok {
		if ls, ok := img["layers"].([]any); ok {
			for _, l := range ls {
				delete(l.(map[string]any), "cached")
			}
		}
	}
	return m
}

// unstableLine matches what differs between two runs of one scan in the
// SBOM and HTML formats: random document ids, the time, the layer cache.
var unstableLine = regexp.MustCompile(`("serialNumber": "urn:uuid:|"timestamp": "|"created": "|"documentNamespace": ")[^"]*"`)

func unstable(b []byte) []byte {
	return bytes.ReplaceAll(unstableLine.ReplaceAll(b, []byte(`$1…"`)), []byte(" · cached"), nil)
}

// cliScan runs "shipshape scan" in this process.
func cliScan(t testing.TB, args ...string) []byte {
	t.Helper()
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), append([]string{"scan"}, args...), strings.NewReader(""), &out, &errb)
	if code != 0 {
		t.Fatalf("shipshape scan %v: exit %d: %s", args, code, errb.String())
	}
	return out.Bytes()
}

func TestRegistryScan(t *testing.T) {
	host := testenv.Registry(t)
	dbDir := makeDB(t)
	cacheDir := t.TempDir()
	base := alpineBase(t)
	digest := pushApp(t, base, host, "team/app:1", 1)
	ref := "docker://" + host + "/team/app:1"
	ts := newServer(t, dbDir, cacheDir, nil)

	id := ts.submit(t, fmt.Sprintf(`{"image":%q,"credentials":{"username":"robot","password":%q}}`, ref, secretPassword))
	st := ts.wait(t, id, 2*time.Minute)
	if st.Status != "done" || st.Progress.Layers != 2 || st.Progress.LayersDone != 2 || st.Grade == "" || len(st.Practices) != 9 {
		t.Fatalf("status %+v", st)
	}
	code, hdr, got := ts.do(t, "GET", "/v1/scans/"+id+"/report?format=json", nil, nil)
	if code != 200 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("report: %d %s %.200s", code, hdr.Get("Content-Type"), got)
	}
	if !bytes.Contains(got, []byte(`"ALPINE-CVE-2024-9143"`)) || !bytes.Contains(got, []byte(`"digest": "`+digest+`"`)) {
		t.Errorf("report lacks the image digest or the vulnerability:\n%.2000s", got)
	}

	// The same image scanned by the command line, with its own cache.
	ignore := filepath.Join(t.TempDir(), "none")
	os.WriteFile(ignore, []byte("ignore: []\n"), 0o644)
	local := cliScan(t, "-f", "json", "--insecure", "--db-dir", dbDir, "--cache-dir", t.TempDir(), "--ignorefile", ignore, ref)
	if a, b := normalise(t, got), normalise(t, local); !reflect.DeepEqual(a, b) {
		ja, _ := json.MarshalIndent(a, "", " ")
		jb, _ := json.MarshalIndent(b, "", " ")
		t.Errorf("server report differs from the CLI's:\nserver: %.3000s\ncli: %.3000s", ja, jb)
	}

	t.Run("formats", func(t *testing.T) {
		for format, want := range map[string][2]string{
			"sarif":     {"application/sarif+json", `"version": "2.1.0"`},
			"cyclonedx": {"application/vnd.cyclonedx+json", `"bomFormat": "CycloneDX"`},
			"cdx":       {"application/vnd.cyclonedx+json", `"bomFormat": "CycloneDX"`},
			"spdx":      {"application/spdx+json", `"spdxVersion"`},
			"html":      {"text/html; charset=utf-8", "<html"},
		} {
			code, hdr, b := ts.do(t, "GET", "/v1/scans/"+id+"/report?format="+format, nil, nil)
			if code != 200 || hdr.Get("Content-Type") != want[0] || !bytes.Contains(b, []byte(want[1])) {
				t.Errorf("format %s: %d %s, %.200s", format, code, hdr.Get("Content-Type"), b)
			}
		}
	})

	t.Run("metrics", func(t *testing.T) {
		_, _, m := ts.do(t, "GET", "/metrics", nil, nil)
		for _, want := range []string{`shipshape_scans_total{result="ok"} 1`, `shipshape_scan_duration_seconds_count{result="ok"} 1`, `shipshape_layer_cache_total{result="miss"} 2`} {
			if !strings.Contains(string(m), want) {
				t.Errorf("metrics lack %q", want)
			}
		}
	})

	t.Run("scan --server", func(t *testing.T) {
		t.Setenv("SHIPSHAPE_SERVER_TOKEN", testToken)
		remote := cliScan(t, "--server", ts.URL, "-f", "json", ref)
		if a, b := normalise(t, remote), normalise(t, local); !reflect.DeepEqual(a, b) {
			t.Errorf("scan --server differs from a local scan:\n%.2000s", remote)
		}
		// Every format, from the report the server sent back, as a local
		// scan writes it.
		for _, f := range []string{"table", "sarif", "cyclonedx", "spdx", "html"} {
			pin := []string{"-f", f}
			r := cliScan(t, append(pin, "--server", ts.URL, ref)...)
			l := cliScan(t, append(pin, "--insecure", "--db-dir", dbDir, "--cache-dir", t.TempDir(), "--ignorefile", ignore, ref)...)
			if !bytes.Equal(unstable(r), unstable(l)) {
				t.Errorf("scan --server -f %s differs from a local scan:\nserver: %.1500s\nlocal: %.1500s", f, r, l)
			}
		}
		var out, errb bytes.Buffer
		code := cli.Main(context.Background(), []string{"scan", "--server", ts.URL, "dir:/etc"}, strings.NewReader(""), &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), "registry images only") {
			t.Errorf("scan --server of a local directory: exit %d, %s", code, errb.String())
		}
		code = cli.Main(context.Background(), []string{"scan", "--server", ts.URL, "--config", "x.yaml", "--platform", "linux/arm64", ref}, strings.NewReader(""), &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), "--config, --platform: not with --server") {
			t.Errorf("scan --server with local settings: exit %d, %s", code, errb.String())
		}
		t.Setenv("SHIPSHAPE_SERVER_TOKEN", "wrong")
		out.Reset()
		errb.Reset()
		code = cli.Main(context.Background(), []string{"scan", "--server", ts.URL, ref}, strings.NewReader(""), &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), "401") {
			t.Errorf("scan --server with a wrong token: exit %d, %s", code, errb.String())
		}
	})

	t.Run("credentials are not kept", func(t *testing.T) {
		if strings.Contains(ts.Log.String(), secretPassword) {
			t.Errorf("the password is in the logs")
		}
		filepath.WalkDir(cacheDir, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(secretPassword)) {
					t.Errorf("the password is in %s", p)
				}
			}
			return nil
		})
	})

	// A restarted server serves the finished report from disk.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	ts2 := newServer(t, dbDir, cacheDir, nil)
	code, _, again := ts2.do(t, "GET", "/v1/scans/"+id+"/report?format=json", nil, nil)
	if code != 200 || !reflect.DeepEqual(normalise(t, again), normalise(t, got)) {
		t.Errorf("after a restart: %d %.300s", code, again)
	}
	if code, _, b := ts2.do(t, "GET", "/v1/scans/"+id, nil, nil); code != 200 || !bytes.Contains(b, []byte(`"done"`)) {
		t.Errorf("status after a restart: %d %s", code, b)
	}
}

// A registry serving a decompression bomb: the scan fails with the layer
// limit named, and the server goes on serving.
func TestRegistryGzipBomb(t *testing.T) {
	host := testenv.Registry(t)
	blob := imagetest.GzipBomb(256 << 20).Blob()
	bomb, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil })
	if err != nil {
		t.Fatal(err)
	}
	pushApp(t, bomb, host, "hostile/bomb:1", 0)
	dbDir := makeDB(t)
	cacheDir := t.TempDir()
	sc, err := scan.New(scan.Options{CacheDir: cacheDir, DBDir: dbDir, Insecure: true, Limits: walk.Limits{
		MaxLayerBytes: 64 << 20, MaxEntries: walk.DefaultLimits.MaxEntries, MaxRatio: walk.DefaultLimits.MaxRatio,
		RatioFloor: walk.DefaultLimits.RatioFloor, MaxPathLen: walk.DefaultLimits.MaxPathLen,
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	ts := newServer(t, dbDir, cacheDir, func(c *server.Config) { c.Scanner = sc })
	id := ts.submit(t, fmt.Sprintf(`{"image":"docker://%s/hostile/bomb:1"}`, host))
	st := ts.wait(t, id, time.Minute)
	if st.Status != server.StatusFailed || !strings.Contains(st.Error, "layer") || !strings.Contains(st.Error, "67108864") {
		t.Errorf("scan of a gzip bomb: %s %q; want a failure naming the layer limit", st.Status, st.Error)
	}
	t.Logf("bomb: %s", st.Error)
	if code, _, _ := ts.do(t, "GET", "/healthz", nil, nil); code != 200 {
		t.Errorf("healthz after a bomb: %d", code)
	}
}
