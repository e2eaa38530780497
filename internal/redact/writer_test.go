package redact

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// tokens finds "tok_" followed by letters and digits, for the tests.
func tokens(line []byte) []string {
	var vs []string
	for _, m := range regexp.MustCompile(`tok_[A-Za-z0-9]+`).FindAll(line, -1) {
		vs = append(vs, string(m))
	}
	return vs
}

func TestWriter(t *testing.T) {
	secret := "tok_0123456789abcdefghij"
	for _, tt := range []struct {
		name   string
		writes []string
		want   string
	}{
		{"one line", []string{"error: " + secret + " refused\n"}, "error: " + Value(secret) + " refused\n"},
		{"cut in two writes", []string{"pull docker://u:" + secret[:9], secret[9:] + "@host/x: denied\n"}, "pull docker://u:" + Value(secret) + "@host/x: denied\n"},
		{"progress lines", []string{"\r1/3 " + secret, "\r2/3\n"}, "\r1/3 " + Value(secret) + "\r2/3\n"},
		{"no end, flushed", []string{"last " + secret}, "last " + Value(secret)},
		{"nothing to hide", []string{"plain\n", "text"}, "plain\ntext"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w := NewWriter(&out, tokens)
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", s, n, err)
				}
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			if out.String() != tt.want {
				t.Errorf("wrote %q, want %q", out.String(), tt.want)
			}
			if strings.Contains(out.String(), secret) {
				t.Errorf("the value got through: %q", out.String())
			}
		})
	}
}

// TestWriterLongLine: a line longer than the Writer holds back is
// written in pieces, not held without bound.
func TestWriterLongLine(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out, tokens)
	long := strings.Repeat("x", maxLine+1)
	w.Write([]byte(long))
	if out.Len() != len(long) {
		t.Errorf("%d bytes written of a %d-byte line without an end", out.Len(), len(long))
	}
}

// TestWriterConcurrent: lines written at once from several goroutines
// come out whole (run with -race).
func TestWriterConcurrent(t *testing.T) {
	var out bytes.Buffer
	w := NewWriter(&out, tokens)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				w.Write([]byte("a line with tok_abcdefghijklmnopqrstuvwxyz in it\n"))
			}
		})
	}
	wg.Wait()
	for _, l := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		if l != "a line with "+Value("tok_abcdefghijklmnopqrstuvwxyz")+" in it" {
			t.Fatalf("line %q", l)
		}
	}
}
