package server

import (
	"encoding/json"
	"fmt"

	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
)

// DecodeReport reads a JSON scan report back into the form a scan
// returns, so that a report read from disk or from a server is written in
// every format like a fresh one: the sections the encoders read typed (the
// package inventory, which the SBOM formats need) are decoded into their
// types again, and lists of strings in findings' evidence (a
// vulnerability's aliases) are []string again rather than []any.
func DecodeReport(b []byte) (*scorecard.Report, error) {
	var rep scorecard.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if raw, ok := rep.Sections[inventory.SectionName]; ok {
		if _, typed := raw.(*inventory.Inventory); !typed {
			b, err := json.Marshal(raw)
			if err != nil {
				return nil, fmt.Errorf("report section %s: %w", inventory.SectionName, err)
			}
			var inv inventory.Inventory
			if err := json.Unmarshal(b, &inv); err != nil {
				return nil, fmt.Errorf("report section %s: %w", inventory.SectionName, err)
			}
			rep.Sections[inventory.SectionName] = &inv
		}
	}
	for i := range rep.Findings {
		for k, v := range rep.Findings[i].Evidence {
			if l, ok := v.([]any); ok {
				if ss, ok := allStrings(l); ok {
					rep.Findings[i].Evidence[k] = ss
				}
			}
		}
	}
	return &rep, nil
}

// allStrings returns l as []string when every element is a string.
func allStrings(l []any) ([]string, bool) {
	out := make([]string, len(l))
	for i, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}
