package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/shipshape-dev/shipshape/internal/ignore"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imageout"
	"github.com/shipshape-dev/shipshape/internal/scan"
	"github.com/shipshape-dev/shipshape/internal/scorecard"
	"github.com/shipshape-dev/shipshape/internal/secret"
	"github.com/shipshape-dev/shipshape/internal/strip"
)

func (a *app) fixCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "fix",
		Short: "Write a fixed copy of an image",
		Long:  `Write a copy of an image with a practice's findings fixed.`,
	}
	cmd.AddCommand(a.fixSecretsCommand())
	return cmd
}

type fixSecretsFlags struct {
	img         imageFlags
	dest        string
	format      string
	ignoreFile  string
	showSecrets bool
}

// fixSecretsOutput is the JSON form of "shipshape fix secrets".
type fixSecretsOutput struct {
	Output  string               `json:"output"`
	Before  *scorecard.Report    `json:"before"`
	After   *scorecard.Report    `json:"after"`
	Changes *strip.Result        `json:"changes"`
	Kept    []scorecard.Finding  `json:"kept,omitempty"`
	Notice  string               `json:"notice,omitempty"`
	P1      map[string]p1Summary `json:"p1"`
}

type p1Summary struct {
	Status   scorecard.Status `json:"status"`
	Findings int              `json:"findings"`
	Summary  string           `json:"summary,omitempty"`
}

const rotateNotice = "The removed credentials were published in the original image and must still be rotated: anyone who pulled it can read them."

func (a *app) fixSecretsCommand() *cobra.Command {
	var f fixSecretsFlags
	cmd := &cobra.Command{
		Use:   "secrets IMAGE -o OUT",
		Short: "Write a copy of an image without its build secrets (P1)",
		Long: `Scan IMAGE for secrets (P1) and write a copy in which every file that carried
a secret is removed from every layer where it appears, secret Env entries are
removed, and secret labels and history values (BuildKit build-args, ENV and
RUN lines) are replaced by <redacted>. The config's diffIDs and history and
the manifest are rewritten to match. The result is scanned again and P1 is
shown before and after.

Secrets in files owned by the distribution's packages (vendor test keys) and
in third-party test fixtures are reported but not removed.

This does not make the credentials safe: they were published with the
original image and must be rotated.

OUT is one of:
  docker-archive:PATH[:TAG]   a "docker save" archive
  oci:DIR[:TAG]               an OCI image layout directory
  docker-daemon:NAME:TAG      the local Docker Engine
  docker://REGISTRY/REPO:TAG  a registry`,
		Example: `  shipshape fix secrets app:latest -o docker-daemon:app:clean
  shipshape fix secrets docker-archive:app.tar -o oci:app-clean
  shipshape fix secrets registry.example.com/app:1.2 -o docker://registry.example.com/app:1.2-clean`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runFixSecrets(cmd.Context(), args[0], &f)
		},
	}
	f.img.register(cmd)
	cmd.Flags().StringVarP(&f.dest, "output", "o", "", "where to write the fixed image (required)")
	cmd.Flags().StringVarP(&f.format, "format", "f", "table", "output format of the before/after summary: table, json")
	cmd.Flags().StringVar(&f.ignoreFile, "ignorefile", ignore.DefaultFile, "file of accepted findings, which are left in place")
	cmd.Flags().BoolVar(&f.showSecrets, "show-secrets", false, "print secret values whole instead of redacted")
	cmd.MarkFlagRequired("output")
	return cmd
}

// strippable reports whether fix secrets removes what a finding points at:
// secrets the build added, not vendor files or third-party fixtures.
func strippable(f *scorecard.Finding) bool {
	if f.Practice != scorecard.P1 {
		return false
	}
	c, _ := f.Evidence["class"].(string)
	return c == secret.ClassBuild || c == secret.ClassConfig
}

// planStrip turns P1 findings (scanned with whole values) into a plan.
func planStrip(findings []scorecard.Finding) *strip.Plan {
	p := &strip.Plan{}
	for i := range findings {
		f := &findings[i]
		if !strippable(f) {
			continue
		}
		if f.Path != "" && f.Layer > 0 && f.Field == "" {
			p.AddFile(f.Layer, f.Path)
			continue
		}
		v, _ := f.Evidence["secret"].(string)
		if v != "" {
			p.Values = append(p.Values, v)
		}
		kind, idx, key, ok := strip.ParseField(f.Field)
		if !ok {
			continue
		}
		switch kind {
		case "Env":
			p.Env = append(p.Env, idx)
		case "Labels":
			p.Labels = append(p.Labels, key)
		}
	}
	return p
}

func (a *app) runFixSecrets(ctx context.Context, ref string, f *fixSecretsFlags) error {
	if f.format != "table" && f.format != "json" {
		return fmt.Errorf("--format %q: want table or json", f.format)
	}
	if _, err := image.ParseDestination(f.dest); err != nil {
		return err
	}
	ign, err := ignore.Load(f.ignoreFile, f.ignoreFile == ignore.DefaultFile)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, f.img.timeout)
	defer cancel()
	// The plan needs the values themselves (to redact history lines), so
	// the first scan keeps them, and must not put them in the layer cache.
	opts := f.img.scanOptions(a)
	opts.Analyzers = []string{scan.Secrets}
	opts.Ignores = []*ignore.File{ign}
	opts.ShowSecrets, opts.NoCache = true, true
	whole, err := a.scanner(opts)
	if err != nil {
		return err
	}
	defer whole.Close()
	o, err := whole.Open(ctx, ref)
	if err != nil {
		return err
	}
	defer o.Close()
	before, err := whole.ScanImage(ctx, o, a.newProgress())
	if err != nil {
		return err
	}
	plan := planStrip(before.Findings)
	var kept []scorecard.Finding
	for _, fd := range before.Findings {
		if !strippable(&fd) {
			kept = append(kept, fd)
		}
	}
	if !f.showSecrets {
		redactReport(before, plan.Values)
		redactFindings(kept, plan.Values)
	}
	src, err := o.Image.V1(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	fixed, changes, err := strip.Apply(ctx, src, plan, o.TempDir)
	if err != nil {
		return fmt.Errorf("%s: removing secrets: %w", ref, err)
	}
	where, err := imageout.Write(ctx, fixed, f.dest, imageout.Options{Insecure: f.img.insecure})
	if err != nil {
		return err
	}
	afterRef := where
	if r, err := image.ParseReference(where); err != nil || r.Transport == "" {
		afterRef = "docker://" + where
	}
	opts.ShowSecrets, opts.NoCache = f.showSecrets, f.img.noCache
	rescan, err := a.scanner(opts)
	if err != nil {
		return err
	}
	defer rescan.Close()
	after, err := rescan.Scan(ctx, afterRef, nil)
	if err != nil {
		return fmt.Errorf("re-scanning the fixed image: %w", err)
	}
	notice := rotateNotice
	if plan.Empty() {
		notice = ""
	}
	out := fixSecretsOutput{
		Output: where, Before: before, After: after, Changes: changes, Kept: kept, Notice: notice,
		P1: map[string]p1Summary{"before": p1Of(before), "after": p1Of(after)},
	}
	if f.format == "json" {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	writeFixTable(a.stdout, ref, &out)
	return nil
}

func p1Of(r *scorecard.Report) p1Summary {
	s := p1Summary{}
	for _, p := range r.Practices {
		if p.ID == scorecard.P1 {
			s.Status, s.Summary = p.Status, p.Summary
		}
	}
	for _, f := range r.Findings {
		if f.Practice == scorecard.P1 {
			s.Findings++
		}
	}
	return s
}

// redactReport hides secret values that a whole-value scan put in a report.
func redactReport(r *scorecard.Report, values []string) {
	redactFindings(r.Findings, values)
	for i := range r.Image.Layers {
		r.Image.Layers[i].CreatedBy = redactLine(r.Image.Layers[i].CreatedBy, values)
	}
}

func redactFindings(fs []scorecard.Finding, values []string) {
	for i := range fs {
		if v, ok := fs[i].Evidence["secret"].(string); ok {
			fs[i].Evidence["secret"] = secret.Redact(v)
		}
		fs[i].CreatedBy = redactLine(fs[i].CreatedBy, values)
	}
}

func redactLine(s string, values []string) string {
	vs := append([]string(nil), values...)
	sort.Slice(vs, func(i, j int) bool { return len(vs[i]) > len(vs[j]) })
	for _, v := range vs {
		if len(v) >= 4 {
			s = strings.ReplaceAll(s, v, secret.Redact(v))
		}
	}
	return s
}

func writeFixTable(w io.Writer, ref string, out *fixSecretsOutput) {
	b, af := out.P1["before"], out.P1["after"]
	fmt.Fprintf(w, "P1 before: %s, %d findings (%s)\n", strings.ToUpper(string(b.Status)), b.Findings, b.Summary)
	for _, f := range out.Before.Findings {
		if f.Practice != scorecard.P1 {
			continue
		}
		where := f.Path
		if f.Field != "" {
			where = f.Field
		}
		action := "removed"
		if !strippable(&f) {
			action = "kept (" + fmt.Sprint(f.Evidence["class"]) + ")"
		}
		layer := ""
		if f.Layer > 0 {
			layer = fmt.Sprintf(" layer %d", f.Layer)
		}
		fmt.Fprintf(w, "  %-8s %-28s %s%s  %v  → %s\n", f.Severity, f.Rule, where, layer, f.Evidence["secret"], action)
	}
	c := out.Changes
	var layers []int
	for l := range c.Removed {
		layers = append(layers, l)
	}
	sort.Ints(layers)
	if len(c.Removed) == 0 && len(c.EnvRemoved) == 0 && len(c.LabelsRedacted) == 0 && len(c.HistoryRedacted) == 0 {
		fmt.Fprintf(w, "\nNo secrets to remove: the image was copied unchanged.\n")
		fmt.Fprintf(w, "Wrote %s\n", out.Output)
		return
	}
	fmt.Fprintf(w, "\nChanges:\n")
	for _, l := range layers {
		fmt.Fprintf(w, "  layer %d: removed %s\n", l, strings.Join(c.Removed[l], ", "))
	}
	if len(c.EnvRemoved) > 0 {
		fmt.Fprintf(w, "  Env: removed %s\n", strings.Join(c.EnvRemoved, ", "))
	}
	if len(c.LabelsRedacted) > 0 {
		fmt.Fprintf(w, "  Labels: redacted %s\n", strings.Join(c.LabelsRedacted, ", "))
	}
	if len(c.HistoryRedacted) > 0 {
		fmt.Fprintf(w, "  History: redacted %d entries\n", len(c.HistoryRedacted))
	}
	fmt.Fprintf(w, "\nWrote %s\n", out.Output)
	fmt.Fprintf(w, "P1 after:  %s, %d findings (%s)\n", strings.ToUpper(string(af.Status)), af.Findings, af.Summary)
	fmt.Fprintf(w, "\n%s (%s)\n", rotateNotice, ref)
}
