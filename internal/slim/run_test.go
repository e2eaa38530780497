package slim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/slim/probe"
	"github.com/shipshape-dev/shipshape/internal/slim/rootfs"
	"github.com/shipshape-dev/shipshape/internal/slim/sensor"
)

// fakeBackend replays probe results, so that the decisions of run can be
// tested without an engine.
type fakeBackend struct {
	before, after []probe.Result
	logs          string // the slimmed container's output
	verified      bool
	ran           []string // the probes verify was asked to run again
}

func (f *fakeBackend) trace(context.Context) ([]probe.Result, []*sensor.Report, error) {
	return f.before, []*sensor.Report{{Touched: []string{"/app/run"}, Syscalls: []string{"read", "write"}}}, nil
}

func (f *fakeBackend) verify(_ context.Context, _ v1.Image, _ []string, probes []probe.Result, _ []byte) ([]probe.Result, string, error) {
	f.verified = true
	for _, p := range probes {
		f.ran = append(f.ran, p.Name)
	}
	return f.after, f.logs, nil
}

func (f *fakeBackend) close() {}

func fakeSource(t *testing.T) *source {
	t.Helper()
	layer := imagetest.Layer{Files: []imagetest.File{
		imagetest.Dir("app/"),
		{Name: "app/run", Content: []byte("data"), Mode: 0o755},
		imagetest.Reg("app/unused", "data"),
	}}
	fs, err := rootfs.Load(bytes.NewReader(layer.Tar()), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	cfg := &v1.ConfigFile{OS: "linux", Architecture: "amd64"}
	cfg.Config.Cmd = []string{"/app/run"}
	return &source{cfg: cfg, digest: "sha256:" + strings.Repeat("ab", 32), fs: fs}
}

func TestRunRefusesWhenNoProbeSucceeded(t *testing.T) {
	noAnswer := probe.Result{Kind: "http", Name: "GET 8080/tcp /", Error: "no answer within 10s: connection refused"}
	failedExec := probe.Result{Kind: "exec", Name: "app --self-test", ExitCode: 1}
	ok := probe.Result{Kind: "http", Name: "GET 8080/tcp /", Status: 200, Hash: "aa"}
	noAnswer2 := probe.Result{Kind: "http", Name: "GET 8080/tcp /health", Error: "no answer within 10s"}
	running := probe.Result{Kind: "main", Name: "main process", Running: true}
	tests := []struct {
		name          string
		before, after []probe.Result
		wantErr       error
		wantInErr     []string
	}{
		{"http never answered, twice", []probe.Result{noAnswer}, []probe.Result{noAnswer}, ErrNoProbeAnswered,
			[]string{"no answer within 10s", "--http-probe-path", "--exec", "--probe-script", "--no-http-probe --duration"}},
		{"every exec failed", []probe.Result{failedExec}, []probe.Result{failedExec}, ErrNoProbeAnswered, []string{"app --self-test: exit code 1"}},
		{"nothing probed", nil, nil, ErrNoProbeAnswered, []string{"no probe ran"}},
		{"answered, then never reached", []probe.Result{ok}, []probe.Result{noAnswer}, ErrVerify, []string{"failed on the slimmed image"}},
		{"answered, then not run", []probe.Result{ok, noAnswer2}, []probe.Result{noAnswer2}, ErrVerify, []string{"not run on the slimmed image"}},
		{"answered both times", []probe.Result{ok, noAnswer2}, []probe.Result{ok, noAnswer2}, nil, nil},
		{"kept running both times", []probe.Result{running}, []probe.Result{running}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			prof := filepath.Join(dir, "profile.json")
			os.WriteFile(prof, []byte("last good profile"), 0o644)
			out := filepath.Join(dir, "out.tar")
			be := &fakeBackend{before: tt.before, after: tt.after}
			o := Options{Image: "app:1", Seccomp: prof, Outputs: []string{"docker-archive:" + out}, TempDir: dir}.withDefaults()
			res, err := run(context.Background(), o, fakeSource(t), be)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if !res.Verify.OK || res.Verify.Answered != 1 {
					t.Errorf("verify = %+v", res.Verify)
				}
				if b, _ := os.ReadFile(prof); string(b) == "last good profile" {
					t.Error("the seccomp profile was not written")
				}
				if _, err := os.Stat(out); err != nil {
					t.Errorf("output not written: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			for _, s := range tt.wantInErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error does not say %q:\n%v", s, err)
				}
			}
			if tt.wantErr == ErrNoProbeAnswered && be.verified {
				t.Error("went on to verify after no probe succeeded")
			}
			if b, _ := os.ReadFile(prof); string(b) != "last good profile" {
				t.Errorf("the seccomp profile was overwritten: %q", b)
			}
			if _, err := os.Stat(out); err == nil {
				t.Error("the output was written")
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 1 {
				t.Errorf("files left behind: %v", ents)
			}
		})
	}
}

// TestRunHidesApplicationSecrets checks that what a run reports of the
// application — probe commands, outputs and errors, the container output a
// failed verification quotes — passes through Options.Redact, and only
// once the probes have been run again with their real commands.
func TestRunHidesApplicationSecrets(t *testing.T) {
	const secret = "S3CRET-VALUE"
	hide := func(s string) string { return strings.ReplaceAll(s, secret, "HIDDEN") }
	cmd := "show-config --token " + secret
	before := []probe.Result{
		{Kind: "http", Name: "GET 8080/tcp /", Status: 200, Hash: "aa"},
		probe.Output("exec", cmd, 0, []byte("token="+secret+"\n"), nil),
	}
	for _, tt := range []struct {
		name   string
		after  []probe.Result
		wantOK bool
	}{
		{"verified", before, true},
		{"differs", []probe.Result{before[0], probe.Output("exec", cmd, 1, []byte("no token "+secret), errors.New("exit 1: "+secret))}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			be := &fakeBackend{before: slices.Clone(before), after: slices.Clone(tt.after), logs: "app: loaded " + secret}
			o := Options{Image: "app:1", Outputs: []string{"docker-archive:" + filepath.Join(dir, "out.tar")}, TempDir: dir, Redact: hide}.withDefaults()
			res, err := run(context.Background(), o, fakeSource(t), be)
			if (err == nil) != tt.wantOK || res == nil || res.Verify == nil {
				t.Fatalf("run: %v, %+v", err, res)
			}
			if !slices.Contains(be.ran, cmd) {
				t.Errorf("verify ran %q, not the real command", be.ran)
			}
			out, _ := json.Marshal(res)
			if err != nil {
				out = append(out, err.Error()...)
			}
			if strings.Contains(string(out), secret) {
				t.Errorf("the result shows the secret:\n%s", out)
			}
			if !strings.Contains(string(out), "show-config --token HIDDEN") {
				t.Errorf("the probe's command is not shown redacted:\n%s", out)
			}
		})
	}
}
