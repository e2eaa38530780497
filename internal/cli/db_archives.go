package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/shipshape-dev/shipshape/internal/archive"
	"github.com/shipshape-dev/shipshape/internal/pending"
	"github.com/shipshape-dev/shipshape/internal/scan"
)

// archiveFlags are the flags `db update` takes for the distribution
// archive indexes (P3's pending system updates).
type archiveFlags struct {
	distros      []string
	forImage     func() []string
	mirrors      map[string]string
	keyring      string
	ubuntuKey    string
	alpineKeys   string
	archivesOnly bool
	noArchives   bool
	image        imageFlags
}

// withArchives adds the archive indexes to `db update`: its flags, and
// after the OSV update the archives of --distros, of --for IMAGE and every
// release already stored.
func (a *app) withArchives(cmd *cobra.Command) {
	var f archiveFlags
	cmd.Short = "Download OSV exports and distribution archive indexes (only what changed)"
	cmd.Example += `
  shipshape db update --for debian:12-slim        # + the archive of the image's release (P3)
  shipshape db update --archives-only --distros debian:bookworm,alpine:v3.20`
	fs := cmd.Flags()
	fs.StringSliceVar(&f.distros, "distros", nil, "distribution archives to fetch for P3's pending updates, DISTRO:RELEASE (debian:bookworm, ubuntu:noble, alpine:v3.20); releases already fetched are refreshed on every update")
	if fs.Lookup("for") == nil {
		var images []string
		fs.StringSliceVar(&images, "for", nil, "fetch what scans of this IMAGE need: its distribution release's archive (repeatable)")
		f.forImage = func() []string { return images }
	} else {
		fl := fs.Lookup("for")
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
	fs.StringToStringVar(&f.mirrors, "archive-mirror", nil, "archive mirrors, NAME=URL (debian, debian-security, ubuntu, ubuntu-ports, ubuntu-security, alpine): http(s), file:// or a directory laid out as the archive")
	fs.StringVar(&f.keyring, "keyring", archive.DefaultDebianKeyring, "OpenPGP keyring that signs Debian's InRelease files (Debian's debian-archive-keyring package)")
	fs.StringVar(&f.ubuntuKey, "ubuntu-keyring", archive.DefaultUbuntuKeyring, "OpenPGP keyring that signs Ubuntu's InRelease files (the ubuntu-keyring package)")
	fs.StringVar(&f.alpineKeys, "alpine-keys", "", "directory of Alpine's RSA signing keys, *.rsa.pub (default: "+archive.DefaultAlpineKeys+", then /etc/apk/keys; without keys APKINDEX signatures are not checked and the index says so)")
	fs.BoolVar(&f.archivesOnly, "archives-only", false, "fetch only the distribution archives, not the OSV exports")
	fs.BoolVar(&f.noArchives, "no-archives", false, "do not refresh the distribution archives")
	if fs.Lookup("platform") == nil {
		// --for reads an image: the image flags (another part of `db
		// update --for` may have registered them already).
		f.image.register(cmd)
	}
	osv := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		var err error
		if !f.archivesOnly {
			err = osv(cmd, args)
		}
		if f.noArchives {
			return err
		}
		return errors.Join(err, a.updateArchives(cmd, &f))
	}
}

func (a *app) updateArchives(cmd *cobra.Command, f *archiveFlags) error {
	ctx := cmd.Context()
	dir, err := dbDirFlag(cmd)
	if err != nil {
		return err
	}
	targets := map[string]*archive.Target{}
	add := func(t archive.Target) {
		k := t.String()
		if old, ok := targets[k]; ok {
			for _, ar := range t.Arches {
				if !slices.Contains(old.Arches, ar) {
					old.Arches = append(old.Arches, ar)
				}
			}
			return
		}
		targets[k] = &t
	}
	// What is stored already is refreshed.
	stored, err := archive.Status(dir)
	if err != nil {
		return err
	}
	for _, ix := range stored {
		add(archive.Target{Distro: ix.Distro, Release: ix.Release, Arches: []string{ix.Arch}})
	}
	for _, d := range f.distros {
		t, err := archive.ParseTarget(d, nil)
		if err != nil {
			return fmt.Errorf("--distros: %w", err)
		}
		t.Arches = []string{archive.DefaultArch(t.Distro)}
		add(t)
	}
	for _, ref := range f.forImage() {
		t, err := a.archiveTargetFor(ctx, cmd, dir, ref)
		if err != nil {
			return fmt.Errorf("--for %s: %w", ref, err)
		}
		if t != nil {
			add(*t)
		}
	}
	if len(targets) == 0 {
		return nil
	}
	u := &archive.Updater{Dir: dir, Mirrors: f.mirrors, AlpineKeys: f.alpineKeys,
		Keyrings: map[string]string{"debian": f.keyring, "ubuntu": f.ubuntuKey}}
	start := time.Now()
	list := make([]archive.Target, 0, len(targets))
	for _, k := range slices.Sorted(maps.Keys(targets)) {
		list = append(list, *targets[k])
	}
	res, err := u.Update(ctx, list)
	printArchiveResults(a.stdout, res)
	a.log.Debug("archive indexes", "took", time.Since(start))
	return err
}

// printArchiveResults writes one line per release and architecture, then
// one per suite.
func printArchiveResults(w io.Writer, res []archive.Result) {
	for _, r := range res {
		fmt.Fprintf(w, "%-24s %-9s %7d packages\n", r.Key, r.Status, r.Packages)
		for _, s := range r.Suites {
			sig := s.Verified
			if sig == "" {
				sig = "NOT VERIFIED: " + s.Unverified
			}
			fmt.Fprintf(w, "  %-22s %-10s %6d  %s\n", s.Name, dateOf(s.Date), s.Packages, sig)
		}
	}
}

// archiveTargetFor reads the image's release and architecture (the
// freshness analyzer alone, offline) and returns the archive to fetch for
// it; nil when the image has no distribution shipshape keeps data for.
func (a *app) archiveTargetFor(ctx context.Context, cmd *cobra.Command, dir, ref string) (*archive.Target, error) {
	// The image flags, whoever registered them on this command.
	imf := imageFlagsOf(cmd)
	opts := imf.scanOptions(a)
	opts.Analyzers = []string{scan.SystemFreshness}
	opts.DBDir = dir
	s, err := a.scanner(opts)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	rep, err := s.Scan(ctx, ref, nil)
	if err != nil {
		return nil, err
	}
	fr, ok := rep.Sections[pending.Section].(*pending.Report)
	if !ok {
		return nil, errors.New("no freshness section in the scan")
	}
	// What the base image's tag points to now, for offline scans and
	// for counting its rebuilds.
	if added, err := pending.RecordBase(dir, fr, time.Now()); err != nil {
		return nil, fmt.Errorf("recording the base image: %w", err)
	} else if added {
		fmt.Fprintf(a.stdout, "base %s: recorded build %s (created %s)\n", fr.Base.Name, fr.Base.CurrentDigest, dateOf(fr.Base.CurrentCreated))
	}
	sp := fr.SystemPackages
	if sp.Distro == "" || sp.Release == "" || !slices.Contains(archive.Distros, sp.Distro) {
		reason := sp.Reason
		if reason == "" {
			reason = "no distribution release found"
		}
		fmt.Fprintf(a.stderr, "%s: no archive to fetch: %s\n", ref, reason)
		return nil, nil
	}
	arches := []string{sp.Arch}
	if def := archive.DefaultArch(sp.Distro); def != sp.Arch {
		arches = append([]string{def}, arches...)
	}
	return &archive.Target{Distro: sp.Distro, Release: sp.Release, Arches: arches}, nil
}

// withArchiveStatus adds the stored archive indexes to `db status`'s
// table.
func (a *app) withArchiveStatus(cmd *cobra.Command) {
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
		ixs, err := archive.Status(dir)
		if err != nil {
			return err
		}
		for _, ix := range ixs {
			var suites []string
			for _, s := range ix.Suites {
				suites = append(suites, s.Name+" "+dateOf(s.Date))
			}
			fmt.Fprintf(a.stdout, "archive %-22s updated %s  %s\n", archive.Key{Distro: ix.Distro, Release: ix.Release, Arch: ix.Arch}, ix.UpdatedAt.Format(time.DateOnly), strings.Join(suites, ", "))
		}
		return nil
	}
}

func dateOf(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Format(time.DateOnly)
}
