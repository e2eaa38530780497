package vuln

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/vuln/db"
	"github.com/shipshape-dev/shipshape/internal/vuln/osv"
)

// Intel is what ranks a vulnerability beyond its own records: the
// severities of alias records, the CISA KEV catalog and EPSS scores. A
// *db.DB implements it.
type Intel interface {
	AliasRecord(id string) (*osv.Record, error)
	KnownExploited(cve string) (*db.KEV, error)
	EPSSScore(cve string) (*db.EPSS, error)
	// HasRisk says whether KEV and EPSS data were imported.
	HasRisk() (kev, epss bool)
}

// hasKEV reports whether KEV data can be consulted.
func hasKEV(intel Intel) bool {
	if intel == nil {
		return false
	}
	kev, _ := intel.HasRisk()
	return kev
}

// Priority tiers of a vulnerability, most urgent first: known exploited
// (CISA KEV), then reachable (its vulnerable symbols are linked into the
// binary) or in use (a slim run saw a file of the package opened), then
// fixable, then the rest. Within a tier findings
// are ordered by severity, then EPSS.
const (
	PriorityExploited = "exploited"
	PriorityReachable = "reachable"
	PriorityFixable   = "fixable"
	PriorityOther     = "other"
)

// Priorities are the tiers, most urgent first.
var Priorities = []string{PriorityExploited, PriorityReachable, PriorityFixable, PriorityOther}

// PriorityTier is the rank of a tier (higher is more urgent; 0 unknown).
func PriorityTier(p string) int {
	for i, q := range Priorities {
		if q == p {
			return len(Priorities) - i
		}
	}
	return 0
}

// ParsePriority checks a --vuln-priority value.
func ParsePriority(s string) (string, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || s == "any" {
		return "", nil
	}
	if PriorityTier(s) == 0 {
		return "", fmt.Errorf("priority %q: want one of %s or any", s, strings.Join(Priorities, ", "))
	}
	return s, nil
}

// risk is what the ranking knows of one finding.
type risk struct {
	kev       *db.KEV
	epss      *db.EPSS
	reachable string // "yes", "no", "unknown" or "" (not judged)
	inUse     string // "yes", "no" or "" (no slim trace)
	symbols   []string
	fixable   bool
	severity  scorecard.Severity
}

func (r *risk) priority() string {
	switch {
	case r.kev != nil:
		return PriorityExploited
	case r.reachable == "yes" || r.inUse == "yes":
		return PriorityReachable
	case r.fixable:
		return PriorityFixable
	}
	return PriorityOther
}

// score orders findings: tier, then severity, then EPSS (higher first).
func (r *risk) score() int {
	s := PriorityTier(r.priority())*1000 + r.severity.Rank()*100
	if r.epss != nil {
		s += int(r.epss.Score * 99)
	}
	return s
}

// rateWithAliases rates a match from its records, then from the alias
// records the database keeps, then from the ecosystem's own rating.
func rateWithAliases(intel Intel, ids []string, rating Rating) (Rating, string) {
	if intel == nil || strings.HasPrefix(rating.Source, "cvss_") {
		return rating, ""
	}
	best, from := Rating{}, ""
	for _, id := range ids {
		r, err := intel.AliasRecord(id)
		if err != nil || r == nil {
			continue
		}
		ar := Rate([]*osv.Record{r}, nil)
		if !strings.HasPrefix(ar.Source, "cvss_") {
			continue
		}
		if best.Vector == "" || ar.Score > best.Score {
			best, from = ar, id
		}
	}
	if best.Vector == "" {
		return rating, ""
	}
	best.Source = "alias_" + best.Source
	return best, from
}

// exploitation looks the CVE ids up in KEV and EPSS: the KEV entry of
// any of them, and the highest EPSS score.
func exploitation(intel Intel, ids []string) (*db.KEV, *db.EPSS) {
	if intel == nil {
		return nil, nil
	}
	var kev *db.KEV
	var epss *db.EPSS
	for _, id := range ids {
		if !strings.HasPrefix(id, "CVE-") {
			continue
		}
		if kev == nil {
			if k, err := intel.KnownExploited(id); err == nil && k != nil {
				kev = k
			}
		}
		if e, err := intel.EPSSScore(id); err == nil && e != nil && (epss == nil || e.Score > epss.Score) {
			epss = e
		}
	}
	return kev, epss
}

// relatedExploited lists the related ids (not aliases: distinct
// vulnerabilities, such as the protocol CVE behind an implementation's
// own) that the KEV catalog lists. They do not change the priority.
func relatedExploited(intel Intel, recs []*osv.Record, ids []string) []string {
	if intel == nil {
		return nil
	}
	var out []string
	for _, r := range recs {
		for _, id := range r.Related {
			if !strings.HasPrefix(id, "CVE-") || slices.Contains(ids, id) || slices.Contains(out, id) {
				continue
			}
			if k, err := intel.KnownExploited(id); err == nil && k != nil {
				out = append(out, id)
			}
		}
	}
	slices.Sort(out)
	return out
}

// RateRecords rates an advisory's records as its P5 finding is: their own
// CVSS, else the CVSS of their alias records when src keeps them (a
// *db.DB), else the ecosystem's rating. Other analyzers (P7's
// govulncheck results) rate the same advisory the same way with it.
func RateRecords(src any, recs []*osv.Record) Rating {
	intel, _ := src.(Intel)
	var ids []string
	var affected []osv.Affected
	for _, r := range recs {
		ids = append(ids, r.ID)
		ids = append(ids, r.Aliases...)
		affected = append(affected, r.Affected...)
	}
	rating, _ := rateWithAliases(intel, ids, Rate(recs, affected))
	return rating
}
