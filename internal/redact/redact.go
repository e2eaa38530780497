// Package redact keeps secret values out of everything shipshape writes.
//
// Analyzers report the secret values they found (analyze.Output.Redact);
// a Set built from them replaces every occurrence, in every string of a
// report or of any other output, with the value's redacted form: its first
// and last few characters ("npm_…ELCu"), or asterisks for short values. It
// is the one place where redaction happens: analyzers never rewrite their
// input to hide what they found.
package redact

import (
	"reflect"
	"sort"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// MinLen is the length below which a value is not redacted inside other
// text: replacing every "id" or "x86" would destroy ordinary text, and a
// value that short is found by guessing anyway. Analyzers still redact
// such values where they report them whole (Value), and leave well-known
// defaults ("root", "admin") out of the set.
const MinLen = 4

// Value is the redacted form of one secret value: the first and last four
// characters of a long value, two of a medium one, asterisks for a short
// one; a PEM block keeps its header and a few body characters.
func Value(v string) string {
	if strings.HasPrefix(v, "-----BEGIN") {
		// A PEM block: its header says what it is; show a few body bytes.
		header, body, _ := strings.Cut(v, "-----\n")
		if i := strings.Index(body, "-----END"); i >= 0 {
			body = body[:i]
		}
		body = strings.NewReplacer("\n", "", "\\n", "", "\r", "").Replace(body)
		if len(body) > 8 {
			body = body[:4] + "…" + body[len(body)-4:]
		}
		return header + "----- " + body
	}
	v = strings.ReplaceAll(v, "\n", "")
	switch {
	case len(v) >= 20:
		return v[:4] + "…" + v[len(v)-4:]
	case len(v) >= 12:
		return v[:2] + "…" + v[len(v)-2:]
	}
	return strings.Repeat("*", min(len(v), 8))
}

// Set is a set of secret values to hide. The zero value (and nil) hides
// nothing. A Set is immutable once built and safe for concurrent use.
type Set struct {
	r *strings.Replacer
}

// New builds a Set from values; duplicates, and values shorter than MinLen,
// are ignored. Longer values are replaced first, so that a value holding
// another is hidden whole.
func New(values ...string) *Set {
	seen := map[string]bool{}
	var vs []string
	for _, v := range values {
		if len(v) < MinLen || seen[v] {
			continue
		}
		seen[v] = true
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return &Set{}
	}
	sort.Slice(vs, func(i, j int) bool {
		if len(vs[i]) != len(vs[j]) {
			return len(vs[i]) > len(vs[j])
		}
		return vs[i] < vs[j]
	})
	pairs := make([]string, 0, 2*len(vs))
	for _, v := range vs {
		pairs = append(pairs, v, Value(v))
	}
	return &Set{r: strings.NewReplacer(pairs...)}
}

// Empty reports whether the set hides nothing.
func (s *Set) Empty() bool { return s == nil || s.r == nil }

// String returns s with every value of the set redacted.
func (s *Set) String(str string) string {
	if s.Empty() || str == "" {
		return str
	}
	return s.r.Replace(str)
}

// Hider returns a function that hides, in a string, every value find
// finds in it (find is a set of rules, as secret.ValueFinder): for text
// that no scan has seen, such as what an application printed.
func Hider(find func(text []byte) []string) func(string) string {
	return func(str string) string {
		if str == "" {
			return str
		}
		if vs := find([]byte(str)); len(vs) > 0 {
			return New(vs...).String(str)
		}
		return str
	}
}

// Strings redacts each string of ss in place.
func (s *Set) Strings(ss []string) {
	if s.Empty() {
		return
	}
	for i := range ss {
		ss[i] = s.String(ss[i])
	}
}

// Report redacts every string of r that can carry a value: the findings
// (see Findings), the layers' history lines, the practices' summaries and
// reasons, the warnings, the suppressed entries and every string inside
// the sections (which analyzers fill with history lines, paths, labels …).
func (s *Set) Report(r *scorecard.Report) {
	if s.Empty() || r == nil {
		return
	}
	s.Findings(r.Findings)
	for i := range r.Image.Layers {
		r.Image.Layers[i].CreatedBy = s.String(r.Image.Layers[i].CreatedBy)
	}
	for i := range r.Image.History {
		r.Image.History[i].CreatedBy = s.String(r.Image.History[i].CreatedBy)
	}
	for i := range r.Practices {
		p := &r.Practices[i]
		p.Summary, p.Reason = s.String(p.Summary), s.String(p.Reason)
	}
	s.Strings(r.Warnings)
	for i := range r.Suppressed {
		x := &r.Suppressed[i]
		x.Path, x.Reason = s.String(x.Path), s.String(x.Reason)
	}
	for k, v := range r.Sections {
		r.Sections[k] = s.Value(v)
	}
}

// Value returns a copy of v with every string it holds redacted: strings,
// and the exported string fields, elements and keys' values of the
// structs, pointers, slices, arrays and maps inside it. v itself is not
// changed (the analyzers' values may be shared); unexported fields are
// copied as they are.
func (s *Set) Value(v any) any {
	if s.Empty() || v == nil {
		return v
	}
	return s.value(reflect.ValueOf(v)).Interface()
}

func (s *Set) value(v reflect.Value) reflect.Value {
	switch v.Kind() {
	case reflect.String:
		out := reflect.New(v.Type()).Elem()
		out.SetString(s.String(v.String()))
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type().Elem())
		out.Elem().Set(s.value(v.Elem()))
		return out
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		out := reflect.New(v.Type()).Elem()
		out.Set(s.value(v.Elem()))
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := range v.NumField() {
			if f := out.Field(i); f.CanSet() {
				f.Set(s.value(v.Field(i)))
			}
		}
		return out
	case reflect.Slice:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(s.value(v.Index(i)))
		}
		return out
	case reflect.Array:
		out := reflect.New(v.Type()).Elem()
		for i := range v.Len() {
			out.Index(i).Set(s.value(v.Index(i)))
		}
		return out
	case reflect.Map:
		if v.IsNil() {
			return v
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		iter := v.MapRange()
		for iter.Next() {
			out.SetMapIndex(iter.Key(), s.value(iter.Value()))
		}
		return out
	}
	return v
}

// Findings redacts every string field of the findings in place: title,
// description, history line, path, field, fix, package and source, and the
// evidence values (nested maps and lists included).
func (s *Set) Findings(fs []scorecard.Finding) {
	if s.Empty() {
		return
	}
	for i := range fs {
		f := &fs[i]
		for _, p := range []*string{&f.Title, &f.Description, &f.CreatedBy, &f.Path, &f.Field, &f.Fix} {
			*p = s.String(*p)
		}
		if f.Package != nil {
			pkg := *f.Package
			pkg.Name, pkg.Version, pkg.PURL = s.String(pkg.Name), s.String(pkg.Version), s.String(pkg.PURL)
			f.Package = &pkg
		}
		if f.Source != nil {
			src := *f.Source
			src.File = s.String(src.File)
			f.Source = &src
		}
		if f.Evidence != nil {
			ev := make(map[string]any, len(f.Evidence))
			for k, v := range f.Evidence {
				ev[k] = s.any(v)
			}
			f.Evidence = ev
		}
	}
}

// any redacts the strings inside an evidence value, copying maps and
// lists (evidence maps may be shared between findings).
func (s *Set) any(v any) any {
	switch v := v.(type) {
	case string:
		return s.String(v)
	case []string:
		out := make([]string, len(v))
		for i, x := range v {
			out[i] = s.String(x)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = s.any(x)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[k] = s.any(x)
		}
		return out
	case map[string]string:
		out := make(map[string]string, len(v))
		for k, x := range v {
			out[k] = s.String(x)
		}
		return out
	}
	return v
}

// EvidenceValues returns the values that findings carry whole in
// Evidence["secret"] (a scan that shows secrets): with the values of a
// plan, the Set that hides all of them from a report made by such a scan.
func EvidenceValues(fs []scorecard.Finding) []string {
	var out []string
	for _, f := range fs {
		if v, ok := f.Evidence["secret"].(string); ok && v != "" {
			out = append(out, v)
		}
	}
	return out
}
