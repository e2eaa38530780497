package server_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

func init() {
	openapi3filter.RegisterBodyDecoder("text/html", func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(body)
		return string(b), err
	})
}

// ownAPI is docs/server-openapi.yaml as a router, loaded once.
var ownAPI = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join("..", "..", "docs", "server-openapi.yaml"))
	if err != nil {
		return nil, err
	}
	return legacy.NewRouter(doc)
})

// checkOwnAPI fails the test when an answer of the server's own API does
// not follow docs/server-openapi.yaml. Harbor's paths are checked against
// Harbor's documents instead (harbor_test.go).
func checkOwnAPI(t testing.TB, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	if strings.HasPrefix(req.URL.Path, "/api/") {
		return
	}
	r, err := ownAPI()
	if err != nil {
		t.Fatalf("docs/server-openapi.yaml: %v", err)
	}
	// Route with the path alone: the document's server is "/".
	rr := req.Clone(context.Background())
	rr.URL = &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	route, params, err := r.FindRoute(rr)
	if err != nil {
		if resp.StatusCode == http.StatusNotFound {
			return // a path the API does not have
		}
		t.Errorf("%s %s answered %d but is not in docs/server-openapi.yaml: %v", req.Method, req.URL.Path, resp.StatusCode, err)
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: rr, PathParams: params, Route: route},
		Status:                 resp.StatusCode, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s: the answer does not follow docs/server-openapi.yaml: %v\n%.300s", req.Method, req.URL.Path, err, body)
	}
}

func TestOwnAPIDocument(t *testing.T) {
	if _, err := ownAPI(); err != nil {
		t.Fatal(err)
	}
}
