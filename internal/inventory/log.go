package inventory

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	scalibrlog "github.com/google/osv-scalibr/log"
)

// RouteScalibrLogs sends osv-scalibr's log messages (a process-wide logger
// in that library) to l at debug level, so that extractor chatter about
// hostile or odd files does not reach the user's terminal. Each kind of
// message (its format) is shown a few times (repeatsShown): the Go binary
// extractor alone says "not a Go executable" once per ELF file, thousands
// of lines that would bury the rest of a debug log.
func RouteScalibrLogs(l *slog.Logger) { scalibrlog.SetLogger(newSlogAdapter(l)) }

// repeatsShown is how many messages of one kind are logged; the next one
// says that the others are not shown.
const repeatsShown = 3

// maxKinds bounds the kinds counted; messages of kinds beyond it are
// logged every time.
const maxKinds = 1024

type slogAdapter struct {
	l    *slog.Logger
	mu   sync.Mutex
	seen map[string]int
}

func newSlogAdapter(l *slog.Logger) *slogAdapter {
	return &slogAdapter{l: l, seen: map[string]int{}}
}

// log logs one message of kind (its format, or "" for unformatted ones
// with msg as their kind), formatting it only when debug is on.
func (a *slogAdapter) log(kind string, msg func() string) {
	if !a.l.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	text := msg()
	if kind == "" {
		kind = text
	}
	if strings.HasSuffix(text, depthErrorSuffix) {
		return // a nested archive, which javaArchive reads itself
	}
	a.mu.Lock()
	n, counted := a.seen[kind]
	if counted || len(a.seen) < maxKinds {
		n++
		a.seen[kind] = n
	}
	a.mu.Unlock()
	switch {
	case n <= repeatsShown:
		a.l.Debug(text)
	case n == repeatsShown+1:
		a.l.Debug("osv-scalibr: further messages like this are not shown", "like", text)
	}
}

func (a *slogAdapter) Errorf(format string, args ...any) {
	a.log(format, func() string { return fmt.Sprintf(format, args...) })
}
func (a *slogAdapter) Warnf(format string, args ...any) {
	a.log(format, func() string { return fmt.Sprintf(format, args...) })
}
func (a *slogAdapter) Infof(format string, args ...any) {
	a.log(format, func() string { return fmt.Sprintf(format, args...) })
}
func (a *slogAdapter) Debugf(format string, args ...any) {
	a.log(format, func() string { return fmt.Sprintf(format, args...) })
}
func (a *slogAdapter) Error(args ...any) { a.log("", func() string { return fmt.Sprint(args...) }) }
func (a *slogAdapter) Warn(args ...any)  { a.log("", func() string { return fmt.Sprint(args...) }) }
func (a *slogAdapter) Info(args ...any)  { a.log("", func() string { return fmt.Sprint(args...) }) }
func (a *slogAdapter) Debug(args ...any) { a.log("", func() string { return fmt.Sprint(args...) }) }
