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

// keyed finds the value after "key: ", a rule that needs the words in
// front of the value.
func keyed(line []byte) []string {
	var vs []string
	for _, m := range regexp.MustCompile(`key: (\S+)`).FindAllSubmatch(line, -1) {
		vs = append(vs, string(m[1]))
	}
	return vs
}

// TestWriterLongLine: a line longer than the Writer holds back is
// written in pieces, not held without bound; the pieces are cut between
// words, and the words before a cut are still seen by the next piece.
func TestWriterLongLine(t *testing.T) {
	pad := strings.Repeat("x ", maxLine/2) // maxLine bytes, a space every other one
	for _, tt := range []struct {
		name   string
		find   func([]byte) []string
		writes []string
		want   string
		secret string
	}{
		{"value across the limit", tokens, []string{pad + "tok_0123", "456789 done"},
			pad + Value("tok_0123456789") + " done", "456789"},
		{"value after a cut", keyed, []string{pad + "key: ", "s3cr3tvalue\n"},
			pad + "key: " + Value("s3cr3tvalue") + "\n", "s3cr3tvalue"},
		{"value after a cut, no end", keyed, []string{pad + "key: ", "s3cr3tvalue"},
			pad + "key: " + Value("s3cr3tvalue"), "s3cr3tvalue"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			w := NewWriter(&out, tt.find)
			for _, s := range tt.writes {
				if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
					t.Fatalf("Write = %d, %v", n, err)
				}
			}
			if len(w.buf) > maxLine {
				t.Errorf("%d bytes held back", len(w.buf))
			}
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
			got := out.String()
			if strings.Contains(got, tt.secret) {
				t.Errorf("%q got through: ...%q", tt.secret, got[max(0, len(got)-60):])
			}
			if got != tt.want {
				t.Errorf("wrote ...%q, want ...%q", got[max(0, len(got)-60):], tt.want[max(0, len(tt.want)-60):])
			}
		})
	}

	// A run without a space or a tab is written as it comes once too long.
	var out bytes.Buffer
	w := NewWriter(&out, tokens)
	long := strings.Repeat("x", maxLine+1)
	w.Write([]byte(long))
	if out.Len() != len(long) {
		t.Errorf("%d bytes written of a %d-byte line without an end or a space", out.Len(), len(long))
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
