// Package eol knows when operating-system releases stop receiving security
// updates. The table ships in the binary (eol.json) and can be replaced by
// a newer file of the same shape without a new release.
package eol

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

//go:embed eol.json
var builtin []byte

// Cycle is one release line of a distribution, such as Debian 12.
type Cycle struct {
	Cycle    string `json:"cycle"`
	Codename string `json:"codename,omitempty"`
	Released string `json:"released"`
	// EOL is the end of regular security support.
	EOL string `json:"eol"`
	// Extended is the end of extended (LTS/ELS/ESM) support, if any.
	Extended string `json:"extended,omitempty"`

	eol, extended time.Time
}

// EOLDate is the end of regular security support.
func (c *Cycle) EOLDate() time.Time { return c.eol }

// ExtendedDate is the end of extended support (zero if none).
func (c *Cycle) ExtendedDate() time.Time { return c.extended }

// Distro is a distribution and its release cycles.
type Distro struct {
	Name   string  `json:"name"`
	Cycles []Cycle `json:"cycles"`
	// FreeExtended tells that extended support is free and comes from the
	// distribution's usual archive (Debian LTS), so that images keep
	// getting security updates without a subscription.
	FreeExtended bool `json:"freeExtended,omitempty"`
}

// Table is a parsed EOL table.
type Table struct {
	// Updated is the date the table was last updated.
	Updated string            `json:"updated"`
	Distros map[string]Distro `json:"distros"`
}

// Builtin returns the table shipped in the binary.
func Builtin() *Table {
	t, err := Parse(builtin)
	if err != nil {
		panic("eol: builtin table: " + err.Error()) // a build defect, caught by tests
	}
	return t
}

// Parse reads a table in the shape of the builtin eol.json. Unknown fields
// and bad dates are errors.
func Parse(b []byte) (*Table, error) {
	var t Table
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return nil, fmt.Errorf("eol table: %w", err)
	}
	for id, d := range t.Distros {
		for i := range d.Cycles {
			c := &d.Cycles[i]
			var err error
			if c.eol, err = time.Parse(time.DateOnly, c.EOL); err != nil {
				return nil, fmt.Errorf("eol table: %s %s: eol %q: want YYYY-MM-DD", id, c.Cycle, c.EOL)
			}
			if c.Extended != "" {
				if c.extended, err = time.Parse(time.DateOnly, c.Extended); err != nil {
					return nil, fmt.Errorf("eol table: %s %s: extended %q: want YYYY-MM-DD", id, c.Cycle, c.Extended)
				}
			}
		}
		t.Distros[id] = d
	}
	return &t, nil
}

// Lookup finds the cycle of an os-release ID and VERSION_ID: the longest
// cycle that equals the version or prefixes it at a dot ("3.20" for
// "3.20.3", "9" for "9.4"). ID_LIKE is not consulted: a derivative has its
// own support dates.
func (t *Table) Lookup(id, version string) (Distro, *Cycle, bool) {
	d, ok := t.Distros[strings.ToLower(id)]
	if !ok {
		return Distro{}, nil, false
	}
	var best *Cycle
	for i := range d.Cycles {
		c := &d.Cycles[i]
		if version == c.Cycle || strings.HasPrefix(version, c.Cycle+".") {
			if best == nil || len(c.Cycle) > len(best.Cycle) {
				best = c
			}
		}
	}
	return d, best, best != nil
}
