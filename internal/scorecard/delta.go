package scorecard

import "fmt"

// PracticeDelta is how one practice's findings changed between two scans
// of related images (an original and its slimmed or fixed copy).
type PracticeDelta struct {
	Practice string `json:"practice"`
	Before   int    `json:"before"`
	After    int    `json:"after"`
	// Gone lists the titles of findings the second image no longer has.
	Gone []string `json:"gone,omitempty"`
}

// Delta compares the findings of two reports per practice, in practice
// order. A finding is the same in both when its rule, path, package and
// advisory id are.
func Delta(before, after *Report) []PracticeDelta {
	key := func(x Finding) string {
		pkg := ""
		if x.Package != nil {
			pkg = x.Package.Name
		}
		return x.Rule + "\x00" + x.Path + "\x00" + pkg + "\x00" + fmt.Sprint(x.Evidence["id"])
	}
	remains := map[string]bool{}
	for _, x := range after.Findings {
		remains[key(x)] = true
	}
	byPractice := map[Practice]*PracticeDelta{}
	get := func(p Practice) *PracticeDelta {
		if byPractice[p] == nil {
			byPractice[p] = &PracticeDelta{Practice: string(p)}
		}
		return byPractice[p]
	}
	for _, x := range before.Findings {
		d := get(x.Practice)
		d.Before++
		if !remains[key(x)] {
			d.Gone = append(d.Gone, x.Title)
		}
	}
	for _, x := range after.Findings {
		get(x.Practice).After++
	}
	var out []PracticeDelta
	for _, p := range Practices {
		if d := byPractice[p]; d != nil {
			out = append(out, *d)
		}
	}
	return out
}
