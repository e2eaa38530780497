// Command langs prints the languages an Accept-Language header lists, as
// YAML. It is a test fixture: it calls golang.org/x/text/language's
// ParseAcceptLanguage (GO-2022-1059 in v0.3.7) and uses yaml.v2 v2.2.7
// only to encode (GO-2020-0036 is in its decoder, never called here).
package main

import (
	"os"

	"golang.org/x/text/language"
	"gopkg.in/yaml.v2"
)

func accepted(header string) []string {
	var out []string
	tags, _, _ := language.ParseAcceptLanguage(header)
	for _, t := range tags {
		out = append(out, t.String())
	}
	return out
}

func main() {
	b, _ := yaml.Marshal(accepted(os.Args[1]))
	os.Stdout.Write(b)
}
