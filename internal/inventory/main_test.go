package inventory_test

import (
	"log/slog"
	"os"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/inventory"
)

func TestMain(m *testing.M) {
	// osv-scalibr logs about odd files through a process-wide logger.
	inventory.RouteScalibrLogs(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}
