package server_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/shipshape-dev/shipshape/internal/redact"
	"github.com/shipshape-dev/shipshape/internal/server"
)

// TestErrorsRedacted: an error message leaves the server as a log line
// leaves the CLI — through the P1 rules — whether it answers a request at
// once, records a failed scan (its status and its report) or denies an
// admission review: a token a client put in an image reference is not
// echoed whole.
func TestErrorsRedacted(t *testing.T) {
	const token = "ghp_R8kX2vQ9mL4zT7bN1wS5yU3eO6aD0fC2gH8j"
	shown := redact.Value(token)
	ts := newServer(t, makeDB(t), "", nil)
	check := func(what string, b []byte) {
		t.Helper()
		if strings.Contains(string(b), token) || !strings.Contains(string(b), shown) {
			t.Errorf("%s: want the token shown as %q, got %s", what, shown, b)
		}
	}

	code, _, b := ts.do(t, "POST", "/v1/verify", []byte(`{"image":"ci:`+token+`@127.0.0.1:1/app:1"}`), nil)
	if code != 422 {
		t.Errorf("verify a reference with userinfo: %d %s", code, b)
	}
	check("refused verify", b)

	for _, ref := range []string{"docker://127.0.0.1:1/app:" + token, "docker://ci:" + token + "@127.0.0.1:1/app:1"} {
		id := ts.submit(t, `{"image":"`+ref+`"}`)
		st := ts.wait(t, id, 30*time.Second)
		if st.Status != server.StatusFailed {
			t.Fatalf("scan of %s: %s", ref, st.Status)
		}
		t.Logf("%s: %s", ref, st.Error)
		check("failed scan's status", []byte(st.Error))
		code, _, b = ts.do(t, "GET", "/v1/scans/"+id+"/report", nil, nil)
		if code != 422 {
			t.Errorf("report of a failed scan: %d %s", code, b)
		}
		check("failed scan's report", b)
	}

	review := `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":"u1","kind":{"kind":"Pod"},"namespace":"ns","name":"p","operation":"CREATE",` +
		`"object":{"spec":{"containers":[{"name":"c","image":"evil.example.com/app:` + token + `"}]}}}}`
	code, _, b = ts.do(t, "POST", "/v1/admission", []byte(review), nil)
	if code != 200 || !strings.Contains(string(b), `"allowed": false`) {
		t.Errorf("admission of an untrusted, unpinned image: %d %s", code, b)
	}
	check("admission denial", b)
}

// TestCredentialsRedacted: a registry that quotes the credentials it was
// sent in its error does not get them into the failed scan's message: the
// request's own password or token is hidden, though no P1 rule would find
// it.
func TestCredentialsRedacted(t *testing.T) {
	quoting := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		if auth == "" {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if _, pass, ok := r.BasicAuth(); ok {
			auth = pass
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprintf(w, `{"errors":[{"code":"DENIED","message":"%s may not pull"}]}`, auth)
	}))
	t.Cleanup(quoting.Close)
	host := strings.TrimPrefix(quoting.URL, "http://")
	ts := newServer(t, makeDB(t), "", nil)
	for _, tt := range []struct{ name, creds, secret string }{
		{"password", `{"username":"ci","password":"correct-horse-battery-staple"}`, "correct-horse-battery-staple"},
		{"token", `{"token":"opaque-registry-token-0000"}`, "opaque-registry-token-0000"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id := ts.submit(t, `{"image":"docker://`+host+`/app:1","credentials":`+tt.creds+`}`)
			st := ts.wait(t, id, 30*time.Second)
			if st.Status != server.StatusFailed || !strings.Contains(st.Error, "may not pull") {
				t.Fatalf("scan against a denying registry: %s %q", st.Status, st.Error)
			}
			if strings.Contains(st.Error, tt.secret) || !strings.Contains(st.Error, redact.Value(tt.secret)) {
				t.Errorf("want the %s shown as %q: %s", tt.name, redact.Value(tt.secret), st.Error)
			}
		})
	}
}
