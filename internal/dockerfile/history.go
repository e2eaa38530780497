package dockerfile

import (
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/shipshape-dev/shipshape/internal/shellcmd"
)

// Instruction is one instruction of the stages the final image is made of.
type Instruction struct {
	// Keyword is the instruction in capitals ("RUN").
	Keyword    string
	Start, End int
}

// FinalInstructions lists the instructions of the final chain in order
// (FROM excluded: it adds no history entry of its own).
func (f *File) FinalInstructions() []Instruction {
	var out []Instruction
	for _, i := range f.FinalChain() {
		for _, c := range f.Stages[i].Commands {
			s, e := lines(c.Location())
			out = append(out, Instruction{Keyword: strings.ToUpper(c.Name()), Start: s, End: e})
		}
	}
	return out
}

// LastUser returns the last USER instruction of the final chain.
func (f *File) LastUser() (Instruction, bool) {
	var last Instruction
	ok := false
	for _, i := range f.FinalChain() {
		for _, c := range f.Stages[i].Commands {
			if _, isUser := c.(*instructions.UserCommand); isUser {
				s, e := lines(c.Location())
				last, ok = Instruction{Keyword: "USER", Start: s, End: e}, true
			}
		}
	}
	return last, ok
}

// MapHistory matches an image's history lines (created_by, oldest first)
// to the Dockerfile's final instructions and returns, per history index,
// the instruction that produced it. Matching runs backwards from the
// newest entry, instruction keyword against the keyword the classic
// builder ("/bin/sh -c #(nop) USER app") or BuildKit ("USER app") records;
// entries older than the first instruction belong to the base image and
// stay unmapped.
func (f *File) MapHistory(createdBy []string) map[int]Instruction {
	ins := f.FinalInstructions()
	out := map[int]Instruction{}
	i, j := len(createdBy)-1, len(ins)-1
	for i >= 0 && j >= 0 {
		kw, _ := shellcmd.History(createdBy[i])
		switch {
		case kw == ins[j].Keyword:
			out[i] = ins[j]
			i--
			j--
		case j > 0 && kw == ins[j-1].Keyword:
			// The instruction left no history entry (an ARG without a
			// use, a builder that does not record it).
			j--
		default:
			// A history entry with no instruction (ONBUILD triggers).
			i--
		}
	}
	return out
}
