package inventory

import (
	"bytes"
	"debug/elf"
	"debug/gosym"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

// goProgram builds a small program (only the standard library) with its
// symbol table, as go build leaves it.
func goProgram(t *testing.T) []byte {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("reads an ELF binary")
	}
	dir := t.TempDir()
	src := "package main\n\nimport (\n\t\"fmt\"\n\t\"os\"\n\t\"strings\"\n)\n\ntype greeter struct{ name string }\n\nfunc (g *greeter) Greet() string { return \"hello \" + g.name }\n\nfunc main() {\n\tg := &greeter{strings.ToUpper(os.Args[0])}\n\tfmt.Println(g.Greet())\n}\n"
	os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/greet\n\ngo 1.22\n"), 0o644)
	cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", "greet", ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOTOOLCHAIN=local", "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "greet"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestReadGoSymbols reads the running test binary's own functions, with
// the ones inlined into others.
func TestReadGoSymbols(t *testing.T) {
	b := goProgram(t)
	hs, err := readGoSymbols(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	tab := &GoSymbolTable{hashes: hs}
	for _, c := range []struct{ pkg, sym string }{
		{"fmt", "Println"},
		{"main", "main"},
		{"main", "greeter.Greet"}, // a method: pointer receiver dropped (inlined into main)
		{"strings", ""},           // the package
	} {
		if !tab.Has(c.pkg, c.sym) {
			t.Errorf("%s.%s not found", c.pkg, c.sym)
		}
	}
	if tab.Has("main", "NoSuchFunction") || tab.Has("example.com/absent", "") || tab.Has("net/http", "") {
		t.Error("found a function the binary does not have")
	}
	if !slices.IsSorted(hs) {
		t.Error("hashes not sorted")
	}

	// Inlined functions count: the standard library's small helpers are
	// inlined into their callers and absent from the function table.
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	data, _ := f.Section(".gopclntab").Data()
	lt, err := gosym.NewTable(nil, gosym.NewLineTable(data, f.Section(".text").Addr))
	if err != nil {
		t.Fatal(err)
	}
	funcs := map[uint64]bool{}
	for i := range lt.Funcs {
		pkg, sym := GoSymbolName(lt.Funcs[i].Sym)
		funcs[symbolHash(pkg, sym)] = true
	}
	inlinedOnly := 0
	for _, h := range hs {
		if !funcs[h] {
			inlinedOnly++
		}
	}
	if inlinedOnly == 0 {
		t.Error("no function known only from inline trees: inline trees not read")
	}
	t.Logf("%d symbols and packages, %d only inlined; %d bytes of facts", len(hs), inlinedOnly, len(encodeHashes(hs)))
}

// TestReadGoSymbolsHostile: damaged binaries are errors, never panics.
func TestReadGoSymbolsHostile(t *testing.T) {
	b := goProgram(t)
	if _, err := readGoSymbols(bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the test program is not ELF: %v", err)
	}
	sec := f.Section(".gopclntab")
	for name, mutate := range map[string]func([]byte){
		"not elf":        func(c []byte) { copy(c, "MZ\x00\x00") },
		"bad magic":      func(c []byte) { copy(c[sec.Offset:], []byte{1, 2, 3, 4}) },
		"huge nfunc":     func(c []byte) { copy(c[sec.Offset+8:], bytes.Repeat([]byte{0xff}, 8)) },
		"scrambled func": func(c []byte) { copy(c[sec.Offset+64:sec.Offset+4096], bytes.Repeat([]byte{0xee}, 4032)) },
		"truncated":      nil,
	} {
		t.Run(name, func(t *testing.T) {
			c := slices.Clone(b)
			if mutate != nil {
				mutate(c)
			} else {
				c = c[:sec.Offset+sec.Size/2]
			}
			if _, err := readGoSymbols(bytes.NewReader(c)); err == nil && name != "scrambled func" {
				t.Errorf("no error")
			}
		})
	}
}
