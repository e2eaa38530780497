package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shipshape-dev/shipshape/internal/policy"
	"github.com/shipshape-dev/shipshape/internal/server"
)

func TestRequests(t *testing.T) {
	ts := newServer(t, makeDB(t), "", func(c *server.Config) { c.MaxBodyBytes = 4096 })
	huge := []byte(`{"image":"` + strings.Repeat("a", 8192) + `"}`)
	tests := []struct {
		name, method, path string
		body               []byte
		hdr                map[string]string
		want               int
		wantBody           string
	}{
		{"healthz needs no token", "GET", "/healthz", nil, map[string]string{"Authorization": ""}, 200, `"ok"`},
		{"readyz says what is loaded", "GET", "/readyz", nil, map[string]string{"Authorization": ""}, 200, `"Alpine"`},
		{"no token", "GET", "/v1/db", nil, map[string]string{"Authorization": ""}, 401, "bearer token"},
		{"wrong token", "POST", "/v1/scans", []byte(`{"image":"docker://127.0.0.1:1/a:1"}`), map[string]string{"Authorization": "Bearer nope"}, 401, "bearer token"},
		{"metrics need the token", "GET", "/metrics", nil, map[string]string{"Authorization": ""}, 401, "bearer token"},
		{"db status", "GET", "/v1/db", nil, nil, 200, `"records": 1`},
		{"huge body", "POST", "/v1/scans", huge, nil, 413, "over the limit of 4096"},
		{"huge body, chunked", "POST", "/v1/scans", huge, map[string]string{"Transfer-Encoding": "chunked"}, 413, "limit of 4096"},
		{"huge verify body", "POST", "/v1/verify", huge, nil, 413, "over the limit of 4096"},
		{"huge admission body, chunked", "POST", "/v1/admission", huge, map[string]string{"Transfer-Encoding": "chunked"}, 413, "limit of 4096"},
		{"deeply nested admission", "POST", "/v1/admission", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u","kind":{"kind":"Pod"},"object":` + strings.Repeat("[", 1900) + strings.Repeat("]", 1900) + `}}`), nil, 200, "cannot check this object"},
		{"verify a file on the server", "POST", "/v1/verify", []byte(`{"image":"oci:/var/lib"}`), nil, 422, "registry images only"},
		{"verify without a token", "POST", "/v1/verify", []byte(`{"image":"a/b:1"}`), map[string]string{"Authorization": "Bearer a-guess"}, 401, "bearer token"},
		{"not JSON", "POST", "/v1/scans", []byte(`{"image":`), nil, 400, "request body"},
		{"unknown field", "POST", "/v1/scans", []byte(`{"image":"a/b:1","colour":"red"}`), nil, 400, "colour"},
		{"no image", "POST", "/v1/scans", []byte(`{}`), nil, 422, "image: missing"},
		{"a file on the server", "POST", "/v1/scans", []byte(`{"image":"docker-archive:/etc/passwd"}`), nil, 422, "registry images only"},
		{"a directory on the server", "POST", "/v1/scans", []byte(`{"image":"dir:/"}`), nil, 422, "registry images only"},
		{"a path", "POST", "/v1/scans", []byte(`{"image":"/etc"}`), nil, 422, "registry images only"},
		{"bad severity", "POST", "/v1/scans", []byte(`{"image":"a/b:1","options":{"severity":"dire"}}`), nil, 422, "options.severity"},
		{"token and password", "POST", "/v1/scans", []byte(`{"image":"a/b:1","credentials":{"username":"u","password":"p","token":"t"}}`), nil, 422, "not both"},
		{"unknown scan", "GET", "/v1/scans/0123456789abcdef0123456789abcdef", nil, nil, 404, "unknown, or expired"},
		{"id that is a path", "GET", "/v1/scans/..%2f..%2fetc/report", nil, nil, 404, ""},
		{"bad format", "GET", "/v1/scans/0123456789abcdef0123456789abcdef/report?format=pdf", nil, nil, 400, "unknown format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, b := ts.do(t, tt.method, tt.path, tt.body, tt.hdr)
			if code != tt.want || !strings.Contains(string(b), tt.wantBody) {
				t.Errorf("%s %s: %d %s; want %d containing %q", tt.method, tt.path, code, b, tt.want, tt.wantBody)
			}
		})
	}
	// Still up.
	if code, _, _ := ts.do(t, "GET", "/healthz", nil, nil); code != 200 {
		t.Errorf("healthz after hostile requests: %d", code)
	}
	code, _, b := ts.do(t, "GET", "/metrics", nil, nil)
	for _, want := range []string{`shipshape_requests_rejected_total{reason="unauthorized"} 4`, `shipshape_requests_rejected_total{reason="too_large"} 4`, "shipshape_queue_depth 0", "shipshape_queue_capacity 8"} {
		if code != 200 || !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q:\n%s", want, b)
		}
	}
}

func TestReadyzWithoutDatabase(t *testing.T) {
	empty := t.TempDir()
	ts := newServer(t, empty, "", nil)
	code, _, b := ts.do(t, "GET", "/readyz", nil, nil)
	if code != http.StatusServiceUnavailable || !strings.Contains(string(b), "shipshape db update --db-dir "+empty) {
		t.Errorf("readyz without a database: %d %s", code, b)
	}
}

// A registry that accepts connections and never answers: each scan fails
// in bounded time with a clear error, a full queue is refused with 429,
// and the server keeps answering.
func TestHangingRegistryAndFullQueue(t *testing.T) {
	host := hangingRegistry(t)
	ts := newServer(t, makeDB(t), "", func(c *server.Config) {
		c.Workers, c.Queue, c.ScanTimeout = 1, 1, 2*time.Second
	})
	body := fmt.Sprintf(`{"image":"docker://%s/team/app:1"}`, host)
	var ids []string
	rejected := 0
	for range 4 {
		code, hdr, b := ts.do(t, "POST", "/v1/scans", []byte(body), nil)
		switch code {
		case http.StatusAccepted:
			var a server.ScanAccepted
			json.Unmarshal(b, &a)
			ids = append(ids, a.ID)
		case http.StatusTooManyRequests:
			rejected++
			if hdr.Get("Retry-After") == "" || !strings.Contains(string(b), "queue is full") {
				t.Errorf("429 without Retry-After or reason: %v %s", hdr, b)
			}
		default:
			t.Fatalf("POST: %d %s", code, b)
		}
	}
	if rejected < 2 || len(ids) < 1 {
		t.Fatalf("1 worker + 1 queue slot: %d accepted, %d refused; want at most 2 accepted", len(ids), rejected)
	}
	start := time.Now()
	for _, id := range ids {
		st := ts.wait(t, id, 20*time.Second)
		if st.Status != server.StatusFailed || !strings.Contains(st.Error, "took longer than 2s") {
			t.Errorf("scan of a hanging registry: %s %q", st.Status, st.Error)
		}
		code, _, b := ts.do(t, "GET", "/v1/scans/"+id+"/report", nil, nil)
		if code != http.StatusUnprocessableEntity || !strings.Contains(string(b), "scan failed") {
			t.Errorf("report of a failed scan: %d %s", code, b)
		}
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("failing %d scans took %s", len(ids), took)
	}
	if code, _, _ := ts.do(t, "GET", "/healthz", nil, nil); code != 200 {
		t.Errorf("healthz: %d", code)
	}
	_, _, m := ts.do(t, "GET", "/metrics", nil, nil)
	if !strings.Contains(string(m), fmt.Sprintf(`shipshape_scans_total{result="failed"} %d`, len(ids))) {
		t.Errorf("metrics do not count %d failed scans", len(ids))
	}
}

// SIGTERM's path: Shutdown refuses new scans at once, lets the running one
// go on until the deadline and then fails it with a clear reason.
func TestShutdown(t *testing.T) {
	host := hangingRegistry(t)
	ts := newServer(t, makeDB(t), "", func(c *server.Config) { c.Workers, c.ScanTimeout = 1, time.Minute })
	id := ts.submit(t, fmt.Sprintf(`{"image":"docker://%s/team/app:1"}`, host))
	for { // until running
		_, _, b := ts.do(t, "GET", "/v1/scans/"+id, nil, nil)
		if strings.Contains(string(b), `"running"`) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := ts.Shutdown(ctx)
	if err == nil || !strings.Contains(err.Error(), "cancelled") {
		t.Errorf("Shutdown with a scan still running: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("Shutdown took %s", took)
	}
	st := ts.wait(t, id, 5*time.Second)
	if st.Status != server.StatusFailed || !strings.Contains(st.Error, "shutting down") {
		t.Errorf("running scan after shutdown: %s %q", st.Status, st.Error)
	}
	code, _, b := ts.do(t, "POST", "/v1/scans", []byte(`{"image":"a/b:1"}`), nil)
	if code != http.StatusServiceUnavailable || !strings.Contains(string(b), "shutting down") {
		t.Errorf("scan after shutdown: %d %s", code, b)
	}
	if code, _, _ := ts.do(t, "GET", "/readyz", nil, nil); code != http.StatusServiceUnavailable {
		t.Errorf("readyz while shutting down: %d", code)
	}
}

// A client that sends half a request and stalls is cut off by the read
// timeout; the server keeps serving others.
func TestSlowClient(t *testing.T) {
	ts := newServerHTTP(t, makeDB(t), "", nil, func(hs *http.Server) {
		hs.ReadHeaderTimeout = 300 * time.Millisecond
		hs.ReadTimeout = 500 * time.Millisecond
	})
	addr := strings.TrimPrefix(ts.URL, "http://")
	for _, partial := range []string{
		"GET /healthz HTTP/1.1\r\nHost: x\r\n", // headers never end
		"POST /v1/scans HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + testToken + "\r\nContent-Length: 1000\r\n\r\n{\"image\":", // body never ends
	} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(partial))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		var got bytes.Buffer
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			got.Write(buf[:n])
			if err != nil {
				break
			}
		}
		c.Close()
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("stalled client %q held the connection %s", partial, took)
		}
		if strings.HasPrefix(partial, "POST") && !strings.Contains(got.String(), "400") {
			t.Errorf("stalled body: answer %q, want a 400", got.String())
		}
		if code, _, _ := ts.do(t, "GET", "/healthz", nil, nil); code != 200 {
			t.Errorf("healthz after a stalled client: %d", code)
		}
	}
}

func TestAdmission(t *testing.T) {
	strict, err := policy.Parse("strict.yaml", []byte("registries:\n  trusted: [docker.io/library/*, registry.internal:5000/ops/*]\nbase:\n  pinDigest: true\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file     string
		pol      *policy.Policy
		failOpen bool
		allowed  bool
		want     []string // fragments of the message (denied) or warnings
	}{
		{"deployment-trusted-pinned.json", nil, false, true, nil},
		{"deployment-trusted-pinned.json", strict, false, true, nil},
		{"deployment-untrusted.json", nil, false, false, []string{
			`shipshape denied Deployment shop/api`,
			`spec.template.spec.containers[0] ("api"): image "evil.example.com/team/api:1.4" comes from evil.example.com/team/api, which is not a trusted registry`,
			"push the image to a trusted registry"}},
		{"deployment-untrusted.json", strict, false, false, []string{
			`containers[1] ("sidecar"): image "docker.io/library/busybox:1.36" is not pinned by digest; use docker.io/library/busybox@sha256:`,
			"registries.trusted in strict.yaml"}},
		{"pod-init-containers.json", nil, false, false, []string{`spec.initContainers[0] ("fetch"): image "quay.io/someone/fetcher:latest"`}},
		{"pod-ephemeral.json", nil, false, false, []string{`spec.ephemeralContainers[0] ("debugger"): image "ghcr.io/hacker/netshoot:latest"`}},
		{"cronjob.json", nil, false, false, []string{`spec.jobTemplate.spec.template.spec.containers[0] ("backup")`}},
		{"cronjob.json", strict, false, false, []string{"is not pinned by digest"}},
		{"configmap.json", nil, false, true, nil},
		{"pod-delete.json", nil, false, true, nil},
		{"statefulset-malformed.json", nil, false, false, []string{"cannot check this object: StatefulSet object", "fails closed"}},
		{"statefulset-malformed.json", nil, true, true, []string{"fails open"}},
	}
	for _, tt := range tests {
		name := tt.file
		if tt.pol != nil {
			name += "/strict"
		}
		if tt.failOpen {
			name += "/fail-open"
		}
		t.Run(name, func(t *testing.T) {
			ts := newServer(t, t.TempDir(), "", func(c *server.Config) { c.Policy, c.AdmissionFailOpen = tt.pol, tt.failOpen })
			body, err := os.ReadFile(filepath.Join("testdata", "admission", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var in struct {
				Request struct{ UID string } `json:"request"`
			}
			json.Unmarshal(body, &in)
			code, _, b := ts.do(t, "POST", "/v1/admission", body, map[string]string{"Content-Type": "application/json"})
			if code != 200 {
				t.Fatalf("%d %s", code, b)
			}
			var out struct {
				APIVersion, Kind string
				Response         struct {
					UID     string
					Allowed bool
					Status  *struct {
						Code    int
						Message string
					}
					Warnings []string
				}
			}
			if err := json.Unmarshal(b, &out); err != nil {
				t.Fatal(err)
			}
			r := out.Response
			if out.APIVersion != "admission.k8s.io/v1" || out.Kind != "AdmissionReview" || r.UID != in.Request.UID {
				t.Errorf("envelope %s %s uid %q; want the request's uid %q", out.APIVersion, out.Kind, r.UID, in.Request.UID)
			}
			if r.Allowed != tt.allowed {
				t.Errorf("allowed %v, want %v: %s", r.Allowed, tt.allowed, b)
			}
			msg := strings.Join(r.Warnings, "\n")
			if r.Status != nil {
				msg += r.Status.Message
				if r.Status.Code != 403 {
					t.Errorf("status code %d", r.Status.Code)
				}
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
		})
	}
	// Without the token unless --admission-no-auth.
	ts := newServer(t, t.TempDir(), "", nil)
	review, _ := os.ReadFile(filepath.Join("testdata", "admission", "configmap.json"))
	if code, _, _ := ts.do(t, "POST", "/v1/admission", review, map[string]string{"Authorization": ""}); code != 401 {
		t.Errorf("admission without a token: %d, want 401", code)
	}
	open := newServer(t, t.TempDir(), "", func(c *server.Config) { c.AdmissionNoAuth = true })
	if code, _, b := open.do(t, "POST", "/v1/admission", review, map[string]string{"Authorization": ""}); code != 200 {
		t.Errorf("admission without a token, --admission-no-auth: %d %s", code, b)
	}
	if code, _, _ := open.do(t, "GET", "/v1/db", nil, map[string]string{"Authorization": ""}); code != 401 {
		t.Errorf("--admission-no-auth opened /v1/db: %d", code)
	}
	for _, bad := range []string{`{"kind":"AdmissionReview"}`, `{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{"uid":"x"}}`, `[`} {
		if code, _, b := ts.do(t, "POST", "/v1/admission", []byte(bad), nil); code != 400 {
			t.Errorf("review %s: %d %s, want 400", bad, code, b)
		}
	}
}

func TestRateLimit(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	ts := newServer(t, makeDB(t), "", func(c *server.Config) { c.RateLimit, c.RateBurst, c.Now = 1, 2, clock })
	steps := []struct {
		advance time.Duration
		path    string
		want    int
	}{
		{0, "/v1/db", 200},
		{0, "/v1/db", 200},
		{0, "/v1/db", 429},
		{0, "/healthz", 200}, // probes are not limited
		{0, "/readyz", 200},
		{500 * time.Millisecond, "/v1/db", 429},
		{500 * time.Millisecond, "/v1/db", 200},
		{0, "/v1/db", 429},
		{10 * time.Second, "/v1/db", 200},
		{0, "/v1/db", 200},
		{0, "/v1/db", 429},
	}
	for i, st := range steps {
		mu.Lock()
		now = now.Add(st.advance)
		mu.Unlock()
		code, hdr, b := ts.do(t, "GET", st.path, nil, nil)
		if code != st.want {
			t.Fatalf("step %d: GET %s: %d %s, want %d", i, st.path, code, b, st.want)
		}
		if code == 429 && (hdr.Get("Retry-After") != "1" || !strings.Contains(string(b), "more than 1 requests per second")) {
			t.Errorf("step %d: 429 with Retry-After %q: %s", i, hdr.Get("Retry-After"), b)
		}
	}
}
