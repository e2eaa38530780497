package seccomp

import (
	"encoding/json"
	"sort"
	"testing"
)

func TestProfile(t *testing.T) {
	b, err := New([]string{"accept4", "listen", "execve"}).JSON()
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		DefaultAction string   `json:"defaultAction"`
		Architectures []string `json:"architectures"`
		Syscalls      []struct {
			Names  []string `json:"names"`
			Action string   `json:"action"`
		} `json:"syscalls"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.DefaultAction != "SCMP_ACT_ERRNO" || len(p.Syscalls) != 1 || p.Syscalls[0].Action != "SCMP_ACT_ALLOW" || p.Architectures[0] != "SCMP_ARCH_X86_64" {
		t.Fatalf("profile: %s", b)
	}
	names := p.Syscalls[0].Names
	if !sort.StringsAreSorted(names) {
		t.Error("names not sorted")
	}
	seen := map[string]int{}
	for _, n := range names {
		seen[n]++
	}
	for _, n := range append([]string{"accept4", "listen"}, RuntimeMinimum...) {
		if seen[n] != 1 {
			t.Errorf("%s appears %d times", n, seen[n])
		}
	}
	if seen["ptrace"] != 0 || seen["mount"] != 0 {
		t.Error("profile allows calls nobody made")
	}
}
