// Package schematest validates JSON documents against JSON schemas kept as
// files in a test's testdata directory, entirely offline.
//
// A schema file may reference other schemas by URL (CycloneDX's bom schema
// references "spdx.schema.json" and "jsf-0.82.schema.json", for example).
// Such references are resolved against the other schema files found in the
// same directory as the schema, matched by their "$id" (or, for draft-04
// schemas, "id"), whatever the files are called. Nothing is fetched from the
// network: a reference that no local file declares is a compile error that
// names the missing URL.
package schematest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Validate fails the test if doc is not a JSON document valid against the
// schema in schemaFile. A schema that cannot be read or compiled stops the
// test at once (t.Fatalf); an invalid document is reported with t.Errorf,
// listing every validation error with its location in doc, so that a test
// may validate several documents and see all of their problems.
//
// Schemas referenced by schemaFile are looked up among the *.json files of
// schemaFile's directory by their $id; see the package documentation.
// Compiled schemas are cached per file for the life of the test binary.
func Validate(t testing.TB, schemaFile string, doc []byte) {
	t.Helper()
	sch, err := Compile(schemaFile)
	if err != nil {
		t.Fatalf("schematest: %v", err)
		return
	}
	if err := validate(sch, doc); err != nil {
		t.Errorf("schematest: document is not valid against %s:\n%v\ndocument:\n%s",
			schemaFile, err, excerpt(doc, 4096))
	}
}

// Check is Validate without a testing.TB: it returns an error describing why
// doc is not valid against the schema in schemaFile (or why the schema could
// not be compiled), and nil when doc is valid.
func Check(schemaFile string, doc []byte) error {
	sch, err := Compile(schemaFile)
	if err != nil {
		return err
	}
	return validate(sch, doc)
}

// Compile returns the compiled schema in schemaFile, resolving its references
// to the other schema files of the same directory by their $id. Results,
// errors included, are cached by the file's absolute path.
func Compile(schemaFile string) (*jsonschema.Schema, error) {
	abs, err := filepath.Abs(schemaFile)
	if err != nil {
		return nil, fmt.Errorf("resolve schema path %q: %w", schemaFile, err)
	}
	cacheMu.Lock()
	e, ok := cache[abs]
	if !ok {
		e = &cacheEntry{}
		cache[abs] = e
	}
	cacheMu.Unlock()
	e.once.Do(func() { e.schema, e.err = compile(abs) })
	return e.schema, e.err
}

type cacheEntry struct {
	once   sync.Once
	schema *jsonschema.Schema
	err    error
}

var (
	cacheMu sync.Mutex
	cache   = map[string]*cacheEntry{}
)

// compile builds a compiler that knows every schema of abs's directory by
// its id and compiles abs.
func compile(abs string) (*jsonschema.Schema, error) {
	main, err := readJSON(abs)
	if err != nil {
		return nil, fmt.Errorf("read schema %s: %w", abs, err)
	}

	c := jsonschema.NewCompiler()
	loader := offlineLoader{dir: filepath.Dir(abs), conflicts: map[string][]string{}}
	// Refuse every URL that is not registered below: no network, no
	// surprises from files elsewhere on disk.
	c.UseLoader(loader)

	mainID := schemaID(main)
	docs := map[string]any{}     // id -> schema
	files := map[string]string{} // id -> file
	if mainID != "" {
		docs[mainID], files[mainID] = main, abs
	}

	siblings, err := filepath.Glob(filepath.Join(filepath.Dir(abs), "*.json"))
	if err != nil {
		return nil, fmt.Errorf("list schemas beside %s: %w", abs, err)
	}
	for _, f := range siblings {
		if f == abs {
			continue
		}
		doc, err := readJSON(f)
		if err != nil || !looksLikeSchema(doc) {
			// Golden outputs and other data files live in testdata too.
			continue
		}
		id := schemaID(doc)
		switch {
		case id == "", id == mainID:
			// The schema being compiled wins over a sibling
			// that claims its id (an older version, say).
			continue
		case loader.conflicts[id] != nil:
			loader.conflicts[id] = append(loader.conflicts[id], f)
			continue
		case files[id] != "":
			// Two siblings claim one id: register neither, and
			// say so if the schema turns out to need it.
			loader.conflicts[id] = []string{files[id], f}
			delete(docs, id)
			delete(files, id)
			continue
		}
		docs[id], files[id] = doc, f
	}
	for id, doc := range docs {
		if err := c.AddResource(id, doc); err != nil {
			return nil, fmt.Errorf("register schema %s as %s: %w", files[id], id, err)
		}
	}

	loc := mainID
	if loc == "" {
		// No id: compile by file name. AddResource accepts a path and
		// gives it a file:// URL, which relative references resolve
		// against.
		if err := c.AddResource(abs, main); err != nil {
			return nil, fmt.Errorf("register schema %s: %w", abs, err)
		}
		loc = abs
	}
	sch, err := c.Compile(loc)
	if err != nil {
		return nil, fmt.Errorf("compile schema %s: %w", abs, err)
	}
	return sch, nil
}

// validate checks doc, which must be JSON, against sch.
func validate(sch *jsonschema.Schema, doc []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("document is not JSON: %w", err)
	}
	if err := sch.Validate(inst); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return &Error{Schema: sch.Location, Details: ve}
		}
		return fmt.Errorf("validate against %s: %w", sch.Location, err)
	}
	return nil
}

// Error is returned by Check for a document that does not conform to its
// schema. Its message lists every failed keyword with the instance location
// (a JSON pointer into the document) that failed it.
type Error struct {
	// Schema is the URL (the $id) of the schema validated against.
	Schema string
	// Details is the library's error tree.
	Details *jsonschema.ValidationError
}

// Error lists the validation failures, one per line.
func (e *Error) Error() string {
	units := flatten(e.Details)
	if len(units) == 0 {
		// Fall back to the library's own rendering.
		return e.Details.Error()
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d validation error(s) against %s:", len(units), e.Schema)
	for i, u := range units {
		if i == maxListed {
			fmt.Fprintf(&sb, "\n  … and %d more", len(units)-maxListed)
			break
		}
		loc := u.loc
		if loc == "" {
			loc = "(document root)"
		}
		fmt.Fprintf(&sb, "\n  at %s: %s [%s]", loc, u.msg, u.kw)
	}
	return sb.String()
}

// Unwrap returns the library's validation error.
func (e *Error) Unwrap() error { return e.Details }

type unit struct{ loc, msg, kw string }

// maxListed bounds how many failures Error lists.
const maxListed = 50

// flatten returns the leaves of the error tree, which are the ones that say
// what is actually wrong ("missing property", "got string, want integer"),
// in document order of discovery.
func flatten(ve *jsonschema.ValidationError) []unit {
	var units []unit
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		leaf := &jsonschema.ValidationError{
			SchemaURL:        e.SchemaURL,
			InstanceLocation: e.InstanceLocation,
			ErrorKind:        e.ErrorKind,
		}
		u := unit{
			loc: pointer(e.InstanceLocation),
			kw:  e.SchemaURL + pointer(e.ErrorKind.KeywordPath()),
		}
		if out := leaf.BasicOutput(); out.Error != nil {
			u.msg = out.Error.String()
		} else {
			u.msg = leaf.Error()
		}
		units = append(units, u)
	}
	walk(ve)
	return units
}

// pointer renders tokens as a JSON pointer (RFC 6901).
func pointer(tokens []string) string {
	var sb strings.Builder
	for _, tok := range tokens {
		sb.WriteByte('/')
		tok = strings.ReplaceAll(tok, "~", "~0")
		sb.WriteString(strings.ReplaceAll(tok, "/", "~1"))
	}
	return sb.String()
}

// offlineLoader answers every URL that was not registered with the compiler
// with an error naming the directory the schema should have been put in.
type offlineLoader struct {
	dir       string
	conflicts map[string][]string // id -> files that all declare it
}

// Load implements jsonschema.URLLoader.
func (l offlineLoader) Load(u string) (any, error) {
	if fs := l.conflicts[strings.TrimSuffix(u, "#")]; len(fs) > 0 {
		return nil, fmt.Errorf("schema %s is ambiguous: it is declared by %s", u, strings.Join(fs, " and "))
	}
	return nil, fmt.Errorf("schema %s is not available offline: put a schema file declaring that $id in %s", u, l.dir)
}

// readJSON parses the file at path as JSON, keeping numbers exact.
func readJSON(path string) (any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return doc, nil
}

// schemaID returns a schema's absolute id: "$id", or "id" as draft-04 and
// earlier call it, without any empty fragment. It returns "" when the
// document declares none or a relative one.
func schemaID(doc any) string {
	m, ok := doc.(map[string]any)
	if !ok {
		return ""
	}
	for _, k := range []string{"$id", "id"} {
		s, ok := m[k].(string)
		if !ok || s == "" {
			continue
		}
		s = strings.TrimSuffix(s, "#")
		u, err := url.Parse(s)
		if err != nil || !u.IsAbs() {
			continue
		}
		return s
	}
	return ""
}

// looksLikeSchema reports whether doc declares a JSON Schema dialect in its
// "$schema" keyword. SARIF logs carry "$schema" too, pointing at the SARIF
// schema, so the dialect's host is checked.
func looksLikeSchema(doc any) bool {
	m, ok := doc.(map[string]any)
	if !ok {
		return false
	}
	s, ok := m["$schema"].(string)
	return ok && strings.Contains(s, "json-schema.org/")
}

// excerpt returns doc, indented when it is compact JSON, cut to at most max
// bytes.
func excerpt(doc []byte, max int) string {
	var buf bytes.Buffer
	if json.Indent(&buf, doc, "", "  ") == nil {
		doc = buf.Bytes()
	}
	if len(doc) > max {
		return string(doc[:max]) + fmt.Sprintf("\n… (%d more bytes)", len(doc)-max)
	}
	return string(doc)
}
