package inventory

import (
	"fmt"
	"log/slog"

	scalibrlog "github.com/google/osv-scalibr/log"
)

// RouteScalibrLogs sends osv-scalibr's log messages (a process-wide logger
// in that library) to l at debug level, so that extractor chatter about
// hostile or odd files does not reach the user's terminal.
func RouteScalibrLogs(l *slog.Logger) { scalibrlog.SetLogger(slogAdapter{l}) }

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Errorf(format string, args ...any) { a.l.Debug(fmt.Sprintf(format, args...)) }
func (a slogAdapter) Warnf(format string, args ...any)  { a.l.Debug(fmt.Sprintf(format, args...)) }
func (a slogAdapter) Infof(format string, args ...any)  { a.l.Debug(fmt.Sprintf(format, args...)) }
func (a slogAdapter) Debugf(format string, args ...any) { a.l.Debug(fmt.Sprintf(format, args...)) }
func (a slogAdapter) Error(args ...any)                 { a.l.Debug(fmt.Sprint(args...)) }
func (a slogAdapter) Warn(args ...any)                  { a.l.Debug(fmt.Sprint(args...)) }
func (a slogAdapter) Info(args ...any)                  { a.l.Debug(fmt.Sprint(args...)) }
func (a slogAdapter) Debug(args ...any)                 { a.l.Debug(fmt.Sprint(args...)) }
