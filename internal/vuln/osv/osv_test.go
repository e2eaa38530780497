package osv

import "testing"

func TestParseKeepsRatings(t *testing.T) {
	r, err := Parse([]byte(`{"id":"DEBIAN-CVE-2024-1","modified":"2024-01-01T00:00:00Z",
	 "database_specific":{"severity":"HIGH","cwe_ids":["CWE-79"]},
	 "affected":[{"package":{"ecosystem":"Debian:12","name":"openssl"},
	   "ecosystem_specific":{"urgency":"low"},"database_specific":{"source":"x"},
	   "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"1.0"}]}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if r.DatabaseSpecific.Severity != "HIGH" || r.Affected[0].EcosystemSpecific.Severity != "low" || r.Affected[0].DatabaseSpecific.Severity != "" {
		t.Errorf("ratings: %+v %+v", r.DatabaseSpecific, r.Affected[0])
	}
	if _, err := Parse([]byte(`{"summary":"no id"}`)); err == nil {
		t.Error("record without id accepted")
	}
}

func TestNormalize(t *testing.T) {
	if NormalizeEcosystem("Ubuntu:22.04:LTS") != "Ubuntu:22.04" || BaseEcosystem("Alpine:v3.20") != "Alpine" {
		t.Error("ecosystem normalisation")
	}
	if NormalizeName("PyPI", "Zope.Interface_x") != "zope-interface-x" || NormalizeName("npm", "Foo_Bar") != "Foo_Bar" {
		t.Error("name normalisation")
	}
}
