package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shipshape-dev/shipshape/internal/freshness"
	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/redact"
	"github.com/shipshape-dev/shipshape/internal/scan"
	"github.com/shipshape-dev/shipshape/internal/upstream"
)

// registryFlags are the flags `db update` takes for the language
// registries (P4's freshness data).
type registryFlags struct {
	forImage       func() []string
	ttl            time.Duration
	registriesOnly bool
	image          imageFlags
}

// withRegistries adds the language registries to `db update`: with --for
// IMAGE, after the rest of the update, the registry data of every
// language package the image holds (only those) is fetched into the store
// beside the vulnerability database; without it, stored data older than
// --registry-ttl is refreshed.
func (a *app) withRegistries(cmd *cobra.Command) {
	var f registryFlags
	fs := cmd.Flags()
	if fs.Lookup("for") == nil {
		var images []string
		fs.StringSliceVar(&images, "for", nil, "fetch what scans of this IMAGE need: the registry data of its language packages (repeatable)")
		f.forImage = func() []string { return images }
	} else {
		fl := fs.Lookup("for")
		fl.Usage += "; the registry data of its language packages"
		f.forImage = func() []string {
			if sv, ok := fl.Value.(interface{ GetSlice() []string }); ok {
				return sv.GetSlice()
			}
			if v := fl.Value.String(); v != "" {
				return []string{v}
			}
			return nil
		}
	}
	fs.DurationVar(&f.ttl, "registry-ttl", upstream.DefaultTTL, "registry data younger than this is not fetched again (0s: always fetch)")
	fs.BoolVar(&f.registriesOnly, "registries-only", false, "fetch only the language registries' data (of --for IMAGE, else refresh what is stored), nothing else")
	if fs.Lookup("platform") == nil {
		f.image.register(cmd)
	}
	inner := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		// --archives-only (the distribution archives' part) leaves the
		// registries out too; the two "only" flags exclude each other.
		archivesOnly := false
		if fl := cmd.Flags().Lookup("archives-only"); fl != nil {
			archivesOnly = fl.Value.String() == "true"
		}
		if archivesOnly && f.registriesOnly {
			return errors.New("--archives-only and --registries-only exclude each other")
		}
		var err error
		if !f.registriesOnly {
			err = inner(cmd, args)
		}
		if archivesOnly {
			return err
		}
		return errors.Join(err, a.updateRegistries(cmd, &f))
	}
}

// registryConfig reads the registries' configuration from the
// environment and the user's files.
func registryConfig() (*upstream.Config, error) {
	home, _ := os.UserHomeDir()
	return upstream.LoadConfig(os.Getenv, home)
}

func (a *app) updateRegistries(cmd *cobra.Command, f *registryFlags) error {
	refs := f.forImage()
	ctx := cmd.Context()
	dir, err := dbDirFlag(cmd)
	if err != nil {
		return err
	}
	cfg, err := registryConfig()
	if err != nil {
		return err
	}
	var wants []upstream.Want
	for _, ref := range refs {
		inv, err := a.inventoryOf(ctx, cmd, ref)
		if err != nil {
			return fmt.Errorf("--for %s: %w", ref, err)
		}
		w := freshness.Wants(inv)
		if len(w) == 0 {
			fmt.Fprintf(a.stderr, "%s: no language packages: no registry to ask\n", ref)
		}
		wants = append(wants, w...)
	}
	ttl := f.ttl
	if ttl == 0 {
		ttl = -1
	}
	u := &upstream.Updater{Store: upstream.NewStore(dir), Config: cfg, TTL: ttl, Logger: a.log,
		HTTP: &http.Client{Timeout: 60 * time.Second}}
	start := time.Now()
	var res []upstream.Result
	if len(refs) == 0 {
		// No image named: refresh what earlier --for runs stored.
		res, err = u.Refresh(ctx)
	} else {
		res, err = u.Update(ctx, wants)
	}
	printRegistryResults(a.stdout, res)
	a.log.Debug("language registries", "took", time.Since(start), "config", strings.Join(cfg.Files, ", "))
	return err
}

// printRegistryResults writes one line per ecosystem.
func printRegistryResults(w io.Writer, res []upstream.Result) {
	for _, r := range res {
		line := fmt.Sprintf("%-12s %4d packages: %d fetched, %d fresh", r.Ecosystem, r.Packages, r.Fetched, r.Fresh)
		if r.Skipped > 0 {
			line += fmt.Sprintf(", %d not asked (private)", r.Skipped)
		}
		if r.NotFound > 0 {
			line += fmt.Sprintf(", %d not found", r.NotFound)
		}
		if r.Failed > 0 {
			line += fmt.Sprintf(", %d failed (%s)", r.Failed, strings.Join(r.Errors, "; "))
		}
		if r.Source != "" {
			line += "  " + redact.URL(r.Source)
		}
		fmt.Fprintln(w, line)
	}
}

// inventoryOf lists the packages of an image (the inventory analyzer
// alone, offline from the registries).
func (a *app) inventoryOf(ctx context.Context, cmd *cobra.Command, ref string) (*inventory.Inventory, error) {
	imf := imageFlagsOf(cmd)
	opts := imf.scanOptions(a)
	opts.Analyzers = []string{scan.Inventory}
	s, err := a.scanner(opts)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	rep, err := s.Scan(ctx, ref, nil)
	if err != nil {
		return nil, err
	}
	inv, ok := rep.Sections[inventory.SectionName].(*inventory.Inventory)
	if !ok {
		return nil, errors.New("no package inventory in the scan")
	}
	return inv, nil
}

// freshnessFlags are the scan flags of P4's registry data.
type freshnessFlags struct {
	online bool
	ttl    time.Duration
}

func (f *freshnessFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.online, "online-freshness", false, "P4: ask the language registries for the image's packages that have no (or stale) data, and keep the answers (what `db update --for IMAGE` does)")
	cmd.Flags().DurationVar(&f.ttl, "registry-ttl", upstream.DefaultTTL, "with --online-freshness: registry data younger than this is not fetched again")
}

// apply sets the P4 scan options.
func (f *freshnessFlags) apply(o *scan.Options) error {
	if !f.online {
		return nil
	}
	if o.Offline {
		return errors.New("--online-freshness asks the registries: it cannot be combined with --offline")
	}
	cfg, err := registryConfig()
	if err != nil {
		return err
	}
	o.Freshness = scan.FreshnessOptions{Online: true, Registries: cfg, TTL: f.ttl}
	return nil
}

// withRegistryStatus adds the stored registry data to `db status`'s table.
func (a *app) withRegistryStatus(cmd *cobra.Command) {
	inner := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if err := inner(cmd, args); err != nil {
			return err
		}
		if f := cmd.Flags().Lookup("format"); f != nil && f.Value.String() != "table" {
			return nil
		}
		dir, err := dbDirFlag(cmd)
		if err != nil {
			return err
		}
		sts, err := upstream.NewStore(dir).Status()
		if err != nil {
			return err
		}
		for _, s := range sts {
			fmt.Fprintf(a.stdout, "registry %-10s %5d packages  fetched %s … %s\n", s.Ecosystem, s.Packages, s.Oldest.Format(time.DateOnly), s.Newest.Format(time.DateOnly))
		}
		return nil
	}
}
