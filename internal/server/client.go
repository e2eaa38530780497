package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// Client runs scans on a shipshape server ("shipshape scan --server").
type Client struct {
	// BaseURL is the server ("http://127.0.0.1:8080").
	BaseURL string
	// Token is the server's bearer token, if it asks for one.
	Token string
	// HTTP is the client used (nil: a client without overall timeout;
	// the context bounds each call).
	HTTP *http.Client
	// Poll is the interval between status checks (0: 500ms).
	Poll time.Duration
}

// maxReportBytes bounds a report read from a server.
const maxReportBytes = 512 << 20

// Scan asks the server to scan ref, waits for it and returns the JSON
// report, exactly as the server keeps it.
func (c *Client) Scan(ctx context.Context, ref string, opts ScanOptions, creds *Credentials) (*scorecard.Report, error) {
	base, err := url.Parse(strings.TrimSuffix(c.BaseURL, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http(s)://HOST[:PORT]", c.BaseURL)
	}
	body, _ := json.Marshal(ScanRequest{Image: ref, Options: opts, Credentials: creds})
	var acc ScanAccepted
	if err := c.do(ctx, http.MethodPost, base.String()+"/v1/scans", body, http.StatusAccepted, &acc); err != nil {
		return nil, err
	}
	if !idPattern.MatchString(acc.ID) {
		return nil, fmt.Errorf("server %s: answered with scan id %q", c.BaseURL, acc.ID)
	}
	poll := c.Poll
	if poll <= 0 {
		poll = 500 * time.Millisecond
	}
	for {
		var st JobStatus
		if err := c.do(ctx, http.MethodGet, base.String()+"/v1/scans/"+acc.ID, nil, http.StatusOK, &st); err != nil {
			return nil, err
		}
		switch st.Status {
		case StatusDone:
			var raw json.RawMessage
			if err := c.do(ctx, http.MethodGet, base.String()+"/v1/scans/"+acc.ID+"/report?format=json", nil, http.StatusOK, &raw); err != nil {
				return nil, err
			}
			return DecodeReport(raw)
		case StatusFailed:
			return nil, fmt.Errorf("server %s: %s", c.BaseURL, st.Error)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for scan %s on %s: %w", acc.ID, c.BaseURL, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// do sends one request and decodes a JSON answer of status want.
func (c *Client) do(ctx context.Context, method, u string, body []byte, want int, v any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReportBytes))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	if resp.StatusCode != want {
		var e apiError
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return fmt.Errorf("server %s: %s", resp.Status, e.Error)
		}
		return fmt.Errorf("%s %s: %s", method, u, resp.Status)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	return nil
}
