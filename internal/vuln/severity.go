package vuln

import (
	"strings"

	gocvss30 "github.com/pandatix/go-cvss/30"
	gocvss31 "github.com/pandatix/go-cvss/31"
	gocvss40 "github.com/pandatix/go-cvss/40"

	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/vuln/osv"
)

// Rating is a vulnerability's severity and where it came from.
type Rating struct {
	Severity scorecard.Severity
	// Score is the CVSS base score (0 when none was computed).
	Score  float64
	Vector string
	// Source is "cvss_v3", "cvss_v4", the ecosystem's own rating
	// ("database_specific", "ecosystem_specific", "Ubuntu") or "unknown".
	Source string
}

// CVSSScore computes the base score of a CVSS v3.0, v3.1 or v4.0 vector.
func CVSSScore(vector string) (float64, bool) {
	switch {
	case strings.HasPrefix(vector, "CVSS:3.1/"):
		c, err := gocvss31.ParseVector(vector)
		if err != nil {
			return 0, false
		}
		return c.BaseScore(), true
	case strings.HasPrefix(vector, "CVSS:3.0/"):
		c, err := gocvss30.ParseVector(vector)
		if err != nil {
			return 0, false
		}
		return c.BaseScore(), true
	case strings.HasPrefix(vector, "CVSS:4.0/"):
		c, err := gocvss40.ParseVector(vector)
		if err != nil {
			return 0, false
		}
		return c.Score(), true
	}
	return 0, false
}

// FromScore maps a CVSS score to a severity (CVSS qualitative ratings).
func FromScore(s float64) scorecard.Severity {
	switch {
	case s >= 9:
		return scorecard.Critical
	case s >= 7:
		return scorecard.High
	case s >= 4:
		return scorecard.Medium
	case s > 0:
		return scorecard.Low
	}
	return scorecard.Info
}

// fromWord maps an ecosystem's own rating to a severity.
func fromWord(w string) (scorecard.Severity, bool) {
	switch strings.ToLower(strings.Trim(strings.TrimSpace(w), "*")) {
	case "critical":
		return scorecard.Critical, true
	case "high", "important":
		return scorecard.High, true
	case "moderate", "medium":
		return scorecard.Medium, true
	case "low":
		return scorecard.Low, true
	case "negligible", "unimportant", "end-of-life", "none":
		return scorecard.Info, true
	}
	return "", false
}

// Rate computes the severity of merged records for one package: the
// highest CVSS v3 base score, else the highest v4, else the ecosystem's
// own rating; unknown severities rate medium.
func Rate(recs []*osv.Record, affected []osv.Affected) Rating {
	var best [2]Rating // v3, v4
	consider := func(sevs []osv.Severity) {
		for _, s := range sevs {
			slot := -1
			switch s.Type {
			case "CVSS_V3":
				slot = 0
			case "CVSS_V4":
				slot = 1
			case "Ubuntu":
				continue
			}
			if slot < 0 {
				continue
			}
			score, ok := CVSSScore(s.Score)
			if ok && (best[slot].Vector == "" || score > best[slot].Score) {
				best[slot] = Rating{Severity: FromScore(score), Score: score, Vector: s.Score, Source: strings.ToLower(s.Type)}
			}
		}
	}
	for _, r := range recs {
		consider(r.Severity)
	}
	for _, a := range affected {
		consider(a.Severity)
	}
	for _, b := range best {
		if b.Vector != "" {
			return b
		}
	}
	// The ecosystem's own words, most severe first.
	var word Rating
	take := func(w, src string) {
		if s, ok := fromWord(w); ok && (word.Severity == "" || s.Rank() > word.Severity.Rank()) {
			word = Rating{Severity: s, Source: src}
		}
	}
	for _, r := range recs {
		if r.DatabaseSpecific != nil {
			take(r.DatabaseSpecific.Severity, "database_specific")
		}
		for _, s := range r.Severity {
			if s.Type == "Ubuntu" {
				take(s.Score, "Ubuntu")
			}
		}
	}
	for _, a := range affected {
		if a.EcosystemSpecific != nil {
			take(a.EcosystemSpecific.Severity, "ecosystem_specific")
		}
		if a.DatabaseSpecific != nil {
			take(a.DatabaseSpecific.Severity, "database_specific")
		}
		for _, s := range a.Severity {
			if s.Type == "Ubuntu" {
				take(s.Score, "Ubuntu")
			}
		}
	}
	if word.Severity != "" {
		return word
	}
	return Rating{Severity: scorecard.Medium, Source: "unknown"}
}
