package vuln

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
)

// VEX is an OpenVEX document: statements that a vulnerability does not
// affect (or was fixed in) some products.
type VEX struct {
	Source     string
	Statements []VEXStatement
}

// VEXStatement is one OpenVEX statement.
type VEXStatement struct {
	Vulnerability []string // name and aliases
	Products      []string // product and subcomponent @ids (purls, image refs)
	Status        string
	Justification string
	Impact        string
}

type vexDoc struct {
	Context    string         `json:"@context"`
	Statements []vexStatement `json:"statements"`
}

type vexStatement struct {
	Vulnerability json.RawMessage `json:"vulnerability"`
	Products      []vexProduct    `json:"products"`
	Status        string          `json:"status"`
	Justification string          `json:"justification"`
	Impact        string          `json:"impact_statement"`
}

type vexProduct struct {
	ID            string       `json:"@id"`
	Subcomponents []vexProduct `json:"subcomponents"`
}

// LoadVEX reads an OpenVEX JSON document.
func LoadVEX(path string) (*VEX, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--vex: %w", err)
	}
	var d vexDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("--vex %s: not an OpenVEX JSON document: %w", path, err)
	}
	if !strings.Contains(d.Context, "openvex") {
		return nil, fmt.Errorf("--vex %s: @context %q is not OpenVEX", path, d.Context)
	}
	v := &VEX{Source: path}
	for i, s := range d.Statements {
		st := VEXStatement{Status: s.Status, Justification: s.Justification, Impact: s.Impact}
		var name string
		var obj struct {
			ID      string   `json:"@id"`
			Name    string   `json:"name"`
			Aliases []string `json:"aliases"`
		}
		switch {
		case json.Unmarshal(s.Vulnerability, &name) == nil:
			st.Vulnerability = []string{name}
		case json.Unmarshal(s.Vulnerability, &obj) == nil:
			st.Vulnerability = append([]string{obj.Name}, obj.Aliases...)
			if obj.ID != "" {
				st.Vulnerability = append(st.Vulnerability, obj.ID)
			}
		default:
			return nil, fmt.Errorf("--vex %s: statement %d: bad vulnerability", path, i)
		}
		for _, p := range s.Products {
			st.Products = append(st.Products, p.ID)
			for _, sc := range p.Subcomponents {
				st.Products = append(st.Products, sc.ID)
			}
		}
		v.Statements = append(v.Statements, st)
	}
	return v, nil
}

// Suppresses returns the statement that marks vulnerability ids as
// not_affected or fixed for a package purl in an image (refs: its
// reference, digest, repo tags), or nil.
func (v *VEX) Suppresses(ids []string, purl string, refs []string) *VEXStatement {
	if v == nil {
		return nil
	}
	for i := range v.Statements {
		s := &v.Statements[i]
		if s.Status != "not_affected" && s.Status != "fixed" {
			continue
		}
		if !anyEqualFold(s.Vulnerability, ids) {
			continue
		}
		if len(s.Products) == 0 {
			return s
		}
		for _, p := range s.Products {
			if p != "" && (purlMatches(p, purl) || anyEqualFold([]string{p}, refs)) {
				return s
			}
		}
	}
	return nil
}

func anyEqualFold(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x != "" && strings.EqualFold(x, y) {
				return true
			}
		}
	}
	return false
}

// purlMatches compares a VEX product purl with a package purl: equal
// without qualifiers, or the product names no version.
func purlMatches(product, purl string) bool {
	if purl == "" || !strings.HasPrefix(product, "pkg:") {
		return false
	}
	strip := func(s string) string {
		s, _, _ = strings.Cut(s, "#")
		s, _, _ = strings.Cut(s, "?")
		return s
	}
	p, u := strip(product), strip(purl)
	if p == u {
		return true
	}
	if !strings.Contains(p[strings.LastIndex(p, "/")+1:], "@") {
		base, _, _ := strings.Cut(u[strings.LastIndex(u, "/")+1:], "@")
		return p[:strings.LastIndex(p, "/")+1]+base == p
	}
	return false
}
