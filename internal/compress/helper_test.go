package compress

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shipshape-dev/shipshape/internal/testenv"
)

func gzipOf(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// mixed is n bytes of text runs and random runs, so that the stream holds
// stored, fixed and dynamic deflate blocks and long back-references.
func mixed(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	var b bytes.Buffer
	for b.Len() < n {
		if r.IntN(3) == 0 {
			chunk := make([]byte, r.IntN(40000))
			for i := range chunk {
				chunk[i] = byte(r.Uint32())
			}
			b.Write(chunk)
		} else {
			b.WriteString(strings.Repeat("usr/lib/x86_64-linux-gnu/libexample.so.1 ", 1+r.IntN(2000)))
		}
	}
	return b.Bytes()[:n]
}

// inProcess inflates blob as the scan does without a helper.
func inProcess(blob []byte) ([]byte, error) {
	zr, err := NewReader(Gzip, bytes.NewReader(blob), Options{Readahead: 2, ChunkSize: 1 << 16})
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return io.ReadAll(zr)
}

// sources are the ways a blob reaches the helper: copied from memory, or
// spliced from a section of a file, between two gzip members it must not
// see (their content would show in the output).
var sources = []struct {
	name   string
	reader func(t *testing.T, blob []byte) io.Reader
}{
	{"memory", func(_ *testing.T, blob []byte) io.Reader { return bytes.NewReader(blob) }},
	{"file section", fileSection},
}

// fileSection writes blob to a file between two gzip members and returns
// a section of it that starts 3 bytes early and was read past them: the
// helper must start where the section is, not where it begins.
func fileSection(t *testing.T, blob []byte) io.Reader {
	t.Helper()
	before, after := gzipOf(t, []byte("BEFORE")), gzipOf(t, []byte("AFTER"))
	f, err := os.Create(filepath.Join(t.TempDir(), "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(slices.Concat(before, blob, after)); err != nil {
		t.Fatal(err)
	}
	sr := io.NewSectionReader(f, int64(len(before))-3, int64(len(blob))+3)
	if _, err := sr.Seek(3, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	return sr
}

func viaHelper(t *testing.T, helper string, r io.Reader) ([]byte, error) {
	t.Helper()
	rc, err := NewHelperReader(context.Background(), helper, r)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// TestHelperAgreesWithInProcess feeds the real igzip what the in-process
// inflater reads, and what it refuses: both give the same bytes, or both
// fail. The one documented difference (bytes after the last member) is
// pinned too.
func TestHelperAgreesWithInProcess(t *testing.T) {
	igzip := testenv.Binary(t, HelperName) // Debian package isal
	text := mixed(3 << 20)
	single := gzipOf(t, text)
	multi := append(gzipOf(t, text[:1<<20]), gzipOf(t, text[1<<20:])...)
	badCRC := bytes.Clone(single)
	badCRC[len(badCRC)-8] ^= 1
	badSize := bytes.Clone(single)
	binary.LittleEndian.PutUint32(badSize[len(badSize)-4:], uint32(len(text)+1))
	corrupt := bytes.Clone(single)
	for i := len(corrupt) / 2; i < len(corrupt)/2+64; i++ {
		corrupt[i] ^= 0x5a
	}
	for _, tt := range []struct {
		name    string
		blob    []byte
		want    []byte // nil: both must fail
		wantErr string // in the helper's error
	}{
		{name: "one member", blob: single, want: text},
		{name: "two members", blob: multi, want: text},
		{name: "empty content", blob: gzipOf(t, nil), want: []byte{}},
		{name: "truncated", blob: single[:len(single)/2], wantErr: "igzip"},
		{name: "bad CRC", blob: badCRC, wantErr: "igzip"},
		{name: "bad size", blob: badSize, wantErr: "igzip"},
		{name: "corrupt deflate", blob: corrupt, wantErr: "igzip"},
		{name: "not gzip", blob: []byte("plain text, not gzip"), wantErr: "igzip"},
		{name: "nothing", blob: nil, wantErr: "igzip"},
	} {
		for _, src := range sources {
			t.Run(tt.name+"/"+src.name, func(t *testing.T) {
				got, err := viaHelper(t, igzip, src.reader(t, tt.blob))
				ref, refErr := inProcess(tt.blob)
				if tt.want == nil {
					if err == nil || refErr == nil {
						t.Fatalf("helper err = %v, in-process err = %v: both must fail", err, refErr)
					}
					if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "exit status") {
						t.Errorf("helper error %q does not name the helper and its exit", err)
					}
					return
				}
				if err != nil || refErr != nil {
					t.Fatalf("helper err = %v, in-process err = %v", err, refErr)
				}
				if !bytes.Equal(got, tt.want) || !bytes.Equal(ref, tt.want) {
					t.Errorf("helper gave %d bytes, in process %d, want %d", len(got), len(ref), len(tt.want))
				}
			})
		}
	}
	t.Run("bytes after the last member", func(t *testing.T) {
		blob := append(bytes.Clone(single), "trailing"...)
		got, err := viaHelper(t, igzip, bytes.NewReader(blob))
		if err != nil || !bytes.Equal(got, text) {
			t.Errorf("helper: %d bytes, %v; want the member's content, no error (igzip ignores what follows)", len(got), err)
		}
		if _, err := inProcess(blob); err == nil {
			t.Error("the in-process inflater accepted bytes after the last member")
		}
	})
}

// fakeHelper writes a shell script standing in for igzip.
func fakeHelper(t *testing.T, body string) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		// Never in CI, which runs on Linux: a script with a #! line
		// cannot be run as a program on Windows at all.
		t.Skip("shell-script helpers need a Unix shell")
	}
	p := filepath.Join(t.TempDir(), "fake-igzip")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHelperFailureIsReported(t *testing.T) {
	h := fakeHelper(t, `cat >/dev/null; echo "first line" >&2; echo "bad block at 1234" >&2; exit 3`)
	_, err := viaHelper(t, h, bytes.NewReader(gzipOf(t, []byte("x"))))
	if err == nil || !strings.Contains(err.Error(), "exit status 3: bad block at 1234") || !strings.Contains(err.Error(), "fake-igzip") {
		t.Fatalf("err = %v, want the helper's name, exit status and last stderr line", err)
	}
}

func TestHelperGetsArgumentsAndNoEnvironment(t *testing.T) {
	t.Setenv("SHIPSHAPE_TEST_TOKEN", "not-for-the-helper")
	h := fakeHelper(t, `cat >/dev/null; echo "$# $1 $2 token=$SHIPSHAPE_TEST_TOKEN"`)
	got, err := viaHelper(t, h, strings.NewReader("anything"))
	if err != nil || string(got) != "2 -d -c token=\n" {
		t.Errorf("helper saw %q, %v; want its two arguments and none of our environment", got, err)
	}
}

// TestHelperCloseStopsIt closes a reader whose helper still has input to
// read and output to write, or has stopped reading and writing: Close
// returns at once and the helper is gone.
func TestHelperCloseStopsIt(t *testing.T) {
	for name, script := range map[string]string{
		"busy":  `exec cat`,
		"stuck": `echo started; exec sleep 600`,
	} {
		t.Run(name, func(t *testing.T) {
			rc, err := NewHelperReader(context.Background(), fakeHelper(t, script), io.LimitReader(zeros{}, 1<<40))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.ReadFull(rc, make([]byte, 8)); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { rc.Close(); close(done) }()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("Close did not return")
			}
			if st := rc.(*helperReader).cmd.ProcessState; st == nil {
				t.Error("the helper was not waited for")
			}
			if _, err := rc.Read(make([]byte, 1)); err == nil {
				t.Error("Read after Close succeeded")
			}
		})
	}
}

func TestHelperStopsWithContext(t *testing.T) {
	h := fakeHelper(t, `exec cat`)
	ctx, cancel := context.WithCancel(context.Background())
	rc, err := NewHelperReader(ctx, h, io.LimitReader(zeros{}, 1<<40))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = io.Copy(io.Discard, rc)
	if err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("err = %v after the context ended, want the helper killed", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestLookHelper(t *testing.T) {
	dir := t.TempDir()
	fake := filepath.Join(dir, HelperName)
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir)
	for _, tt := range []struct {
		spec, want string
	}{{"", ""}, {HelperNone, ""}, {HelperAuto, fake}, {fake, fake}} {
		if got, err := LookHelper(tt.spec); err != nil || got != tt.want {
			t.Errorf("LookHelper(%q) = %q, %v; want %q", tt.spec, got, err, tt.want)
		}
	}
	t.Setenv("PATH", t.TempDir())
	if got, err := LookHelper(HelperAuto); err != nil || got != "" {
		t.Errorf("LookHelper(auto) without igzip = %q, %v; want in process", got, err)
	}
	if _, err := LookHelper(filepath.Join(dir, "missing")); err == nil || !errors.Is(err, os.ErrNotExist) && !strings.Contains(err.Error(), "gzip helper") {
		t.Errorf("a missing helper: err = %v", err)
	}
}
