package inventory

import (
	"bytes"
	"debug/elf"
	"debug/gosym"
	"encoding/binary"
	"errors"
	"io"
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

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r io.ReaderAt
	n int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

// TestReadGoSymbolsBounded: crafted tables that send every function into
// one long run — an inline tree that never ends, a pcvalue table as long
// as pctab, names without their NUL — cost about the tables' sizes and
// are an error, instead of the number of functions times the run.
func TestReadGoSymbolsBounded(t *testing.T) {
	b := goProgram(t)
	f, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the test program is not ELF: %v", err)
	}
	sec := f.Section(".gopclntab")
	data, err := sec.Data()
	if err != nil {
		t.Fatal(err)
	}
	pt, err := parsePclntab(data, f.ByteOrder)
	if err != nil {
		t.Fatal(err)
	}
	// at is where a table of pclntab starts in the file.
	at := func(table []byte) int { return int(sec.Offset) + cap(data) - cap(table) }
	clean := &countingReaderAt{r: bytes.NewReader(b)}
	if _, err := readGoSymbols(clean); err != nil {
		t.Fatal(err)
	}
	_, treeSec, err := goFuncData(f, pt.goFuncName)
	if err != nil {
		t.Fatal(err)
	}

	for name, mutate := range map[string]func(c []byte) int{
		// Every function's inline tree index table says 2³⁰ entries.
		"endless inline trees": func(c []byte) int {
			bomb := append(binary.AppendUvarint(nil, 1<<31), 1, 0)
			n := 0
			for i := range pt.nfunc {
				fn, err := pt.function(i)
				if err != nil {
					t.Fatal(err)
				}
				if fn.npcdata <= pcdataInlTreeIndex || fn.nfuncdat <= funcdataInlTree {
					continue
				}
				if off := pt.u32(fn.data, fn.fields+1+pcdataInlTreeIndex); off != 0 {
					copy(c[at(pt.pctab)+int(off):], bomb)
					n++
				}
			}
			return n
		},
		// pctab is one pcvalue table, counting up, that every function's
		// table runs into.
		"one pcvalue run": func(c []byte) int {
			run := c[at(pt.pctab)+1 : at(pt.pctab)+len(pt.pctab)]
			for i := range run {
				run[i] = byte(2 - i%2) // value +1, pc +1
			}
			return len(run)
		},
		// No name ends.
		"names without NUL": func(c []byte) int {
			names := c[at(pt.funcnames) : at(pt.funcnames)+len(pt.funcnames)]
			for i := range names {
				if names[i] == 0 {
					names[i] = 'a'
				}
			}
			return len(names)
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := slices.Clone(b)
			if mutate(c) == 0 {
				t.Fatal("nothing changed")
			}
			r := &countingReaderAt{r: bytes.NewReader(c)}
			_, err := readGoSymbols(r)
			if !errors.Is(err, errTablesOverlap) {
				t.Errorf("error %v, want %v", err, errTablesOverlap)
			}
			if limit := clean.n + int64(treeSec.Size) + budgetSlack*pt.inlEntrySize(); r.n > limit {
				t.Errorf("read %d bytes, more than the clean binary's %d and the trees' section", r.n, clean.n)
			}
		})
	}
}
