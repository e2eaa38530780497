package report

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/shipshape-dev/shipshape/internal/humanize"
	"github.com/shipshape-dev/shipshape/internal/slim"
)

// SlimFormats are the formats of the "slim" report.
var SlimFormats = Encoders[*slim.Result]{
	{ID: "table", Encode: SlimTable},
	{ID: "json", Encode: jsonOf[*slim.Result]},
}

// SlimTable writes a slim run for people.
func SlimTable(w io.Writer, r *slim.Result, _ Options) error {
	fmt.Fprintf(w, "slim %s (%s)\n", r.Source, humanize.Digest(r.SourceDigest))
	fmt.Fprintf(w, "  before   %d files, %s\n", r.Before.Files, humanize.Bytes(r.Before.Bytes))
	fmt.Fprintf(w, "  after    %d files, %s", r.After.Files, humanize.Bytes(r.After.Bytes))
	if r.Reduction > 0 {
		fmt.Fprintf(w, " (%.1fx smaller; the application used %.1f%% of the bytes)", r.Reduction, 100*r.UsedShare)
	}
	fmt.Fprintln(w)
	var cats []string
	for c := range r.Removed {
		cats = append(cats, c)
	}
	sort.Strings(cats)
	for _, c := range cats {
		fmt.Fprintf(w, "  removed  %-17s %6d files %10s\n", c, r.Removed[c].Files, humanize.Bytes(r.Removed[c].Bytes))
	}
	var why []string
	for k, n := range r.KeptBecause {
		why = append(why, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(why)
	fmt.Fprintf(w, "  kept     %s\n", strings.Join(why, ", "))
	if r.Packages != nil && r.Packages.Before > 0 {
		fmt.Fprintf(w, "  packages %d -> %d (the package database lists only packages that kept a file)\n", r.Packages.Before, r.Packages.After)
	}
	fmt.Fprintf(w, "  traced   %d paths touched, %d near misses, %d system calls\n", r.Touched, len(r.NearMisses), len(r.Syscalls))
	for f, libs := range r.MissingLibs {
		fmt.Fprintf(w, "  warning  %s needs %s, not in the image\n", f, strings.Join(libs, ", "))
	}
	for _, p := range r.Probes {
		fmt.Fprintf(w, "  probe    %s\n", describe(p.Kind, p.Status, p.ExitCode, p.Bytes, p.Error, p.Name))
	}
	if r.Verify != nil {
		if r.Verify.OK {
			under := ""
			if r.Verify.Seccomp {
				under = ", running under the seccomp profile"
			}
			fmt.Fprintf(w, "  verify   ok: %d probes answered on the original and gave the same results on the slimmed image%s\n", r.Verify.Answered, under)
		} else {
			for _, d := range r.Verify.Differences {
				fmt.Fprintf(w, "  verify   FAILED %s\n", d)
			}
		}
	}
	for _, d := range r.FindingsDelta {
		fmt.Fprintf(w, "  findings %s %d -> %d", d.Practice, d.Before, d.After)
		if len(d.Gone) > 0 {
			g := d.Gone
			if len(g) > 3 {
				g = append(g[:3:3], fmt.Sprintf("%d more", len(d.Gone)-3))
			}
			fmt.Fprintf(w, " (gone: %s)", strings.Join(g, "; "))
		}
		fmt.Fprintln(w)
	}
	if r.Seccomp != "" {
		fmt.Fprintf(w, "  seccomp  %s\n", r.Seccomp)
	}
	for _, o := range r.Outputs {
		fmt.Fprintf(w, "  wrote    %s (%s)\n", o, humanize.Digest(r.ImageDigest))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "  note     %s\n", n)
	}
	fmt.Fprintf(w, "  time     trace %.1fs, build %.1fs, verify %.1fs, total %.1fs\n", r.Seconds["trace"], r.Seconds["build"], r.Seconds["verify"], r.Seconds["total"])
	return nil
}

func describe(kind string, status, exit int, n int64, errText, name string) string {
	switch {
	case errText != "":
		return fmt.Sprintf("%s: error %s", name, errText)
	case kind == "http":
		return fmt.Sprintf("%s: %d, %d bytes", name, status, n)
	default:
		return fmt.Sprintf("%s %s: exit %d, %d bytes of output", kind, name, exit, n)
	}
}
