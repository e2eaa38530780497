package schematest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
)

const testdata = "../report/testdata"

var (
	sarifSchema     = filepath.Join(testdata, "sarif-schema-2.1.0.json")
	cyclonedxSchema = filepath.Join(testdata, "bom-1.6.schema.json")
	spdxSchema      = filepath.Join(testdata, "spdx-2.3.schema.json")
)

const validSARIF = `{
  "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
  "version": "2.1.0",
  "runs": [{
    "tool": {"driver": {"name": "shipshape", "rules": [{"id": "SS001"}]}},
    "results": [{
      "ruleId": "SS001",
      "level": "warning",
      "message": {"text": "runs as root"},
      "locations": [{"physicalLocation": {
        "artifactLocation": {"uri": "Dockerfile"},
        "region": {"startLine": 3}
      }}]
    }]
  }]
}`

// invalidSARIF has three problems: a wrong version, a result level outside
// the enum and a region line below the minimum.
const invalidSARIF = `{
  "version": "2.0.0",
  "runs": [{
    "tool": {"driver": {"name": "shipshape"}},
    "results": [{
      "level": "fatal",
      "message": {"text": "x"},
      "locations": [{"physicalLocation": {
        "artifactLocation": {"uri": "Dockerfile"},
        "region": {"startLine": 0}
      }}]
    }]
  }]
}`

func TestValidSARIF(t *testing.T) {
	Validate(t, sarifSchema, []byte(validSARIF))
	// Minimal logs are valid too.
	Validate(t, sarifSchema, []byte(`{"version":"2.1.0","runs":[]}`))
}

func TestInvalidSARIF(t *testing.T) {
	err := Check(sarifSchema, []byte(invalidSARIF))
	if err == nil {
		t.Fatal("Check accepted an invalid SARIF log")
	}
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("Check returned %T (%v), want *Error", err, err)
	}
	msg := err.Error()
	t.Logf("reported:\n%s", msg)
	for _, want := range []string{"/version", "/runs/0/results/0/level", "/runs/0/results/0/locations/0/physicalLocation/region/startLine"} {
		if !strings.Contains(msg, "at "+want+":") {
			t.Errorf("error does not point at %s:\n%s", want, msg)
		}
	}
	if !strings.Contains(msg, "3 validation error(s)") {
		t.Errorf("want 3 errors listed, got:\n%s", msg)
	}

	// Missing required properties are reported at the document root.
	err = Check(sarifSchema, []byte(`{"version":"2.1.0"}`))
	if err == nil || !strings.Contains(err.Error(), "(document root)") || !strings.Contains(err.Error(), "runs") {
		t.Errorf("missing runs: got %v", err)
	}
}

func TestValidateReportsThroughTB(t *testing.T) {
	ft := run(t, func(tb testing.TB) { Validate(tb, sarifSchema, []byte(invalidSARIF)) })
	if len(ft.errors) != 1 || ft.fatal != "" {
		t.Fatalf("Validate on an invalid doc: errors %q, fatal %q; want one Errorf", ft.errors, ft.fatal)
	}
	if !strings.Contains(ft.errors[0], "level") || !strings.Contains(ft.errors[0], "sarif-schema-2.1.0.json") {
		t.Errorf("message lacks details:\n%s", ft.errors[0])
	}

	ft = run(t, func(tb testing.TB) { Validate(tb, sarifSchema, []byte(validSARIF)) })
	if len(ft.errors) != 0 || ft.fatal != "" {
		t.Errorf("Validate on a valid doc reported %q %q", ft.errors, ft.fatal)
	}

	ft = run(t, func(tb testing.TB) { Validate(tb, sarifSchema, []byte(`{"version":`)) })
	if len(ft.errors) != 1 || !strings.Contains(ft.errors[0], "not JSON") {
		t.Errorf("Validate on broken JSON: %q", ft.errors)
	}

	ft = run(t, func(tb testing.TB) { Validate(tb, filepath.Join(t.TempDir(), "nope.json"), []byte(`{}`)) })
	if ft.fatal == "" || !strings.Contains(ft.fatal, "nope.json") {
		t.Errorf("Validate with a missing schema: fatal %q", ft.fatal)
	}
}

// TestCrossFileRefs checks that bom-1.6's references to spdx.schema.json and
// jsf-0.82.schema.json (stored as jsf-0.82.schemax.json) resolve offline.
func TestCrossFileRefs(t *testing.T) {
	bom := func(license string) []byte {
		return fmt.Appendf(nil, `{
  "bomFormat": "CycloneDX",
  "specVersion": "1.6",
  "version": 1,
  "components": [{
    "type": "library",
    "name": "zlib",
    "version": "1.3",
    "licenses": [{"license": {"id": %q}}]
  }]
}`, license)
	}
	Validate(t, cyclonedxSchema, bom("Zlib"))
	err := Check(cyclonedxSchema, bom("Not-A-Real-License"))
	if err == nil || !strings.Contains(err.Error(), "/components/0/licenses/0") {
		t.Errorf("unknown SPDX license id in a CycloneDX BOM: got %v", err)
	}
}

func TestSPDX(t *testing.T) {
	doc := `{
  "spdxVersion": "SPDX-2.3",
  "dataLicense": "CC0-1.0",
  "SPDXID": "SPDXRef-DOCUMENT",
  "name": "alpine:3.20",
  "documentNamespace": "https://example.invalid/spdx/alpine-3.20",
  "creationInfo": {"created": "2026-01-01T00:00:00Z", "creators": ["Tool: shipshape"]},
  "packages": [{"SPDXID": "SPDXRef-Package-zlib", "name": "zlib", "downloadLocation": "NOASSERTION"}]
}`
	Validate(t, spdxSchema, []byte(doc))
	bad := strings.Replace(doc, `"downloadLocation": "NOASSERTION"`, `"downloadLocation": 7`, 1)
	if err := Check(spdxSchema, []byte(bad)); err == nil || !strings.Contains(err.Error(), "/packages/0/downloadLocation") {
		t.Errorf("bad downloadLocation: got %v", err)
	}
}

func TestLocalSchemas(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// A schema without an id, referencing a sibling by URL; the sibling's
	// file name does not match its id.
	main := write("main.json", `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "type": "object",
  "properties": {"n": {"$ref": "https://example.invalid/schemas/num.json"}},
  "required": ["n"]
}`)
	write("whatever.json", `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "$id": "https://example.invalid/schemas/num.json",
  "type": "integer", "minimum": 1
}`)
	// Data files beside the schemas are ignored, even with an "id".
	write("osv-record.json", `{"id": "GHSA-xxxx-yyyy-zzzz", "summary": "not a schema"}`)
	write("broken.json", `{`)

	Validate(t, main, []byte(`{"n": 3}`))
	if err := Check(main, []byte(`{"n": 0}`)); err == nil || !strings.Contains(err.Error(), "/n") {
		t.Errorf("n=0: got %v", err)
	}

	// A reference nobody declares is a compile error naming the URL and
	// the directory to put it in; nothing is fetched.
	missing := write("missing.json", `{
  "$schema": "http://json-schema.org/draft-07/schema#",
  "$id": "https://example.invalid/schemas/missing.json",
  "$ref": "https://example.invalid/schemas/elsewhere.json"
}`)
	err := Check(missing, []byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), "elsewhere.json") || !strings.Contains(err.Error(), dir) {
		t.Errorf("unresolvable reference: got %v", err)
	}

	// Two siblings declaring one id make references to it ambiguous.
	write("dup1.json", `{"$schema": "http://json-schema.org/draft-07/schema#", "$id": "https://example.invalid/schemas/dup.json"}`)
	write("dup2.json", `{"$schema": "http://json-schema.org/draft-07/schema#", "$id": "https://example.invalid/schemas/dup.json"}`)
	usesDup := write("usesdup.json", `{"$schema": "http://json-schema.org/draft-07/schema#", "$ref": "https://example.invalid/schemas/dup.json"}`)
	if err := Check(usesDup, []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("ambiguous reference: got %v", err)
	}
	// ...but only for schemas that need it.
	Validate(t, main, []byte(`{"n": 5}`))
}

// fakeTB records what Validate reports instead of failing the real test.
type fakeTB struct {
	testing.TB // the real one, for the methods Validate does not call
	mu         sync.Mutex
	errors     []string
	fatal      string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.mu.Lock()
	f.fatal = fmt.Sprintf(format, args...)
	f.mu.Unlock()
	runtime.Goexit()
}

// run calls fn with a fakeTB in its own goroutine, as the testing package
// does, so that Fatalf can stop it.
func run(t *testing.T, fn func(testing.TB)) *fakeTB {
	ft := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(ft)
	}()
	<-done
	return ft
}
