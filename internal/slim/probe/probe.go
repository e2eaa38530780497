// Package probe exercises a running container the same way twice — on the
// original image and on the slimmed one — and compares what it saw: HTTP
// status codes and response hashes, command exit codes and outputs.
package probe

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Result is the outcome of one probe.
type Result struct {
	Kind   string `json:"kind"` // http, exec, script, main
	Name   string `json:"name"` // "GET 8080/tcp /path", the command, the script
	Status int    `json:"status,omitempty"`
	// Hash is the SHA-256 of the response body or of the command's output.
	Hash     string `json:"sha256,omitempty"`
	Bytes    int64  `json:"bytes"`
	ExitCode int    `json:"exitCode"`
	Error    string `json:"error,omitempty"`
	// Output is the start of a command's output, for error messages.
	Output string `json:"output,omitempty"`
	// Running is set on the main process's result when it was still
	// running at the end of the probe duration (ExitCode is then
	// meaningless).
	Running bool `json:"running,omitempty"`
	// Links are the same-origin paths an HTML response links to.
	Links []string `json:"-"`
}

// Key identifies a probe across runs.
func (r Result) Key() string { return r.Kind + " " + r.Name }

// Succeeded reports whether the probe saw the application work: an HTTP
// answer below 500, a command or script that exited 0, a main process that
// exited 0 or was still running. Two equal failures prove nothing, so a
// verification counts only probes that succeeded.
func (r Result) Succeeded() bool {
	if r.Error != "" {
		return false
	}
	switch r.Kind {
	case "http":
		return r.Status > 0 && r.Status < 500
	case "main":
		return r.Running || r.ExitCode == 0
	default:
		return r.ExitCode == 0
	}
}

// Failure says in a few words why a probe did not succeed.
func (r Result) Failure() string {
	switch {
	case r.Error != "":
		return r.Error
	case r.Kind == "http":
		return fmt.Sprintf("HTTP status %d", r.Status)
	default:
		return fmt.Sprintf("exit code %d", r.ExitCode)
	}
}

// HTTP fetches paths with retries and back-off.
type HTTP struct {
	// Timeout bounds the wait for the service to come up.
	Timeout time.Duration
	// MaxBody bounds the bytes hashed per response.
	MaxBody int64
}

// Get fetches base+path, retrying while the service is not yet listening
// (connection errors and 502/503 from a starting server) until h.Timeout.
func (h HTTP) Get(ctx context.Context, name, base, path string) Result {
	res := Result{Kind: "http", Name: name}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	maxBody := h.MaxBody
	if maxBody <= 0 {
		maxBody = 64 << 20
	}
	client := &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // probing the app under test, not trusting it
			DisableKeepAlives: true,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	deadline := time.Now().Add(timeout)
	backoff := 100 * time.Millisecond
	url := "http://" + base + path
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			res.Error = err.Error()
			return res
		}
		resp, err := client.Do(req)
		if err == nil {
			h := sha256.New()
			var head bytes.Buffer
			w := io.Writer(h)
			ct := resp.Header.Get("Content-Type")
			html := strings.HasPrefix(ct, "text/html") || ct == ""
			if html {
				w = io.MultiWriter(h, &limitedBuffer{&head, 1 << 20})
			}
			n, cerr := io.Copy(w, io.LimitReader(resp.Body, maxBody))
			resp.Body.Close()
			if html && (ct != "" || strings.HasPrefix(http.DetectContentType(head.Bytes()), "text/html")) {
				res.Links = links(resp.Request.URL, head.Bytes())
			}
			if cerr == nil && resp.StatusCode != http.StatusBadGateway && resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
				res.Status, res.Bytes, res.Hash = resp.StatusCode, n, hex.EncodeToString(h.Sum(nil))
				if cerr != nil {
					res.Error = cerr.Error()
				}
				return res
			}
		} else if strings.Contains(err.Error(), "malformed HTTP response") && strings.HasPrefix(url, "http://") {
			url = "https://" + base + path
			continue
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			res.Error = fmt.Sprintf("no answer within %s: %v", timeout, err)
			return res
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		if backoff < 2*time.Second {
			backoff *= 2
		}
	}
}

type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

var linkRE = regexp.MustCompile(`(?i)(?:href|src)\s*=\s*["']([^"'#]+)`)

// links returns the same-origin paths (with queries) an HTML page links to,
// in document order, without duplicates.
func links(base *url.URL, page []byte) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range linkRE.FindAllSubmatch(page, -1) {
		u, err := base.Parse(html.UnescapeString(string(m[1])))
		if err != nil || u.Host != base.Host || (u.Scheme != "http" && u.Scheme != "https") {
			continue
		}
		p := u.EscapedPath()
		if p == "" {
			p = "/"
		}
		if u.RawQuery != "" {
			p += "?" + u.RawQuery
		}
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// Output fills a command result from its exit code and output.
func Output(kind, name string, exit int, out []byte, err error) Result {
	sum := sha256.Sum256(out)
	r := Result{Kind: kind, Name: name, ExitCode: exit, Hash: hex.EncodeToString(sum[:]), Bytes: int64(len(out))}
	o := string(out)
	if len(o) > 512 {
		o = o[:512] + "…"
	}
	r.Output = o
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// Compare lists, in probe order, every way after differs from before.
func Compare(before, after []Result) []string {
	idx := map[string]Result{}
	for _, r := range after {
		idx[r.Key()] = r
	}
	var diffs []string
	for _, b := range before {
		a, ok := idx[b.Key()]
		switch {
		case !ok:
			diffs = append(diffs, fmt.Sprintf("%s: not run on the slimmed image", b.Key()))
		case a.Error != "" && b.Error == "":
			diffs = append(diffs, fmt.Sprintf("%s: failed on the slimmed image: %s", b.Key(), a.Error))
		case a.Running != b.Running:
			diffs = append(diffs, fmt.Sprintf("%s: %s on the slimmed image, %s on the original", b.Key(), mainState(a), mainState(b)))
		case a.Status != b.Status:
			diffs = append(diffs, fmt.Sprintf("%s: HTTP status %d, was %d", b.Key(), a.Status, b.Status))
		case a.ExitCode != b.ExitCode:
			diffs = append(diffs, fmt.Sprintf("%s: exit code %d, was %d (output: %q)", b.Key(), a.ExitCode, b.ExitCode, a.Output))
		case a.Hash != b.Hash:
			diffs = append(diffs, fmt.Sprintf("%s: response differs: %d bytes sha256 %.12s, was %d bytes sha256 %.12s", b.Key(), a.Bytes, a.Hash, b.Bytes, b.Hash))
		case b.Succeeded() && !a.Succeeded():
			diffs = append(diffs, fmt.Sprintf("%s: succeeded on the original, not on the slimmed image: %s", b.Key(), a.Failure()))
		}
	}
	return diffs
}

func mainState(r Result) string {
	if r.Running {
		return "still running"
	}
	return fmt.Sprintf("exited with code %d", r.ExitCode)
}

// Answered counts the probes of before that succeeded and gave the same
// result in after: what a verification actually proved.
func Answered(before, after []Result) int {
	idx := map[string]Result{}
	for _, r := range after {
		idx[r.Key()] = r
	}
	n := 0
	for _, b := range before {
		if a, ok := idx[b.Key()]; ok && b.Succeeded() && a.Succeeded() && a.Status == b.Status && a.ExitCode == b.ExitCode && a.Hash == b.Hash && a.Running == b.Running {
			n++
		}
	}
	return n
}
