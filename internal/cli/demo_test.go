package cli_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/schematest"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

var update = flag.Bool("update", false, "rewrite testdata/demo/demo.tar and the golden reports")

// demoPath is the demo image the README's first command scans.
const demoPath = "../../testdata/demo/demo.tar"

// demoImage is a small, synthetic application image that shows what a
// scan finds: a credentials file added in one layer and deleted in the
// next (still recoverable), a build cache left behind the same way, a
// token in the config's Env and a build argument recorded in history.
func demoImage() imagetest.Image {
	return imagetest.Image{
		RepoTag: "shipshape.local/demo:1.0",
		Layers: []imagetest.Layer{
			{
				Compression: imagetest.Gzip,
				CreatedBy:   "/bin/sh -c #(nop) ADD file:rootfs.tar in / ",
				Files: []imagetest.File{
					imagetest.Dir("etc/"),
					imagetest.Reg("etc/os-release", "NAME=\"Alpine Linux\"\nID=alpine\nVERSION_ID=3.20.3\nPRETTY_NAME=\"Alpine Linux v3.20\"\n"),
					imagetest.Reg("etc/alpine-release", "3.20.3\n"),
					imagetest.Reg("etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n"),
					imagetest.Reg("etc/group", "root:x:0:root\nnobody:x:65534:\n"),
					imagetest.Dir("tmp/"),
				},
			},
			{
				Compression: imagetest.Gzip,
				CreatedBy:   "COPY . /app # buildkit",
				Files: []imagetest.File{
					imagetest.Dir("app/"),
					imagetest.Reg("app/server.py", "import os\nprint('serving on', os.environ.get('PORT', '8080'))\n"),
					imagetest.Reg("app/.env", "DATABASE_URL=postgres://app:Zq7vN2xR8pLw4Kd9@db.internal:5432/app\nAWS_ACCESS_KEY_ID=AKIAQ3EGRZ7XK4MPLW2N\nAWS_SECRET_ACCESS_KEY=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\n"),
					{Name: "app/build-cache.bin", Size: 3 << 20},
				},
			},
			{
				Compression: imagetest.Gzip,
				CreatedBy:   "RUN |1 NPM_TOKEN=npm_Xk29PqLmZ7vB4nR8tW1sY5uE3oD6aF0cG2hJ /bin/sh -c rm /app/.env /app/build-cache.bin # buildkit",
				Files: []imagetest.File{
					imagetest.Whiteout("app/.env"),
					imagetest.Whiteout("app/build-cache.bin"),
				},
			},
		},
		Config: imagetest.ConfigOptions{
			Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin", "PORT=8080", "GITHUB_TOKEN=ghp_R8kX2vQ9mL4zT7bN1wS5yU3eO6aD0fC2gH8j"},
			Labels:     map[string]string{"org.opencontainers.image.source": "https://example.com/demo"},
			Cmd:        []string{"python3", "/app/server.py"},
			WorkingDir: "/app",
			EmptyLayers: []imagetest.EmptyLayer{
				{After: 3, CreatedBy: `CMD ["python3", "/app/server.py"]`},
			},
		},
	}
}

// TestDemoImageIsCurrent keeps the committed demo archive equal to what
// demoImage writes (go test ./internal/cli -run Demo -update rewrites it).
func TestDemoImageIsCurrent(t *testing.T) {
	var b bytes.Buffer
	if _, err := demoImage().WriteDockerArchiveTo(&b, false); err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.MkdirAll(filepath.Dir(demoPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(demoPath, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(demoPath)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cli -run Demo -update)", err)
	}
	if !bytes.Equal(got, b.Bytes()) {
		t.Errorf("%s is stale: run go test ./internal/cli -run Demo -update", demoPath)
	}
}

var volatile = regexp.MustCompile(`"(version)": "[^"]*"`)

// demoNow pins the clock of golden scans: end-of-life findings and the
// report's date do not move with the calendar.
const demoNow = "2026-11-30T12:00:00Z"

// golden compares got with testdata/NAME, rewriting it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("%v (run with -update)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from the output (run go test ./internal/cli -update and review the diff):\n%s", p, got)
	}
}

// TestDemoScanGolden scans the demo image in every format: JSON against a
// golden file, SARIF against the official schema, and the table by content.
func TestDemoScanGolden(t *testing.T) {
	ref := "docker-archive:" + demoPath
	r := run(t, "scan", "--no-cache", "--now", demoNow, "--format", "json", ref)
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	golden(t, "demo.json", volatile.ReplaceAll([]byte(r.stdout), []byte(`"$1": "X"`)))

	var rep scorecard.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.SchemaVersion != scorecard.SchemaVersion || len(rep.Practices) != 9 {
		t.Errorf("schemaVersion %q, %d practices", rep.SchemaVersion, len(rep.Practices))
	}

	r = run(t, "scan", "--no-cache", "--format", "sarif", ref)
	if r.code != 0 {
		t.Fatalf("sarif: exit %d: %s", r.code, r.stderr)
	}
	schematest.Validate(t, "../report/testdata/sarif-schema-2.1.0.json", []byte(r.stdout))
	if !strings.Contains(r.stdout, `"ruleId": "SS-P8-002"`) || !strings.Contains(r.stdout, `"uri": "app/build-cache.bin"`) {
		t.Errorf("SARIF lacks the wasted-space result:\n%s", r.stdout)
	}

	r = run(t, "scan", "--no-cache", ref)
	for _, want := range []string{"Scorecard", "P8", "/app/build-cache.bin", "removed in layer 3, still recoverable from layer 2", "COPY . /app"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "\x1b[") {
		t.Error("table has colour codes though stdout is not a terminal")
	}
}

func TestExitCodeAndSeverity(t *testing.T) {
	ref := "docker-archive:" + demoPath
	// The demo's only critical findings are P1's secrets: with them
	// accepted, nothing remains at critical.
	acceptP1 := filepath.Join(t.TempDir(), "ignore.yaml")
	if err := os.WriteFile(acceptP1, []byte("ignore:\n  - {rule: SS-P1-github-token, reason: demo}\n  - {rule: SS-P1-aws-secret-access-key, reason: demo}\n  - {rule: SS-P1-npm-token, reason: demo}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		code int
	}{
		{[]string{"--exit-code", "5"}, 5},
		{[]string{"--exit-code", "5", "--severity", "low"}, 5},
		{[]string{"--exit-code", "5", "--severity", "critical"}, 5},
		{[]string{"--exit-code", "5", "--severity", "critical", "--ignorefile", acceptP1}, 0},
		{[]string{}, 0},
		{[]string{"--severity", "urgent"}, 2},
		{[]string{"--format", "xml"}, 2},
	}
	for _, tt := range tests {
		r := run(t, append(append([]string{"scan", "--no-cache", "-q"}, tt.args...), ref)...)
		if r.code != tt.code {
			t.Errorf("scan %v: exit %d, want %d (stderr %q)", tt.args, r.code, tt.code, r.stderr)
		}
	}
	t.Setenv("SHIPSHAPE_SEVERITY", "critical")
	t.Setenv("SHIPSHAPE_EXIT_CODE", "7")
	t.Setenv("SHIPSHAPE_IGNOREFILE", acceptP1)
	if r := run(t, "scan", "--no-cache", "-q", ref); r.code != 0 {
		t.Errorf("env severity=critical, P1 accepted: exit %d", r.code)
	}
	t.Setenv("SHIPSHAPE_SEVERITY", "low")
	if r := run(t, "scan", "--no-cache", "-q", ref); r.code != 7 {
		t.Errorf("env severity=low exit-code=7: exit %d", r.code)
	}
}

func TestIgnoreFile(t *testing.T) {
	ref := "docker-archive:" + demoPath
	dir := t.TempDir()
	ign := filepath.Join(dir, "ignore.yaml")
	os.WriteFile(ign, []byte("ignore:\n  - rule: SS-P8-002\n    path: /app/**\n    reason: demo cache\n  - rule: SS-P8-001\n    reason: old\n    expires: 2020-01-01\n"), 0o644)
	rep := scanJSON(t, ref, "--ignorefile", ign)
	for _, f := range rep.Findings {
		if f.Rule == "SS-P8-002" {
			t.Errorf("ignored finding reported: %+v", f)
		}
	}
	if len(rep.Suppressed) == 0 || rep.Suppressed[0].Reason != "demo cache" {
		t.Errorf("suppressed = %+v", rep.Suppressed)
	}
	if !strings.Contains(strings.Join(rep.Warnings, "\n"), "expired on 2020-01-01") {
		t.Errorf("no warning about the expired entry: %v", rep.Warnings)
	}
	os.WriteFile(ign, []byte("ignore:\n  - rule: SS-P8-002\n    paht: /x\n    reason: typo\n"), 0o644)
	if r := run(t, "scan", "--no-cache", "--ignorefile", ign, ref); r.code != 2 || !strings.Contains(r.stderr, `line 3: unknown key "paht"`) {
		t.Errorf("bad ignore file: exit %d, %q", r.code, r.stderr)
	}
}
