package policy

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// Dependencies are the P4 thresholds (the dependencies: section):
//
//	dependencies:
//	  failOnYanked: true       # a yanked/retracted version fails P4 (else warns)
//	  failOnDeprecated: true   # a deprecated package fails P4 (else warns)
//	  maxMajorsBehind: 2       # a direct dependency this many majors behind fails (0: never)
//	  maxLibyears: 1           # more libyears than this in total warns (0: never)
type Dependencies struct {
	FailOnYanked     bool    `json:"failOnYanked"`
	FailOnDeprecated bool    `json:"failOnDeprecated"`
	MaxMajorsBehind  int     `json:"maxMajorsBehind"`
	MaxLibyears      float64 `json:"maxLibyears"`
}

// DefaultDependencies are the P4 thresholds without a policy.
var DefaultDependencies = Dependencies{FailOnYanked: true, FailOnDeprecated: true, MaxMajorsBehind: 2, MaxLibyears: 1}

// Deps returns the policy's P4 thresholds, or the defaults.
func (p *Policy) Deps() Dependencies {
	if p == nil || p.Dependencies == nil {
		return DefaultDependencies
	}
	return *p.Dependencies
}

func parseDependencies(n *yaml.Node) (*Dependencies, error) {
	d := DefaultDependencies
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: dependencies: want a mapping", n.Line)
	}
	var y struct {
		FailOnYanked     *bool    `yaml:"failOnYanked"`
		FailOnDeprecated *bool    `yaml:"failOnDeprecated"`
		MaxMajorsBehind  *int     `yaml:"maxMajorsBehind"`
		MaxLibyears      *float64 `yaml:"maxLibyears"`
	}
	if err := n.Decode(&y); err != nil {
		return nil, fmt.Errorf("line %d: dependencies: %w", n.Line, err)
	}
	if y.FailOnYanked != nil {
		d.FailOnYanked = *y.FailOnYanked
	}
	if y.FailOnDeprecated != nil {
		d.FailOnDeprecated = *y.FailOnDeprecated
	}
	if y.MaxMajorsBehind != nil {
		if *y.MaxMajorsBehind < 0 {
			return nil, fmt.Errorf("line %d: dependencies.maxMajorsBehind: %d is negative", n.Line, *y.MaxMajorsBehind)
		}
		d.MaxMajorsBehind = *y.MaxMajorsBehind
	}
	if y.MaxLibyears != nil {
		if *y.MaxLibyears < 0 {
			return nil, fmt.Errorf("line %d: dependencies.maxLibyears: %g is negative", n.Line, *y.MaxLibyears)
		}
		d.MaxLibyears = *y.MaxLibyears
	}
	return &d, nil
}
