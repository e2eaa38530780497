package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/shipshape-dev/shipshape/internal/server"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

func init() {
	// Harbor's vulnerability report type is JSON without a +json suffix.
	openapi3filter.RegisterBodyDecoder("application/vnd.security.vulnerability.report", openapi3filter.JSONBodyDecoder)
}

// harborSpec is one version of Harbor's scanner API, as a validator.
type harborSpec struct {
	version string
	router  routers.Router
}

func loadHarborSpec(t testing.TB, version, baseURL string) harborSpec {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join("testdata", "harbor-scanner", "scanner-adapter-openapi-v"+version+".yaml"))
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = openapi3.Servers{{URL: baseURL + "/api/v1"}}
	// v1.2 upstream has a typo ("descriptions" beside a schema) and
	// examples that are strings where arrays are declared.
	opts := []openapi3.ValidationOption{openapi3.AllowExtraSiblingFields("descriptions"), openapi3.DisableSchemaFormatValidation(), openapi3.DisableExamplesValidation()}
	r, err := legacy.NewRouter(doc, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return harborSpec{version: version, router: r}
}

// exchange sends a request, validating it and the answer against the
// spec; it returns the status, headers and body.
func (h harborSpec) exchange(t testing.TB, method, url string, body []byte, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+testToken)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	route, params, err := h.router.FindRoute(req)
	if err != nil {
		t.Fatalf("v%s: %s %s: not in the spec: %v", h.version, method, url, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		t.Errorf("v%s: request %s %s does not follow the spec: %v", h.version, method, url, err)
	}
	if body != nil {
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	c := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(b)), Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		t.Errorf("v%s: answer to %s %s does not follow the spec: %v\n%.500s", h.version, method, url, err, b)
	}
	return resp.StatusCode, resp.Header, b
}

func TestHarborMetadataAndBadRequests(t *testing.T) {
	ts := newServer(t, makeDB(t), "", nil)
	for _, v := range []string{"1.1", "1.2"} {
		h := loadHarborSpec(t, v, ts.URL)
		accept := server.MimeHarborMetadata
		if v == "1.1" {
			accept = server.MimeHarborMetadataV10
		}
		code, hdr, b := h.exchange(t, "GET", ts.URL+"/api/v1/metadata", nil, map[string]string{"Accept": accept})
		if code != 200 || hdr.Get("Content-Type") != accept || !strings.Contains(string(b), server.MimeHarborVuln) || !strings.Contains(string(b), "vulnerability-database-updated-at") {
			t.Errorf("v%s metadata: %d %s %s", v, code, hdr.Get("Content-Type"), b)
		}
		reqType := server.MimeHarborScanRequest + "; version=1.0"
		if v == "1.2" {
			reqType = server.MimeHarborScanRequest + "; version=1.1"
		}
		for _, bad := range []struct{ body, want string }{
			{`{"registry":{"url":"https://r.example.com"},"artifact":{"repository":"team/app","digest":"latest"}}`, "artifact.digest"},
			{`{"registry":{"url":"https://r.example.com"},"artifact":{"repository":"../../etc","digest":"sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b"}}`, "artifact.repository"},
			{`{"registry":{"url":"file:///etc"},"artifact":{"repository":"team/app","digest":"sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b"}}`, "registry.url"},
			{`{"registry":{"url":"https://r.example.com","authorization":"Basic !!!"},"artifact":{"repository":"team/app","digest":"sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b"}}`, "not base64"},
			{`{"registry":{"url":"https://r.example.com"},"artifact":{"repository":"team/app","digest":"sha256:6c3c624b58dbbcd3c0dd82b4c53f04194d1247c6eebdaab7c610cf7d66709b3b","mime_type":"application/vnd.cncf.helm.config.v1+json"}}`, "scans images"},
		} {
			code, hdr, b := h.exchange(t, "POST", ts.URL+"/api/v1/scan", []byte(bad.body), map[string]string{"Content-Type": reqType})
			if code != 422 || hdr.Get("Content-Type") != server.MimeHarborError || !strings.Contains(string(b), bad.want) {
				t.Errorf("v%s scan %s: %d %s", v, bad.body, code, b)
			}
		}
		code, _, b = h.exchange(t, "GET", ts.URL+"/api/v1/scan/0123456789abcdef0123456789abcdef/report", nil, map[string]string{"Accept": server.MimeHarborVuln})
		if code != 404 {
			t.Errorf("v%s unknown report: %d %s", v, code, b)
		}
	}
	code, _, b := ts.do(t, "GET", "/api/v1/metadata", nil, map[string]string{"Authorization": "Bearer wrong"})
	if code != 401 {
		t.Errorf("metadata with a wrong token: %d %s", code, b)
	}
}

func TestHarborScan(t *testing.T) {
	host := testenv.Registry(t)
	dbDir := makeDB(t)
	digest := pushApp(t, alpineBase(t), host, "library/app:1.0", 1)
	ts := newServer(t, dbDir, "", nil)
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte("robot$scanner:"+secretPassword))
	for _, v := range []string{"1.1", "1.2"} {
		t.Run("v"+v, func(t *testing.T) {
			h := loadHarborSpec(t, v, ts.URL)
			reqType := server.MimeHarborScanRequest + "; version=1.0"
			body := fmt.Sprintf(`{"registry":{"url":"http://%s","authorization":%q},"artifact":{"repository":"library/app","digest":%q,"tag":"1.0","mime_type":"application/vnd.docker.distribution.manifest.v2+json"}}`, host, auth, digest)
			if v == "1.2" {
				reqType = server.MimeHarborScanRequest + "; version=1.1"
				body = body[:len(body)-1] + `,"enabled_capabilities":[{"type":"vulnerability"},{"type":"sbom","parameters":{"sbom_media_types":["application/vnd.cyclonedx+json"]}}]}`
			}
			code, hdr, b := h.exchange(t, "POST", ts.URL+"/api/v1/scan", []byte(body), map[string]string{"Content-Type": reqType})
			if code != 202 || hdr.Get("Content-Type") != server.MimeHarborScanResp {
				t.Fatalf("scan: %d %s", code, b)
			}
			var acc struct{ ID string }
			json.Unmarshal(b, &acc)
			reportURL := ts.URL + "/api/v1/scan/" + acc.ID + "/report"

			// Poll as Harbor does: 302 with Refresh-After until 200.
			deadline := time.Now().Add(2 * time.Minute)
			for {
				code, hdr, b = h.exchange(t, "GET", reportURL, nil, map[string]string{"Accept": server.MimeHarborVuln})
				if code != http.StatusFound {
					break
				}
				if hdr.Get("Refresh-After") == "" || time.Now().After(deadline) {
					t.Fatalf("302 without Refresh-After, or too long: %v", hdr)
				}
				time.Sleep(100 * time.Millisecond)
			}
			if code != 200 || hdr.Get("Content-Type") != server.MimeHarborVuln {
				t.Fatalf("vulnerability report: %d %s %s", code, hdr.Get("Content-Type"), b)
			}
			var vr struct {
				Artifact        struct{ Repository, Digest string }
				Severity        string
				Vulnerabilities []struct {
					ID, Package, Version, Severity string
					FixVersion                     string `json:"fix_version"`
					PreferredCVSS                  struct {
						ScoreV3  float64 `json:"score_v3"`
						VectorV3 string  `json:"vector_v3"`
					} `json:"preferred_cvss"`
				}
			}
			json.Unmarshal(b, &vr)
			if vr.Artifact.Digest != digest || vr.Artifact.Repository != "library/app" || vr.Severity != "Critical" || len(vr.Vulnerabilities) != 1 {
				t.Fatalf("vulnerability report: %s", b)
			}
			if g := vr.Vulnerabilities[0]; g.ID != "ALPINE-CVE-2024-9143" || g.Package != "libcrypto3" || g.Version != "3.3.2-r0" || g.FixVersion != "3.3.2-r1" || g.Severity != "Critical" || g.PreferredCVSS.ScoreV3 != 9.8 {
				t.Errorf("vulnerability: %+v", g)
			}

			if v == "1.2" {
				for _, mt := range []string{"application/vnd.cyclonedx+json", "application/spdx+json"} {
					code, hdr, b = h.exchange(t, "GET", reportURL+"?sbom_media_type="+url.QueryEscape(mt), nil, map[string]string{"Accept": server.MimeHarborSBOM})
					var sr struct {
						MediaType string         `json:"media_type"`
						SBOM      map[string]any `json:"sbom"`
					}
					json.Unmarshal(b, &sr)
					if code != 200 || hdr.Get("Content-Type") != server.MimeHarborSBOM || sr.MediaType != mt || len(sr.SBOM) == 0 || !strings.Contains(string(b), "libcrypto3") {
						t.Errorf("SBOM %s: %d %.300s", mt, code, b)
					}
				}
				code, _, b = h.exchange(t, "GET", reportURL+"?sbom_media_type=text/plain", nil, map[string]string{"Accept": server.MimeHarborSBOM})
				if code != 400 {
					t.Errorf("SBOM of an unknown type: %d %s", code, b)
				}
			}

			// The full scorecard (not in Harbor's spec: checked against
			// the server's own JSON report instead).
			code, _, card := ts.do(t, "GET", "/api/v1/scan/"+acc.ID+"/report", nil, map[string]string{"Accept": server.MimeScorecard})
			_, _, own := ts.do(t, "GET", "/v1/scans/"+acc.ID+"/report", nil, nil)
			if code != 200 || !reflect.DeepEqual(normalise(t, card), normalise(t, own)) {
				t.Errorf("scorecard: %d %.300s", code, card)
			}
			code, _, b = ts.do(t, "GET", "/api/v1/scan/"+acc.ID+"/report", nil, map[string]string{"Accept": "application/pdf"})
			if code != 501 {
				t.Errorf("report as PDF: %d %s", code, b)
			}
		})
	}
	if strings.Contains(ts.Log.String(), secretPassword) || strings.Contains(ts.Log.String(), auth) {
		t.Errorf("Harbor's authorization is in the logs")
	}
}
