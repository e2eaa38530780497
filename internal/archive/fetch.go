package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/redact"
)

// maxFetchBytes bounds one download (Debian's largest Packages.gz is
// about 12 MiB; a mirror that sends more is not a mirror).
const maxFetchBytes = 256 << 20

// validators are the HTTP validators of an earlier download.
type validators struct {
	ETag, LastModified string
}

// fetched is a downloaded file.
type fetched struct {
	Body        []byte
	NotModified bool
	validators
}

// isLocal reports whether u is a file:// URL or a path.
func isLocal(u string) bool {
	return strings.HasPrefix(u, "file://") || !strings.Contains(u, "://")
}

// fetch gets u (http, https, file:// or a path), conditionally on old's
// validators when set. A local file is compared by content instead: its
// sha256 is its ETag.
func (u *Updater) fetch(ctx context.Context, url string, old *validators) (*fetched, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if isLocal(url) {
		p := strings.TrimPrefix(url, "file://")
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxFetchBytes+1))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if len(b) > maxFetchBytes {
			return nil, fmt.Errorf("%s: larger than %d bytes", p, maxFetchBytes)
		}
		tag := "sha256:" + sha256Hex(b)
		if old != nil && old.ETag == tag {
			return &fetched{NotModified: true}, nil
		}
		return &fetched{Body: b, validators: validators{ETag: tag}}, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "shipshape (archive index update)")
	if old != nil {
		if old.ETag != "" {
			req.Header.Set("If-None-Match", old.ETag)
		}
		if old.LastModified != "" {
			req.Header.Set("If-Modified-Since", old.LastModified)
		}
	}
	client := u.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified && old != nil:
		return &fetched{NotModified: true}, nil
	case resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("GET %s: %s", redact.URL(url), resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxFetchBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", redact.URL(url), err)
	}
	if len(b) > maxFetchBytes {
		return nil, fmt.Errorf("GET %s: larger than %d bytes", redact.URL(url), maxFetchBytes)
	}
	if resp.ContentLength >= 0 && int64(len(b)) != resp.ContentLength {
		return nil, fmt.Errorf("GET %s: download truncated: %d of %d bytes", redact.URL(url), len(b), resp.ContentLength)
	}
	return &fetched{Body: b, validators: validators{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}}, nil
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// join appends path elements to a base URL or directory.
func join(base string, elems ...string) string {
	return strings.TrimSuffix(base, "/") + "/" + strings.Join(elems, "/")
}
