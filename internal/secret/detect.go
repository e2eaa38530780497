package secret

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/shipshape-dev/shipshape/internal/redact"
)

// Match is one secret found in some content.
type Match struct {
	Rule *Rule
	// Offset is the byte offset of the value in the content.
	Offset int64
	// Line is the 1-based line of the value (0 when not counted).
	Line int
	// Value is the secret itself. It never leaves the process unless the
	// user asks for it (--show-secrets).
	Value string
	// Encrypted is set for private keys protected by a passphrase.
	Encrypted bool
	// Key names the field that holds the value (format rules).
	Key string
	// Confidence is the rule's confidence ("" for the rule's default).
	Confidence Confidence
	// Default is set for a weak default value ("changeme").
	Default bool
}

// Hash identifies the secret value without revealing it.
func (m *Match) Hash() string {
	h := sha256.Sum256([]byte(m.Value))
	return hex.EncodeToString(h[:8])
}

// Redact shows the first and last few characters of a secret (see
// redact.Value).
func Redact(v string) string { return redact.Value(v) }

// Detector finds secrets with a set of rules. It is safe for concurrent
// use.
type Detector struct {
	rules []*Rule
	// common indexes the keywords of the rules that apply to any file, for
	// the (most) files that no path-specific rule applies to: their
	// frequent keywords ("key", "pass") are then not even looked at.
	common *index
	// byApplies caches the index of each set of rules that applies to
	// some file (a string of one byte per rule): a file pays only for the
	// keywords of its own rules. There are few such sets.
	byApplies sync.Map
	// commonApplies marks the rules that apply to any file: the applies
	// list of the files no path-specific rule applies to, shared.
	commonApplies []bool
}

// index finds keywords. Each keyword is anchored on its rarest-looking
// byte pair (one with punctuation, or upper case when case-sensitive);
// raw maps every byte pair v = b0<<8|b1 as it appears in the text to 1+ the
// index in lists of the keywords anchored on it (0: none), so that the
// scan loop needs one lookup per byte and rarely more.
type index struct {
	raw   []uint16
	lists [][]keyword
	// zeroFree: no indexed pair starts with a NUL byte, so the prefilter
	// can step over runs of zeros (padding in binaries, sparse files)
	// eight bytes at a time.
	zeroFree bool
}

type keyword struct {
	lit    []byte // lower case, or as written when exact
	exact  bool   // case-sensitive
	anchor int    // offset of the anchor pair in lit
	rules  []int
}

// anchorOf picks the byte pair of k to index: the first one holding a
// byte that is not a lower-case letter (rarer in text), else the first
// pair.
func anchorOf(k string) int {
	for j := 0; j+1 < len(k); j++ {
		for _, c := range []byte{k[j], k[j+1]} {
			if c < 'a' || c > 'z' {
				return j
			}
		}
	}
	return 0
}

func newIndex(rules []*Rule, include func(int, *Rule) bool) *index {
	x := &index{raw: make([]uint16, 1<<16)}
	add := func(v uint16, k keyword) {
		if x.raw[v] == 0 {
			x.lists = append(x.lists, nil)
			x.raw[v] = uint16(len(x.lists))
		}
		li := x.raw[v] - 1
		for i := range x.lists[li] {
			o := &x.lists[li][i]
			if string(o.lit) == string(k.lit) && o.exact == k.exact && o.anchor == k.anchor {
				o.rules = append(o.rules, k.rules...)
				return
			}
		}
		x.lists[li] = append(x.lists[li], k)
	}
	for ri, r := range rules {
		if !include(ri, r) {
			continue
		}
		for _, kw := range r.Keywords {
			if len(kw) < 2 {
				panic("secret: keyword shorter than two bytes: " + kw)
			}
			lit := kw
			if !r.CaseSensitive {
				lit = strings.ToLower(kw)
			}
			j := anchorOf(lit)
			if r.CaseSensitive {
				add(uint16(lit[j])<<8|uint16(lit[j+1]), keyword{lit: []byte(lit), exact: true, anchor: j, rules: []int{ri}})
				continue
			}
			for _, c0 := range caseVariants(lit[j]) {
				for _, c1 := range caseVariants(lit[j+1]) {
					add(uint16(c0)<<8|uint16(c1), keyword{lit: []byte(lit), anchor: j, rules: []int{ri}})
				}
			}
		}
	}
	x.zeroFree = !slices.ContainsFunc(x.raw[:1<<8], func(v uint16) bool { return v != 0 })
	return x
}

// zeroBlock is the size of the blocks the prefilter tests for zeros.
const zeroBlock = 64

// zeroPage is what the prefilter compares a run of zeros with, past its
// first block; it is never written.
var zeroPage [1024]byte

// allZero reports whether b (zeroBlock bytes) holds only NUL bytes.
func allZero(b []byte) bool {
	for i := 0; i+8 <= len(b); i += 8 {
		if binary.LittleEndian.Uint64(b[i:]) != 0 {
			return false
		}
	}
	return true
}

func caseVariants(c byte) []byte {
	if c >= 'a' && c <= 'z' {
		return []byte{c, c - 'a' + 'A'}
	}
	return []byte{c}
}

// lower maps ASCII upper case to lower case.
var lower [256]byte

func init() {
	for i := range lower {
		lower[i] = byte(i)
		if i >= 'A' && i <= 'Z' {
			lower[i] = byte(i) + 'a' - 'A'
		}
	}
}

// NewDetector builds a detector for rules.
func NewDetector(rules []*Rule) *Detector {
	d := &Detector{
		rules:         rules,
		common:        newIndex(rules, func(_ int, r *Rule) bool { return r.Paths == nil }),
		commonApplies: make([]bool, len(rules)),
	}
	for i, r := range rules {
		d.commonApplies[i] = r.Paths == nil
	}
	return d
}

// Rules returns the detector's rules.
func (d *Detector) Rules() []*Rule { return d.rules }

// MaxMatches bounds the secrets reported for one file or value.
const MaxMatches = 100

const (
	chunkSize = 1 << 20
	// overlap is carried from one chunk to the next so that a secret
	// spanning the boundary is still seen whole.
	overlap = 16 << 10
)

// hit is a keyword occurrence that activates a rule.
type hit struct {
	rule int
	pos  int
}

// Scan finds the secrets in content read from r, for a file at path p
// ("" for config values: path-specific rules do not run). It reads r
// linearly in chunks: memory stays bounded whatever the size.
func (d *Detector) Scan(r io.Reader, p string) ([]Match, error) {
	s := d.newScan(p)
	buf := make([]byte, chunkSize+overlap)
	var (
		base  int64 // offset of buf[0] in the content
		n     int   // bytes in buf
		lines int   // newlines before buf[0]
	)
	for {
		m, err := io.ReadFull(r, buf[n:])
		n += m
		final := err != nil
		if n > 0 {
			s.chunk(buf[:n], base, lines, final)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return s.matches, err
		}
		// Keep the tail.
		keep := min(overlap, n)
		lines += bytes.Count(buf[:n-keep], []byte{'\n'})
		copy(buf, buf[n-keep:n])
		base += int64(n - keep)
		n = keep
	}
	return s.matches, nil
}

// ScanBytes finds the secrets in b.
func (d *Detector) ScanBytes(b []byte, p string) []Match {
	s := d.newScan(p)
	s.chunk(b, 0, 0, true)
	return s.matches
}

// Values returns the secret values found in text, in the order found:
// what a line of a log or an error message is redacted with.
func (d *Detector) Values(text []byte) []string {
	var vs []string
	for _, m := range d.ScanBytes(text, "") {
		vs = append(vs, m.Value)
	}
	return vs
}

// ValueFinder returns a function that finds the secret values the
// built-in rules match in a piece of text, for what leaves the process
// outside a report (stderr, a server's error messages). The rules are
// compiled on its first call, and it is safe for concurrent use.
func ValueFinder() func(text []byte) []string {
	d := sync.OnceValue(func() *Detector { return NewDetector(Rules()) })
	return func(text []byte) []string { return d().Values(text) }
}

type scan struct {
	d       *Detector
	idx     *index
	applies []bool
	path    string
	matches []Match
	seen    map[[2]int64]bool // rule, offset
	// spans of accepted matches (absolute), to drop overlapping ones
	spans [][2]int64
	hits  []hit
	// always lists the format rules without keywords that apply to the
	// file: they parse every chunk.
	always []int
}

func (d *Detector) newScan(p string) *scan {
	// Most files get the shared rule list and no allocation beyond the
	// scan itself; only a file a path-specific rule applies to gets its own.
	s := &scan{d: d, idx: d.common, path: p, applies: d.commonApplies}
	if p == "" {
		return s
	}
	for i, r := range d.rules {
		if r.Paths == nil || !r.Paths(p) {
			continue
		}
		if s.idx == d.common {
			s.applies = slices.Clone(d.commonApplies)
			s.idx = nil
		}
		s.applies[i] = true
		if r.Parse != nil && len(r.Keywords) == 0 {
			s.always = append(s.always, i)
		}
	}
	if s.idx == nil {
		key := make([]byte, len(s.applies))
		for i, a := range s.applies {
			if a {
				key[i] = 1
			}
		}
		if x, ok := d.byApplies.Load(string(key)); ok {
			s.idx = x.(*index)
		} else {
			applies := s.applies
			x, _ := d.byApplies.LoadOrStore(string(key), newIndex(d.rules, func(i int, _ *Rule) bool { return applies[i] }))
			s.idx = x.(*index)
		}
	}
	return s
}

// chunk scans one buffer. Matches are reported with absolute offsets;
// lines is the number of newlines before b.
func (s *scan) chunk(b []byte, base int64, lines int, final bool) {
	d := s.d
	s.hits = s.hits[:0]
	if len(s.matches) >= MaxMatches {
		// A file full of secrets (or made to look so) costs no more.
		return
	}
	// Prefilter: one linear pass looking up each byte pair.
	raw, lists := s.idx.raw[:1<<16], s.idx.lists
	if len(b) < 2 {
		return
	}
	n := len(b) - 1
	zeroFree := s.idx.zeroFree
	for i := 0; i < n; {
		// Blocks of 64 bytes: one that is all zeros is stepped over whole
		// (every pair starting in it starts with NUL); the test costs one
		// load per block on other data, nothing per byte.
		end := min(i+zeroBlock, n)
		if zeroFree && end-i == zeroBlock && allZero(b[i:end]) {
			i = end
			// A long run (a sparse or zero-filled file) is stepped over
			// a page at a time by the runtime's vectorised compare.
			for i+len(zeroPage) <= n && bytes.Equal(b[i:i+len(zeroPage)], zeroPage[:]) {
				i += len(zeroPage)
			}
			continue
		}
		for ; i < end; i++ {
			li := raw[uint16(b[i])<<8|uint16(b[i+1])]
			if li == 0 {
				continue
			}
			for _, k := range lists[li-1] {
				at := i - k.anchor
				if at < 0 {
					continue
				}
				if k.exact {
					if !bytes.HasPrefix(b[at:], k.lit) {
						continue
					}
				} else if !hasLowerPrefix(b[at:], k.lit) {
					continue
				}
				for _, ri := range k.rules {
					if s.applies[ri] && (d.rules[ri].Near == nil || d.rules[ri].Near(b, at)) {
						s.hits = append(s.hits, hit{rule: ri, pos: at})
					}
				}
			}
		}
	}
	for _, ri := range s.always {
		s.hits = append(s.hits, hit{rule: ri})
	}
	if len(s.hits) == 0 {
		return
	}
	// Run each hit rule on the windows around its keywords, merging
	// windows that overlap.
	first := len(s.matches)
	defer s.countLines(first, b, base, lines)
	for ri, r := range d.rules {
		before, after := r.Before, r.After
		if before == 0 {
			before = defaultBefore
		}
		if after == 0 {
			after = defaultAfter
		}
		if r.Parse != nil {
			s.parse(ri, r, b, base, final)
			continue
		}
		if r.Find != nil {
			// A hand-written matcher: no expression, no windows.
			for _, h := range s.hits {
				if h.rule != ri || len(s.matches) >= MaxMatches {
					continue
				}
				if start, end, vs, ve, ok := r.Find(b, h.pos); ok {
					s.take(r, b, start, end, vs, ve, base, final)
				}
			}
			continue
		}
		lo, hi := -1, -1
		for _, h := range s.hits {
			if h.rule != ri {
				continue
			}
			wlo, whi := max(0, h.pos-before), min(len(b), h.pos+after)
			if lo >= 0 && wlo <= hi {
				hi = max(hi, whi)
				continue
			}
			if lo >= 0 {
				s.match(r, b, lo, hi, base, lines, final)
			}
			lo, hi = wlo, whi
		}
		if lo >= 0 {
			s.match(r, b, lo, hi, base, lines, final)
		}
	}
}

// countLines sets the line of the matches found in chunk b, counting
// newlines once in offset order.
func (s *scan) countLines(first int, b []byte, base int64, lines int) {
	ms := s.matches[first:]
	sort.Slice(ms, func(i, j int) bool { return ms[i].Offset < ms[j].Offset })
	pos, n := 0, lines
	for i := range ms {
		at := int(ms[i].Offset - base)
		n += bytes.Count(b[pos:at], []byte{'\n'})
		pos = at
		ms[i].Line = n + 1
	}
}

func hasLowerPrefix(b, lit []byte) bool {
	if len(b) < len(lit) {
		return false
	}
	for j, c := range lit {
		if lower[b[j]] != c {
			return false
		}
	}
	return true
}

func (s *scan) match(r *Rule, b []byte, lo, hi int, base int64, lines int, final bool) {
	w := b[lo:hi]
	for _, loc := range r.Re.FindAllSubmatchIndex(w, MaxMatches) {
		if len(s.matches) >= MaxMatches {
			return
		}
		g := r.Group
		if loc[2*g] < 0 {
			continue
		}
		s.take(r, b, lo+loc[0], lo+loc[1], lo+loc[2*g], lo+loc[2*g+1], base, final)
	}
}

// take records the candidate b[start:end] whose value is b[vs:ve], once
// validated.
func (s *scan) take(r *Rule, b []byte, start, end, vs, ve int, base int64, final bool) {
	if !final && end > len(b)-overlap/2 {
		// Possibly cut short by the chunk's end: the next chunk, which
		// starts with this one's tail, sees it whole.
		return
	}
	abs := base + int64(vs)
	key := [2]int64{int64(indexOf(s.d.rules, r)), abs}
	if s.seen[key] {
		return
	}
	if s.seen == nil {
		s.seen = map[[2]int64]bool{}
	}
	s.seen[key] = true
	m := Match{Rule: r, Offset: abs, Value: string(b[vs:ve])}
	if !s.accept(r, &m, b, vs) || r.ID == "SS-P1-url-credentials" && isExampleHost(b[start:end]) {
		return
	}
	span := [2]int64{base + int64(start), base + int64(end)}
	if s.overlaps(span) {
		return
	}
	s.spans = append(s.spans, span)
	s.matches = append(s.matches, m)
}

// maxParse bounds the chunk a whole-file format parser reads.
const maxParse = 2 << 20

// parse runs a format rule's parser on chunk b: once over the chunk when
// one of its keywords occurred, or on each line holding one (Local).
func (s *scan) parse(ri int, r *Rule, b []byte, base int64, final bool) {
	if !r.Local {
		if len(b) > maxParse || !slices.ContainsFunc(s.hits, func(h hit) bool { return h.rule == ri }) {
			return
		}
		for _, f := range r.Parse(b) {
			if len(s.matches) >= MaxMatches {
				return
			}
			s.takeField(r, b, f, base, final)
		}
		return
	}
	done := -1 // end of the last line parsed
	for _, h := range s.hits {
		if h.rule != ri || h.pos < done {
			continue
		}
		ls := bytes.LastIndexByte(b[:h.pos], '\n') + 1
		le := bytes.IndexByte(b[h.pos:], '\n')
		if le < 0 {
			le = len(b)
		} else {
			le += h.pos
		}
		done = le
		for _, f := range r.Parse(b[ls:le]) {
			if len(s.matches) >= MaxMatches {
				return
			}
			f.Start, f.End = f.Start+ls, f.End+ls
			s.takeField(r, b, f, base, final)
		}
	}
}

// takeField records a field a format parser found.
func (s *scan) takeField(r *Rule, b []byte, f Field, base int64, final bool) {
	if f.Start < 0 || f.End > len(b) || f.Start >= f.End || !final && f.End > len(b)-overlap/2 {
		return
	}
	abs := base + int64(f.Start)
	key := [2]int64{int64(indexOf(s.d.rules, r)), abs}
	if s.seen[key] {
		return
	}
	if s.seen == nil {
		s.seen = map[[2]int64]bool{}
	}
	s.seen[key] = true
	v := f.Value
	if v == "" {
		v = string(b[f.Start:f.End])
	}
	span := [2]int64{abs, base + int64(f.End)}
	if s.overlaps(span) {
		return
	}
	s.spans = append(s.spans, span)
	s.matches = append(s.matches, Match{Rule: r, Offset: abs, Value: v, Key: f.Key, Confidence: f.Confidence, Default: f.Default})
}

// isIdentifier reports whether v is made of letters and separators only.
func isIdentifier(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func indexOf(rules []*Rule, r *Rule) int {
	for i, x := range rules {
		if x == r {
			return i
		}
	}
	return -1
}

func (s *scan) overlaps(sp [2]int64) bool {
	for _, o := range s.spans {
		if sp[0] < o[1] && o[0] < sp[1] {
			return true
		}
	}
	return false
}

// accept validates a candidate: private keys are read whole and checked
// for encryption, other values are checked for placeholders and entropy.
func (s *scan) accept(r *Rule, m *Match, b []byte, at int) bool {
	if r.ID == "SS-P1-private-key" {
		return acceptKey(m, b, at)
	}
	if r.ID == "SS-P1-generic-assignment" && weakDefault(m.Value) && !notAValue(m.Value) {
		// A default password in an image is still one: say so, at low
		// confidence.
		m.Confidence, m.Default = Low, true
		return true
	}
	if isPlaceholder(m.Value) {
		return false
	}
	if r.MinEntropy > 0 && entropy(m.Value) < r.MinEntropy {
		return false
	}
	if r.ID == "SS-P1-generic-assignment" || r.ID == "SS-P1-url-credentials" {
		// Code, not configuration: a function call or a reference.
		if strings.ContainsAny(m.Value, "()[]{}$%\\") {
			return false
		}
	}
	if r.ID == "SS-P1-generic-assignment" && isIdentifier(m.Value) {
		// A name ("NextToken", "session_key"), not a secret: generated
		// secrets mix in digits or symbols.
		return false
	}
	return true
}

// acceptKey reads the PEM block starting at b[at:], keeps it as the
// value and decides whether it is encrypted. A header without a body
// (documentation, a parser's string constant) is not a key.
func acceptKey(m *Match, b []byte, at int) bool {
	rest := b[at:]
	endRel := bytes.Index(rest[:min(len(rest), 64<<10)], []byte("-----END"))
	if endRel < 0 {
		return false
	}
	block := rest[:endRel]
	if e := bytes.Index(rest[endRel+8:min(len(rest), endRel+8+64)], []byte("-----")); e >= 0 {
		block = rest[:endRel+8+e+5]
	}
	// The header is "-----BEGIN … PRIVATE KEY-----", as the rule matched it.
	const begin = len("-----BEGIN")
	hdrEnd := -1
	if len(block) > begin {
		if i := bytes.Index(block[begin:], []byte("-----")); i >= 0 {
			hdrEnd = begin + i + 5
		}
	}
	if hdrEnd < 0 || hdrEnd > endRel {
		return false
	}
	header := string(block[:hdrEnd])
	body := block[hdrEnd:endRel]
	body = bytes.ReplaceAll(body, []byte(`\n`), []byte("\n"))
	// A real key has a substantial base64 body.
	b64 := 0
	for _, c := range body {
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' {
			b64++
		}
	}
	if b64 < 64 {
		return false
	}
	m.Value = string(block)
	switch {
	case strings.Contains(header, "ENCRYPTED"), bytes.Contains(body, []byte("Proc-Type: 4,ENCRYPTED")):
		m.Encrypted = true
	case strings.Contains(header, "OPENSSH"):
		m.Encrypted = opensshEncrypted(body)
	case strings.Contains(header, "PGP"):
		m.Encrypted = false
	}
	return true
}

// opensshEncrypted decodes the start of an openssh-key-v1 body and reports
// whether its cipher is not "none".
func opensshEncrypted(body []byte) bool {
	var clean []byte
	for _, c := range body {
		if c != '\n' && c != '\r' && c != ' ' {
			clean = append(clean, c)
		}
		if len(clean) >= 64 {
			break
		}
	}
	raw, err := base64.StdEncoding.DecodeString(string(clean[:len(clean)/4*4]))
	if err != nil {
		return false
	}
	const magic = "openssh-key-v1\x00"
	if len(raw) < len(magic)+8 || string(raw[:len(magic)]) != magic {
		return false
	}
	raw = raw[len(magic):]
	n := int(raw[0])<<24 | int(raw[1])<<16 | int(raw[2])<<8 | int(raw[3])
	if n <= 0 || 4+n > len(raw) {
		return false
	}
	return string(raw[4:4+n]) != "none"
}

func log2(x float64) float64 { return math.Log2(x) }

// isExampleHost reports whether a URL names a documentation host
// (example.com, example.org, …), whose credentials are samples.
func isExampleHost(url []byte) bool {
	at := bytes.LastIndexByte(url, '@')
	return at >= 0 && bytes.Contains(bytes.ToLower(url[at:]), []byte("example"))
}
