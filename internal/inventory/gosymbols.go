package inventory

import (
	"bytes"
	"debug/elf"
	"debug/gosym"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net/url"
	"slices"
	"strings"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/shipshape-dev/shipshape/internal/analyze"
	"github.com/shipshape-dev/shipshape/internal/fstree"
)

// MaxGoFuncs bounds the functions read from one Go binary's symbol table
// (a large binary has a few hundred thousand); beyond it the table is
// not kept and reachability is unknown.
const MaxGoFuncs = 1 << 20

// MaxPclntabBytes bounds the pclntab section read from one binary.
const MaxPclntabBytes = 256 << 20

// goSymbols are the functions linked into one Go binary, as hashes of
// "package path\x00symbol" (symbol as OSV names it: "Parse",
// "Server.Serve"), and of "package path\x00" for each package: 8 bytes a
// function whatever the length of its name, so that the layer facts stay
// small.
type goSymbols struct {
	Path string `json:"path"`
	// Hashes are the sorted FNV-64a hashes, little-endian, base64.
	Hashes string `json:"hashes,omitempty"`
	// Err says why the table could not be read (stripped pclntab, not
	// ELF, too large).
	Err string `json:"error,omitempty"`
}

// symbolHash is the hash goSymbols keeps of a package path and symbol
// (symbol "" for the package itself).
func symbolHash(pkg, sym string) uint64 {
	h := fnv.New64a()
	io.WriteString(h, pkg)
	h.Write([]byte{0})
	io.WriteString(h, sym)
	return h.Sum64()
}

// GoSymbolName splits a Go function's symbol name into its package path
// and the symbol as OSV records and govulncheck name it: the receiver
// without pointer and type parameters, then the function
// ("net/http.(*Server).Serve" → "net/http", "Server.Serve").
func GoSymbolName(s *gosym.Sym) (pkg, sym string) {
	pkg = s.PackageName()
	if pkg == "" {
		return "", ""
	}
	sym = stripTypeParams(s.BaseName())
	if r := s.ReceiverName(); r != "" {
		r = strings.TrimSuffix(strings.TrimPrefix(r, "(*"), ")")
		sym = stripTypeParams(r) + "." + sym
	}
	return pkg, sym
}

// stripTypeParams drops "[…]" (generic instantiations) from a name.
func stripTypeParams(s string) string {
	if i := strings.IndexByte(s, '['); i >= 0 {
		if j := strings.LastIndexByte(s, ']'); j > i {
			return s[:i] + s[j+1:]
		}
	}
	return s
}

// readGoSymbols reads the functions of a Go ELF binary from its pclntab,
// with the functions inlined into them (their inline trees), as
// govulncheck -mode binary does. The inline trees live in the go:func.*
// data the symbol table locates: a binary stripped of its symbol table
// (-ldflags=-s) cannot be read precisely and is an error here (govulncheck
// then falls back to module precision).
func readGoSymbols(r io.ReaderAt) (hashes []uint64, err error) {
	defer func() {
		// debug/elf and the pclntab parse hostile input.
		if p := recover(); p != nil {
			hashes, err = nil, fmt.Errorf("symbol table: panic: %v", p)
		}
	}()
	f, err := elf.NewFile(r)
	if err != nil {
		return nil, fmt.Errorf("not an ELF binary: %w", err)
	}
	sec := f.Section(".gopclntab")
	if sec == nil {
		return nil, errors.New("no .gopclntab section")
	}
	if sec.Size > MaxPclntabBytes {
		return nil, fmt.Errorf(".gopclntab of %d bytes is larger than the limit", sec.Size)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf(".gopclntab: %w", err)
	}
	pt, err := parsePclntab(data, f.ByteOrder)
	if err != nil {
		return nil, err
	}
	goFunc, goFuncSec, err := goFuncData(f, pt.goFuncName)
	if err != nil {
		return nil, err
	}
	if pt.nfunc > MaxGoFuncs {
		return nil, fmt.Errorf("%d functions: more than the limit", pt.nfunc)
	}
	pt.startBudgets(goFuncSec)
	for i := 0; i < pt.nfunc; i++ {
		fn, err := pt.function(i)
		if err != nil {
			return nil, err
		}
		if err := pt.addName(fn.nameOff); err != nil {
			return nil, err
		}
		if err := pt.addInlined(fn, goFunc, goFuncSec); err != nil {
			return nil, err
		}
	}
	if len(pt.symbols) == 0 {
		return nil, errors.New("pclntab lists no functions")
	}
	out := make([]uint64, 0, len(pt.symbols))
	for h := range pt.symbols {
		out = append(out, h)
	}
	slices.Sort(out)
	return out, nil
}

// goFuncData finds the go:func.* symbol (the base of the functions'
// funcdata) and the section holding it.
func goFuncData(f *elf.File, name string) (uint64, *elf.Section, error) {
	syms, err := f.Symbols()
	if err != nil {
		return 0, nil, fmt.Errorf("no symbol table (stripped binary): %w", err)
	}
	for _, s := range syms {
		if s.Name != name {
			continue
		}
		for _, sec := range f.Sections {
			if sec.Addr <= s.Value && s.Value < sec.Addr+sec.Size && sec.Type != elf.SHT_NOBITS {
				return s.Value, sec, nil
			}
		}
	}
	return 0, nil, fmt.Errorf("no %s symbol", name)
}

// pclntab is the function table of a Go 1.18+ binary (runtime/symtab.go,
// cmd/link/internal/ld/pcln.go), and what reading it has found so far.
type pclntab struct {
	data       []byte
	order      binary.ByteOrder
	go120      bool
	quantum    uint32
	nfunc      int
	funcnames  []byte
	pctab      []byte
	functab    []byte
	goFuncName string

	// symbols are the hashes found (symbolHash), at most MaxGoSymbols.
	symbols map[uint64]bool

	// What reading the names and inline trees may still cost, and what
	// it has read. In a binary the linker wrote, each name, pcvalue table
	// and inline tree is its own (or shared whole), so reading every one
	// reads each byte of funcnames and pctab and each tree entry about
	// once; a crafted binary whose functions all point into one long run
	// would otherwise cost the number of functions times the run's length.
	namesLeft int64            // funcnames bytes still to be scanned
	namesRead map[uint32]bool  // the names added, by offset
	pcLeft    int64            // pctab bytes maxValue may still decode
	maxValues map[uint32]int32 // maxValue's results, by table offset
	inlLeft   int64            // inline tree entries still to be read
	treesRead map[uint64]int64 // the entries read of each tree, by offset
}

// MaxGoSymbols bounds the function and package hashes kept of one Go
// binary (a large one has a few hundred thousand); beyond it the table
// is not kept and reachability is unknown.
const MaxGoSymbols = 1 << 21

// maxNameLen bounds one function name (generic instantiations make the
// longest, a few KiB).
const maxNameLen = 1 << 16

// budgetSlack is what reading the tables may cost beyond their sizes
// (bytes, or tree entries).
const budgetSlack = 4096

// errTablesOverlap is the error for a binary whose names, pcvalue tables
// or inline trees cost more to read than their tables' sizes allow.
var errTablesOverlap = errors.New("pclntab names or inline trees overlap beyond their tables' sizes: not read")

func parsePclntab(data []byte, order binary.ByteOrder) (*pclntab, error) {
	if len(data) < 8 {
		return nil, errors.New("pclntab too short")
	}
	t := &pclntab{data: data, order: order}
	switch order.Uint32(data) {
	case 0xfffffff1: // Go 1.20+
		t.go120, t.goFuncName = true, "go:func.*"
	case 0xfffffff0: // Go 1.18, 1.19
		t.goFuncName = "go.func.*"
	default:
		return nil, errors.New("pclntab of a Go release before 1.18: symbols cannot be read")
	}
	t.quantum = uint32(data[6])
	ptr := int(data[7])
	if ptr != 4 && ptr != 8 {
		return nil, fmt.Errorf("pclntab pointer size %d", ptr)
	}
	word := func(i int) (uint64, error) {
		off := 8 + i*ptr
		if off+ptr > len(data) {
			return 0, errors.New("pclntab header truncated")
		}
		if ptr == 4 {
			return uint64(order.Uint32(data[off:])), nil
		}
		return order.Uint64(data[off:]), nil
	}
	// sub is the table at the offset in word i, up to the one in word
	// next (the linker writes them in the header's order) or, when next
	// is 0 or out of order, to the end.
	sub := func(i, next int) ([]byte, error) {
		off, err := word(i)
		if err != nil {
			return nil, err
		}
		if off > uint64(len(data)) {
			return nil, errors.New("pclntab offset out of range")
		}
		end := uint64(len(data))
		if next > 0 {
			if e, err := word(next); err == nil && off <= e && e <= end {
				end = e
			}
		}
		return data[off:end], nil
	}
	n, err := word(0)
	if err != nil {
		return nil, err
	}
	t.nfunc = int(n)
	var errs [4]error
	t.funcnames, errs[0] = sub(3, 4) // then cutab
	t.pctab, errs[1] = sub(6, 7)     // then functab
	t.functab, errs[2] = sub(7, 0)
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	if uint64(len(t.functab)) < uint64(t.nfunc+1)*8 {
		return nil, errors.New("pclntab function table truncated")
	}
	return t, nil
}

// startBudgets sets what reading the names and inline trees may cost:
// about the sizes of funcnames, pctab and the section holding the trees.
func (t *pclntab) startBudgets(sec *elf.Section) {
	t.symbols = map[uint64]bool{}
	t.namesLeft = int64(len(t.funcnames)) + budgetSlack
	t.namesRead = map[uint32]bool{}
	t.pcLeft = int64(len(t.pctab)) + budgetSlack
	t.maxValues = map[uint32]int32{}
	t.inlLeft = int64(sec.Size/uint64(t.inlEntrySize())) + budgetSlack
	t.treesRead = map[uint64]int64{}
}

// inlEntrySize is the size of one inline tree entry (runtime.inlinedCall).
func (t *pclntab) inlEntrySize() int64 {
	if t.go120 {
		return 16 // funcID, pad, nameOff, parentPc, startLine
	}
	return 20 // Go 1.18, 1.19: parent, funcID, pad, file, line, func, parentPc
}

// pfunc is one function's _func record.
type pfunc struct {
	nameOff  uint32
	data     []byte // the _func record and what follows it
	npcdata  uint32
	nfuncdat uint32
	fields   int
}

func (t *pclntab) u32(b []byte, i int) uint32 {
	if 4*i+4 > len(b) {
		panic("pclntab record truncated")
	}
	return t.order.Uint32(b[4*i:])
}

// addName adds the hashes of the function named at off in funcnames, and
// of its package, once per name.
func (t *pclntab) addName(off uint32) error {
	if t.namesRead[off] || uint64(off) >= uint64(len(t.funcnames)) {
		return nil
	}
	t.namesRead[off] = true
	b := t.funcnames[off:]
	b = b[:min(len(b), maxNameLen)]
	end, scanned := bytes.IndexByte(b, 0), len(b)
	if end >= 0 {
		scanned = end + 1
	}
	if t.namesLeft -= int64(scanned); t.namesLeft < 0 {
		return errTablesOverlap
	}
	if end < 0 {
		return nil
	}
	pkg, sym := GoSymbolName(&gosym.Sym{Name: string(b[:end])})
	if pkg == "" {
		return nil
	}
	if u, err := url.PathUnescape(pkg); err == nil {
		pkg = u
	}
	t.symbols[symbolHash(pkg, sym)] = true
	t.symbols[symbolHash(pkg, "")] = true
	if len(t.symbols) > MaxGoSymbols {
		return fmt.Errorf("more than %d functions and packages: more than the limit", MaxGoSymbols)
	}
	return nil
}

func (t *pclntab) function(i int) (*pfunc, error) {
	funcoff := t.u32(t.functab, 2*i+1)
	if uint64(funcoff) >= uint64(len(t.functab)) {
		return nil, errors.New("pclntab function offset out of range")
	}
	d := t.functab[funcoff:]
	fields := 9 // entryOff nameOff args deferreturn pcsp pcfile pcln npcdata cuOffset
	if t.go120 {
		fields = 10 // … startLine
	}
	if len(d) < 4*fields+4 {
		return nil, errors.New("pclntab function record truncated")
	}
	return &pfunc{
		nameOff:  t.u32(d, 1),
		data:     d,
		npcdata:  t.u32(d, 7),
		nfuncdat: uint32(d[4*fields+3]),
		fields:   fields,
	}, nil
}

// Indexes of the runtime's pcdata and funcdata tables.
const (
	pcdataInlTreeIndex = 2
	funcdataInlTree    = 3
)

// addInlined adds the names of the functions inlined into fn: the
// entries of its inline tree, as many as the highest index its
// PCDATA_InlTreeIndex table names and the section holds.
func (t *pclntab) addInlined(fn *pfunc, goFunc uint64, sec *elf.Section) error {
	if fn.npcdata <= pcdataInlTreeIndex || fn.nfuncdat <= funcdataInlTree {
		return nil
	}
	base := fn.fields + 1 // the _func fields, then the 4 bytes of funcID, flag, pad, nfuncdata
	pcOff := t.u32(fn.data, base+pcdataInlTreeIndex)
	treeOff := t.u32(fn.data, base+int(fn.npcdata)+funcdataInlTree)
	if pcOff == 0 || treeOff == ^uint32(0) {
		return nil
	}
	top, err := t.maxValue(pcOff)
	if err != nil {
		return err
	}
	size := t.inlEntrySize()
	off := goFunc - sec.Addr + uint64(treeOff)
	if off >= sec.Size {
		return nil
	}
	count := min(int64(top)+1, int64((sec.Size-off)/uint64(size)))
	if count <= t.treesRead[off] {
		return nil // read this far already
	}
	t.treesRead[off] = count
	if t.inlLeft -= count; t.inlLeft < 0 {
		return errTablesOverlap
	}
	const chunk = 256 // entries read at once
	buf := make([]byte, min(count, chunk)*size)
	for i := int64(0); i < count; i += chunk {
		b := buf[:min(count-i, chunk)*size]
		if _, err := sec.ReadAt(b, int64(off)+i*size); err != nil {
			return nil
		}
		for e := 0; e < len(b); e += int(size) {
			nameOff := t.order.Uint32(b[e+4:])
			if !t.go120 {
				nameOff = t.order.Uint32(b[e+12:])
			}
			if err := t.addName(nameOff); err != nil {
				return err
			}
		}
	}
	return nil
}

// maxValue is the highest value of a pcvalue table (values start at -1).
func (t *pclntab) maxValue(off uint32) (int32, error) {
	if uint64(off) >= uint64(len(t.pctab)) {
		return -1, nil
	}
	if v, ok := t.maxValues[off]; ok {
		return v, nil
	}
	p := t.pctab[off:]
	val, best := int32(-1), int32(-1)
	for first := true; ; first = false {
		uv, n := binary.Uvarint(p)
		if n <= 0 || (uv == 0 && !first) {
			break
		}
		p = p[n:]
		d := int32(uv >> 1)
		if uv&1 != 0 {
			d = ^d
		}
		val += d
		best = max(best, val)
		_, n = binary.Uvarint(p) // pc delta
		if n <= 0 {
			break
		}
		p = p[n:]
	}
	if t.pcLeft -= int64(len(t.pctab) - int(off) - len(p)); t.pcLeft < 0 {
		return -1, errTablesOverlap
	}
	t.maxValues[off] = best
	return best, nil
}

func encodeHashes(hs []uint64) string {
	b := make([]byte, 8*len(hs))
	for i, h := range hs {
		binary.LittleEndian.PutUint64(b[8*i:], h)
	}
	return base64.StdEncoding.EncodeToString(b)
}

// GoSymbolTable is the set of functions linked into one Go binary of the
// final image.
type GoSymbolTable struct {
	// Err, when set, says why the functions are unknown.
	Err    string
	hashes []uint64
}

// Has reports whether the binary links symbol sym of package pkg (sym
// "": any function of pkg).
func (t *GoSymbolTable) Has(pkg, sym string) bool {
	if t == nil || t.Err != "" {
		return false
	}
	_, ok := slices.BinarySearch(t.hashes, symbolHash(pkg, sym))
	return ok
}

// GoSymbolTables returns, by path (as packages' Locations show it), the
// function tables of the Go binaries in the final image that the layer
// pass read.
func GoSymbolTables(in *analyze.Input) (map[string]*GoSymbolTable, error) {
	out := map[string]*GoSymbolTable{}
	for i, raw := range in.Facts {
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		var f struct {
			GoSymbols []goSymbols `json:"goSymbols"`
		}
		if err := jsonv2.Unmarshal(raw, &f); err != nil { // as in Build
			return nil, fmt.Errorf("inventory: layer %d facts: %w", i+1, err)
		}
		// Upper layers replace lower ones' files.
		for _, g := range f.GoSymbols {
			t := &GoSymbolTable{Err: g.Err}
			if g.Err == "" {
				b, err := base64.StdEncoding.DecodeString(g.Hashes)
				if err != nil || len(b)%8 != 0 {
					t.Err = "unreadable symbol facts"
				} else {
					t.hashes = make([]uint64, len(b)/8)
					for j := range t.hashes {
						t.hashes[j] = binary.LittleEndian.Uint64(b[8*j:])
					}
				}
			}
			out[fstree.Display(g.Path)] = t
		}
	}
	return out, nil
}
