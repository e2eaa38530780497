package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shipshape-dev/shipshape/internal/report"
	"github.com/shipshape-dev/shipshape/internal/scan"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/vuln"
	"github.com/shipshape-dev/shipshape/internal/vuln/db"
)

// dbFlags locate the vulnerability database.
type dbFlags struct {
	dir        string
	repository string
}

func (f *dbFlags) register(cmd *cobra.Command, repository bool) {
	cmd.Flags().StringVar(&f.dir, "db-dir", "", "vulnerability database directory (default: the user cache directory)/shipshape/vulndb")
	if repository {
		cmd.Flags().StringVar(&f.repository, "db-repository", db.DefaultRepository, "where OSV exports are downloaded from: a base URL (http, https, file://) or a directory holding ECOSYSTEM/all.zip (a company mirror)")
	}
}

// dbDirFlag is cmd's --db-dir, or the default database directory when it
// is not given.
func dbDirFlag(cmd *cobra.Command) (string, error) {
	if fl := cmd.Flags().Lookup("db-dir"); fl != nil && fl.Value.String() != "" {
		return fl.Value.String(), nil
	}
	return scan.DefaultDBDir()
}

func (f *dbFlags) path() (string, error) {
	if f.dir != "" {
		return f.dir, nil
	}
	return scan.DefaultDBDir()
}

func (a *app) dbCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "db",
		Short: "Manage the local vulnerability database (OSV exports)",
		Long: `Manage the local vulnerability database: OSV's per-ecosystem exports
(ECOSYSTEM/all.zip), stored in one file per ecosystem and indexed by package.
Updates are conditional (ETag/Last-Modified) and atomic: a failed download
leaves the old data in place, and scans running meanwhile keep reading it.`,
	}
	cmd.AddCommand(a.dbUpdateCommand(), a.dbImportCommand(), a.dbStatusCommand())
	return cmd
}

func (a *app) dbUpdateCommand() *cobra.Command {
	var f dbFlags
	var ecosystems []string
	var kevURL, epssURL string
	cmd := &cobra.Command{
		Use:   "update",
		Short: "Download OSV exports (only what changed)",
		Example: `  shipshape db update
  shipshape db update --ecosystems Go,Alpine
  shipshape db update --db-repository https://mirror.example.com/osv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := f.path()
			if err != nil {
				return err
			}
			u := &db.Updater{Dir: dir, Repository: f.repository, KEVURL: kevURL, EPSSURL: epssURL}
			if !a.quiet && a.stderrTTY != nil {
				last := time.Time{}
				// Each update ends with "\r", not starts with it: stderr is
				// redacted a line at a time, and a line is written when it
				// ends.
				u.Progress = func(eco string, n, total int64) {
					if time.Since(last) < 200*time.Millisecond && n != total {
						return
					}
					last = time.Now()
					if total > 0 {
						fmt.Fprintf(a.stderr, "%-12s %6.1f / %.1f MiB\r", eco, float64(n)/(1<<20), float64(total)/(1<<20))
					} else {
						fmt.Fprintf(a.stderr, "%-12s %6.1f MiB\r", eco, float64(n)/(1<<20))
					}
				}
			}
			res, err := u.Update(cmd.Context(), ecosystems)
			if u.Progress != nil {
				fmt.Fprint(a.stderr, "\033[K\r")
			}
			for _, r := range res {
				fmt.Fprintf(a.stdout, "%-12s %-9s %7d records  %s%s\n", r.Ecosystem, r.Status, r.Records, r.Source, skipNote(r.Skipped))
			}
			return err
		},
	}
	f.register(cmd, true)
	cmd.Flags().StringSliceVar(&ecosystems, "ecosystems", db.DefaultEcosystems, "OSV ecosystems to download")
	cmd.Flags().StringVar(&kevURL, "kev-url", "", "CISA KEV catalog (JSON) to fetch: URL, file:// or path; \"-\": none (default with the default repository: "+db.DefaultKEVURL+")")
	cmd.Flags().StringVar(&epssURL, "epss-url", "", "EPSS scores (CSV, gzip) to fetch: URL, file:// or path; \"-\": none (default with the default repository: "+db.DefaultEPSSURL+")")
	a.withArchives(cmd)   // distribution archive indexes (P3): db_archives.go
	a.withRegistries(cmd) // language registries (P4): db_registries.go
	return cmd
}

func (a *app) dbImportCommand() *cobra.Command {
	var f dbFlags
	cmd := &cobra.Command{
		Use:   "import FILE|DIR...",
		Short: "Load OSV zips or directories of OSV JSON records (and KEV/EPSS files), offline",
		Long: `Load OSV records from all.zip files, single JSON records or directories of
them, without touching the network. Each ecosystem found in the inputs is
replaced as a whole by what the inputs hold for it.`,
		Example: `  shipshape db import Go-all.zip Alpine-all.zip
  shipshape db import ./advisories/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, err := f.path()
			if err != nil {
				return err
			}
			return a.dbImport(cmd.Context(), dir, args)
		},
	}
	f.register(cmd, false)
	return cmd
}

func (a *app) dbImport(ctx context.Context, dir string, paths []string) error {
	im := db.NewImporter(dir)
	for _, p := range paths {
		if err := im.AddPath(ctx, p); err != nil {
			im.Abort()
			return fmt.Errorf("import %s: %w", p, err)
		}
	}
	for _, s := range im.Skipped {
		a.log.Debug("skipped record", "reason", s)
	}
	metas, err := im.Commit(func(string) db.Meta {
		return db.Meta{Source: strings.Join(paths, ", ")}
	})
	if err != nil {
		return err
	}
	if len(metas) == 0 {
		return errors.New("import: no OSV records found in the inputs")
	}
	for _, m := range metas {
		fmt.Fprintf(a.stdout, "%-12s imported %7d records\n", m.Ecosystem, m.Records)
	}
	fmt.Fprintf(a.stdout, "read %d records: %d imported%s\n", im.Read, im.Imported, skipNote(im.SkipCounts))
	return nil
}

// skipNote says how many records were skipped and why ("", when none).
func skipNote(counts map[string]int) string {
	if len(counts) == 0 {
		return ""
	}
	reasons := slices.Sorted(maps.Keys(counts))
	total := 0
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		total += counts[r]
		parts[i] = fmt.Sprintf("%d %s", counts[r], r)
	}
	return fmt.Sprintf(", %d skipped (%s; --debug lists them)", total, strings.Join(parts, ", "))
}

func (a *app) dbStatusCommand() *cobra.Command {
	var f dbFlags
	var format string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show each ecosystem's record count and age",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := f.path()
			if err != nil {
				return err
			}
			if _, err := report.DBStatusFormats.Lookup(format); err != nil {
				return fmt.Errorf("--format: %w", err)
			}
			metas, err := db.Status(dir)
			if err != nil {
				return err
			}
			if len(metas) == 0 && format == "table" {
				fmt.Fprintf(a.stdout, "no vulnerability database in %s: run `shipshape db update`\n", dir)
				return nil
			}
			if err := report.DBStatusFormats.Write(a.stdout, format, metas, report.Options{}); err != nil {
				return err
			}
			if format == "table" {
				// The exploitation data beside the records (KEV, EPSS).
				risks, err := db.RiskStatus(dir)
				if err != nil {
					return err
				}
				for _, r := range risks {
					fmt.Fprintf(a.stdout, "%-12s %7d entries  %s  %s  %s\n", r.Kind, r.Entries, r.Version, r.UpdatedAt.Format(time.DateOnly), r.Source)
				}
			}
			return nil
		},
	}
	f.register(cmd, false)
	cmd.Flags().StringVarP(&format, "format", "f", "table", "output format: "+report.DBStatusFormats.String())
	a.withArchiveStatus(cmd)  // distribution archive indexes: db_archives.go
	a.withRegistryStatus(cmd) // language registries (P4): db_registries.go
	return cmd
}

// vulnFlags are the scan flags of P4/P5.
type vulnFlags struct {
	db            dbFlags
	offline       bool
	ignoreUnfixed bool
	vex           string
	failAt        string
	priority      string
	fresh         freshnessFlags // P4: db_registries.go
}

func (v *vulnFlags) register(cmd *cobra.Command) {
	v.db.register(cmd, false)
	cmd.Flags().BoolVar(&v.offline, "offline", false, "never touch the network: no registry access (use local transports) and no database download")
	cmd.Flags().BoolVar(&v.ignoreUnfixed, "ignore-unfixed", false, "do not report vulnerabilities that have no fixed version yet")
	cmd.Flags().StringVar(&v.failAt, "vuln-fail-severity", "high", "lowest severity of a fixable vulnerability that fails P5 (unfixable ones only warn)")
	cmd.Flags().StringVar(&v.vex, "vex", "", "OpenVEX document whose not_affected/fixed statements suppress vulnerabilities")
	v.fresh.register(cmd)
	cmd.Flags().StringVar(&v.priority, "vuln-priority", "", "P5 fails only on vulnerabilities at --vuln-fail-severity or above with this priority or a more urgent one: exploited (CISA KEV), reachable, fixable, any (default: fixable ones fail)")
}

// apply sets the P4/P5 scan options.
func (v *vulnFlags) apply(o *scan.Options) error {
	o.Offline = v.offline
	o.DBDir = v.db.dir
	o.IgnoreUnfixed = v.ignoreUnfixed
	if err := v.fresh.apply(o); err != nil {
		return err
	}
	sevs, err := scorecard.ParseSeverities(v.failAt)
	if err != nil || len(sevs) != 1 {
		return fmt.Errorf("--vuln-fail-severity %q: want one of critical, high, medium, low, info", v.failAt)
	}
	o.VulnFailAt = sevs[0]
	if o.VulnPriority, err = vuln.ParsePriority(v.priority); err != nil {
		return fmt.Errorf("--vuln-priority: %w", err)
	}
	if v.vex != "" {
		if o.VEX, err = vuln.LoadVEX(v.vex); err != nil {
			return err
		}
	}
	return nil
}
