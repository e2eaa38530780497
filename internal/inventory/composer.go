package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"

	scalibrext "github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/inventory"
	"github.com/google/osv-scalibr/plugin"
	"github.com/google/osv-scalibr/purl"
)

// composerInstalled reads vendor/composer/installed.json, the list of PHP
// packages Composer installed (osv-scalibr reads only composer.lock).
type composerInstalled struct{}

const composerInstalledName = "php/composerinstalled"

const maxComposerBytes = 32 << 20

func (composerInstalled) Name() string                       { return composerInstalledName }
func (composerInstalled) Version() int                       { return 0 }
func (composerInstalled) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

func (composerInstalled) FileRequired(api filesystem.FileAPI) bool {
	p := api.Path()
	return path.Base(p) == "installed.json" && path.Base(path.Dir(p)) == "composer"
}

type composerPackage struct {
	Name    string          `json:"name"`
	Version string          `json:"version"`
	License json.RawMessage `json:"license"`
}

func (composerInstalled) Extract(_ context.Context, in *filesystem.ScanInput) (inventory.Inventory, error) {
	b, err := io.ReadAll(io.LimitReader(in.Reader, maxComposerBytes+1))
	if err != nil {
		return inventory.Inventory{}, err
	}
	if len(b) > maxComposerBytes {
		return inventory.Inventory{}, fmt.Errorf("larger than %d bytes", maxComposerBytes)
	}
	// Composer 2 writes {"packages": [...]}, Composer 1 a bare array.
	var v2 struct {
		Packages []composerPackage `json:"packages"`
	}
	var pkgs []composerPackage
	if err := json.Unmarshal(b, &v2); err == nil {
		pkgs = v2.Packages
	} else if err := json.Unmarshal(b, &pkgs); err != nil {
		return inventory.Inventory{}, fmt.Errorf("not a Composer installed.json: %w", err)
	}
	var out inventory.Inventory
	for _, p := range pkgs {
		if p.Name == "" || p.Version == "" {
			continue
		}
		var lic []string
		if json.Unmarshal(p.License, &lic) != nil {
			var one string
			if json.Unmarshal(p.License, &one) == nil && one != "" {
				lic = []string{one}
			}
		}
		out.Packages = append(out.Packages, &scalibrext.Package{
			Name:     p.Name,
			Version:  strings.TrimPrefix(p.Version, "v"),
			PURLType: purl.TypeComposer,
			Licenses: lic,
			Location: scalibrext.LocationFromPath(in.Path),
		})
	}
	return out, nil
}
