// Package slim minimises a container image by watching it run: it starts
// the image on a Docker Engine under a ptrace sensor, probes it, keeps only
// the files the application used (plus their ELF and language closures),
// writes a one-layer image with the original config, and then proves the
// result by running the same probes against it.
package slim

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"archive/tar"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/moby/client"

	"github.com/shipshape-dev/shipshape/internal/atomicfile"
	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imageout"
	"github.com/shipshape-dev/shipshape/internal/slim/build"
	"github.com/shipshape-dev/shipshape/internal/slim/keep"
	"github.com/shipshape-dev/shipshape/internal/slim/pkgdb"
	"github.com/shipshape-dev/shipshape/internal/slim/probe"
	"github.com/shipshape-dev/shipshape/internal/slim/record"
	"github.com/shipshape-dev/shipshape/internal/slim/rootfs"
	"github.com/shipshape-dev/shipshape/internal/slim/runner"
	"github.com/shipshape-dev/shipshape/internal/slim/seccomp"
	"github.com/shipshape-dev/shipshape/internal/slim/sensor"
	"github.com/shipshape-dev/shipshape/internal/slim/sensorbin"
)

// Options configure one slim run.
type Options struct {
	// Image is the image to slim: a name or ID in the Docker Engine, or
	// any reference image.Open reads (it is loaded into the engine).
	Image  string
	Sensor sensorbin.Binary

	HTTPPaths    []string   // paths probed on every exposed TCP port
	Crawl        int        // follow same-origin links up to this many requests per port
	NoHTTP       bool       // skip HTTP probes
	Exec         [][]string // commands run inside the container
	ProbeScript  string     // host program run while the container runs
	Duration     time.Duration
	ProbeTimeout time.Duration

	Include, IncludeBins, Preserve, Exclude []string

	Privileged bool
	NoVerify   bool
	// VerifySeccomp runs the verification under the generated seccomp
	// profile (Docker runtime only).
	VerifySeccomp bool
	Runtime       string   // docker (default) or sandbox
	Tag           string   // load the result into the engine under this name
	Outputs       []string // imageout destinations
	Seccomp       string   // where to write the seccomp profile

	CacheDir   string // results keyed by image digest; built sensors
	TempDir    string
	DockerHost string
	Progress   func(format string, args ...any)
	// Redact hides secret values in what the run reports of the
	// application — each probe's command, error and output, and the
	// container output a failed verification quotes — before it is
	// returned (the CLI passes the P1 rules). Nil: shown as they are.
	Redact func(string) string
}

// Stats count files and bytes.
type Stats = build.Stats

// Result is what a slim run reports.
type Result struct {
	Source       string           `json:"source"`
	SourceDigest string           `json:"sourceDigest"`
	ImageDigest  string           `json:"imageDigest,omitempty"`
	Outputs      []string         `json:"outputs,omitempty"`
	Before       Stats            `json:"before"`
	After        Stats            `json:"after"`
	Reduction    float64          `json:"reduction"`
	UsedShare    float64          `json:"usedShare"`
	Removed      map[string]Stats `json:"removedByCategory"`
	KeptBecause  map[string]int   `json:"keptBecause"`
	Touched      int              `json:"touched"`
	// Used are the image's files the application opened under the
	// sensor (kept in the cache record for P5's "in use").
	Used        []string            `json:"-"`
	NearMisses  []string            `json:"nearMisses,omitempty"`
	MissingLibs map[string][]string `json:"missingLibraries,omitempty"`
	Syscalls    []string            `json:"syscalls"`
	// Packages counts the packages the image's package database lists,
	// before and after (the database is trimmed to packages with files).
	Packages *PackageCount `json:"packages,omitempty"`
	// Fanotify says whether fanotify watched the traced run ("on") or why
	// not (it needs CAP_SYS_ADMIN: --privileged).
	Fanotify string         `json:"fanotify,omitempty"`
	Seccomp  string         `json:"seccompProfile,omitempty"`
	Probes   []probe.Result `json:"probes"`
	Verify   *Verify        `json:"verify,omitempty"`
	// FindingsDelta compares a scan of the original with one of the
	// slimmed image, per practice (filled in by the caller, which owns the
	// analyzers).
	FindingsDelta []FindingDelta     `json:"findingsDelta,omitempty"`
	Seconds       map[string]float64 `json:"seconds"`
	// Notes say what the run could not do as asked.
	Notes []string `json:"notes,omitempty"`
}

// hide passes what r reports of the application through redact, in place
// (a NotVerifiedError shares r.Verify.Differences).
func (r *Result) hide(redact func(string) string) {
	if redact == nil {
		return
	}
	probes := func(ps []probe.Result) {
		for i := range ps {
			p := &ps[i]
			p.Name, p.Error, p.Output = redact(p.Name), redact(p.Error), redact(p.Output)
		}
	}
	probes(r.Probes)
	if r.Verify != nil {
		probes(r.Verify.Probes)
		for i, d := range r.Verify.Differences {
			r.Verify.Differences[i] = redact(d)
		}
	}
}

// Verify is the outcome of probing the slimmed image.
type Verify struct {
	// Seccomp tells that the slimmed image ran under the generated profile.
	Seccomp     bool           `json:"seccomp,omitempty"`
	Probes      []probe.Result `json:"probes"`
	Differences []string       `json:"differences,omitempty"`
	// Answered counts the probes that succeeded on the original and gave
	// the same result on the slimmed image: what the verification proved.
	Answered int  `json:"answered"`
	OK       bool `json:"ok"`
}

// PackageCount counts installed packages.
type PackageCount struct {
	Before int `json:"before"`
	After  int `json:"after"`
}

// FindingDelta is how one practice's findings changed with slimming.
type FindingDelta struct {
	Practice string   `json:"practice"`
	Before   int      `json:"before"`
	After    int      `json:"after"`
	Gone     []string `json:"gone,omitempty"` // titles of findings the slimmed image no longer has
}

// ErrVerify is returned (wrapped, as a *NotVerifiedError) when the
// slimmed image behaves differently from the original.
var ErrVerify = errors.New("the slimmed image does not behave like the original")

const (
	sensorPath = "/.shipshape-sensor/sensor"
	reportPath = "/.shipshape-sensor-report.json"
	maxReport  = 256 << 20
)

// backend runs images for one runtime.
type backend interface {
	// trace runs the original image under the sensor, probes it and
	// returns the probes' results and the sensor's reports.
	trace(ctx context.Context) ([]probe.Result, []*sensor.Report, error)
	// verify runs the slimmed image (img; kept are its paths in fs) with
	// the probes of the traced run and returns their results and the
	// slimmed application's output. seccomp, when not nil, is the profile
	// to run it under.
	verify(ctx context.Context, img v1.Image, kept []string, before []probe.Result, seccomp []byte) ([]probe.Result, string, error)
	close()
}

// source is the image being slimmed.
type source struct {
	cfg    *v1.ConfigFile
	digest string
	fs     *rootfs.FS
	notes  []string
	// base names the original's base image when its manifest annotations
	// say (the config's labels travel with the config anyway).
	base build.Base
}

// Run slims o.Image.
func Run(ctx context.Context, o Options) (*Result, error) {
	o = o.withDefaults()
	var (
		src *source
		be  backend
		err error
	)
	switch o.Runtime {
	case "", "docker":
		src, be, err = newDocker(ctx, o)
	case "sandbox":
		src, be, err = newSandbox(ctx, o)
	default:
		err = fmt.Errorf("runtime %q: want docker or sandbox", o.Runtime)
	}
	if err != nil {
		return nil, err
	}
	defer be.close()
	defer src.fs.Close()
	return run(ctx, o, src, be)
}

func (o Options) withDefaults() Options {
	if o.Progress == nil {
		o.Progress = func(string, ...any) {}
	}
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	if o.ProbeTimeout == 0 {
		o.ProbeTimeout = 30 * time.Second
	}
	if len(o.HTTPPaths) == 0 {
		o.HTTPPaths = []string{"/"}
	}
	return o
}

// run is one slim run on an opened source and backend: trace, keep set,
// build, seccomp, verify, publish. Nothing is written anywhere unless
// every step before publishing succeeded.
func run(ctx context.Context, o Options, src *source, be backend) (*Result, error) {
	start := time.Now()
	res := &Result{Source: o.Image, SourceDigest: src.digest, Seconds: map[string]float64{}, Removed: map[string]Stats{}, KeptBecause: map[string]int{}, Notes: src.notes}
	// Hidden once every decision is made: the verification re-runs the
	// probes by their commands and compares their outputs whole.
	defer res.hide(o.Redact)

	traceStart := time.Now()
	o.Progress("running %s under the sensor", o.Image)
	probes, reports, err := be.trace(ctx)
	if err != nil {
		return nil, err
	}
	res.Probes = probes
	res.Seconds["trace"] = time.Since(traceStart).Seconds()
	// What the application did is only known if it was seen working.
	if err := requireAnswer(o, probes); err != nil {
		res.Seconds["total"] = time.Since(start).Seconds()
		return res, err
	}

	kept, replace, err := keepSet(o, src, reports, res)
	if err != nil {
		return nil, err
	}

	buildStart := time.Now()
	o.Progress("writing the slimmed layer (%d paths)", len(kept))
	slimImg, removeLayer, err := buildImage(o, src, kept, replace, res)
	if err != nil {
		return nil, err
	}
	defer removeLayer()
	res.Seconds["build"] = time.Since(buildStart).Seconds()

	profile, err := seccomp.New(res.Syscalls).JSON()
	if err != nil {
		return nil, err
	}

	if !o.NoVerify {
		verifyStart := time.Now()
		o.Progress("verifying the slimmed image")
		var prof []byte
		if o.VerifySeccomp {
			prof = profile
		}
		after, logs, err := be.verify(ctx, slimImg, kept, res.Probes, prof)
		res.Seconds["verify"] = time.Since(verifyStart).Seconds()
		if err != nil {
			return res, err
		}
		res.Verify = compare(res.Probes, after, logs, prof != nil)
		if !res.Verify.OK {
			res.Seconds["total"] = time.Since(start).Seconds()
			return res, &NotVerifiedError{Differences: res.Verify.Differences}
		}
	}

	if err := publish(ctx, o, src, slimImg, profile, res); err != nil {
		return res, err
	}
	res.Seconds["total"] = time.Since(start).Seconds()
	return res, nil
}

// keepSet computes the paths the slimmed image keeps (sorted) from the
// sensor reports, and the package database files rewritten to match; it
// fills the result's keep, removal and package statistics.
func keepSet(o Options, src *source, reports []*sensor.Report, res *Result) ([]string, map[string][]byte, error) {
	cfg, fs := src.cfg, src.fs
	var touched, syscalls []string
	nearMiss := map[string]bool{}
	for _, r := range reports {
		touched = append(touched, r.Touched...)
		syscalls = append(syscalls, r.Syscalls...)
		for _, m := range r.Missing {
			nearMiss[m] = true
		}
	}
	if len(reports) > 0 {
		res.Fanotify = reports[0].Fanotify
	}
	res.Touched = len(dedupe(touched))
	for _, p := range dedupe(touched) {
		if e := fs.Lookup(p); e != nil && e.Header.Typeflag != tar.TypeDir {
			res.Used = append(res.Used, p)
		}
	}
	res.Syscalls = dedupe(syscalls)
	for m := range nearMiss {
		res.NearMisses = append(res.NearMisses, m)
	}
	sort.Strings(res.NearMisses)
	ks, err := keep.Compute(fs, keep.Options{
		Touched: touched, Include: o.Include, IncludeBins: o.IncludeBins, Preserve: o.Preserve,
		Env: cfg.Config.Env, WorkingDir: cfg.Config.WorkingDir,
	})
	if err != nil {
		return nil, nil, err
	}
	res.MissingLibs = ks.MissingLibs
	var kept []string
	for _, p := range ks.Paths() {
		if excluded(p, o.Exclude) {
			continue
		}
		kept = append(kept, p)
		res.KeptBecause[ks.Reasons[p]]++
	}
	keptSet := map[string]bool{}
	for _, p := range kept {
		keptSet[p] = true
	}
	// Package databases list only the packages that still have files.
	db, err := pkgdb.Trim(fs, keptSet)
	if err != nil {
		return nil, nil, fmt.Errorf("package database not trimmed to the files kept: %w", err)
	}
	res.Packages = &PackageCount{Before: db.Before, After: db.After}
	var extra []string
	for p := range db.Files {
		extra = append(extra, p)
	}
	for _, p := range append(extra, db.Keep...) {
		for d := p; d != "/" && fs.Lookup(d) != nil && !keptSet[d]; d = path.Dir(d) {
			keptSet[d] = true
			kept = append(kept, d)
			res.KeptBecause["package-database"]++
		}
	}
	sort.Strings(kept)
	for _, p := range fs.Paths() {
		e := fs.Lookup(p)
		if countable(e) {
			res.Before.Files++
			res.Before.Bytes += e.Header.Size
			if !keptSet[p] {
				cat := keep.Category(p)
				s := res.Removed[cat]
				s.Files++
				s.Bytes += e.Header.Size
				res.Removed[cat] = s
			}
		}
	}
	return kept, db.Files, nil
}

// buildImage writes the slimmed layer to a temporary file (removed by the
// returned function once the image is no longer needed) and makes the
// one-layer image; it fills the after statistics.
func buildImage(o Options, src *source, kept []string, replace map[string][]byte, res *Result) (v1.Image, func(), error) {
	layerFile, err := os.CreateTemp(o.TempDir, "shipshape-slim-layer-*.tar")
	if err != nil {
		return nil, nil, fmt.Errorf("layer: %w", err)
	}
	remove := func() { os.Remove(layerFile.Name()) }
	st, err := build.WriteLayer(src.fs, kept, replace, layerFile)
	if cerr := layerFile.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		remove()
		return nil, nil, err
	}
	res.After = st
	if st.Bytes > 0 {
		res.Reduction = float64(res.Before.Bytes) / float64(st.Bytes)
	}
	if res.Before.Bytes > 0 {
		res.UsedShare = float64(st.Bytes) / float64(res.Before.Bytes)
	}
	img, err := build.Image(layerFile.Name(), src.cfg, o.Image+"@"+src.digest, time.Now().UTC(), src.base)
	if err != nil {
		remove()
		return nil, nil, err
	}
	if d, err := img.ConfigName(); err == nil {
		res.ImageDigest = d.String()
	}
	return img, remove, nil
}

// publish writes every output of a run that succeeded: the seccomp
// profile (to a temporary name, renamed into place only when everything
// else was written too), the images and the cache record.
func publish(ctx context.Context, o Options, src *source, img v1.Image, profile []byte, res *Result) error {
	res.Seccomp = o.Seccomp
	if res.Seccomp == "" && o.CacheDir != "" {
		res.Seccomp = filepath.Join(o.CacheDir, "slim", strings.TrimPrefix(src.digest, "sha256:")+".seccomp.json")
	}
	var prof *atomicfile.File
	if res.Seccomp != "" {
		if err := os.MkdirAll(filepath.Dir(res.Seccomp), 0o755); err != nil {
			return fmt.Errorf("seccomp profile: %w", err)
		}
		f, err := atomicfile.Create(res.Seccomp, 0o644)
		if err != nil {
			return fmt.Errorf("seccomp profile: %w", err)
		}
		defer f.Abort()
		if _, err := f.Write(profile); err != nil {
			return fmt.Errorf("seccomp profile: %w", err)
		}
		prof = f
	}
	dests := o.Outputs
	if o.Tag != "" {
		dests = append([]string{"docker-daemon:" + o.Tag}, dests...)
	}
	for _, dest := range dests {
		w, err := imageout.Write(ctx, img, dest, imageout.Options{})
		if err != nil {
			return err
		}
		res.Outputs = append(res.Outputs, w)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if prof != nil {
		if err := prof.Commit(); err != nil {
			return fmt.Errorf("seccomp profile: %w", err)
		}
	}
	if o.CacheDir != "" {
		h, err := v1.NewHash(src.digest)
		if err != nil {
			return fmt.Errorf("slim record: %w", err)
		}
		rec := record.Record{
			SourceDigest: src.digest, Before: record.Stats(res.Before), After: record.Stats(res.After), UsedShare: res.UsedShare,
			Verified: res.Verify != nil && res.Verify.OK, ImageDigest: res.ImageDigest, Created: time.Now().UTC(),
			Used: res.Used,
		}
		if err := record.Save(o.CacheDir, h, rec); err != nil {
			return err
		}
	}
	return nil
}

// docker runs images on a Docker Engine.
type docker struct {
	o         Options
	cli       *client.Client
	id        string
	srcRef    string
	removeSrc func()
	cfg       *v1.ConfigFile
	cleanups  []func()
}

func newDocker(ctx context.Context, o Options) (*source, backend, error) {
	cli, err := runner.New(o.DockerHost)
	if err != nil {
		return nil, nil, err
	}
	d := &docker{o: o, cli: cli, id: randomID()}
	var base build.Base
	d.srcRef, d.removeSrc, base, err = ensureInEngine(ctx, cli, o, d.id)
	if err != nil {
		cli.Close()
		return nil, nil, err
	}
	// The config comes from the engine's inspect: the same fields as the
	// image's config file, without exporting the whole image.
	insp, err := cli.ImageInspect(ctx, d.srcRef)
	if err != nil {
		d.close()
		return nil, nil, fmt.Errorf("docker: image %s: %w", o.Image, err)
	}
	cfg := &v1.ConfigFile{Architecture: insp.Architecture, OS: insp.Os, Variant: insp.Variant, Author: insp.Author}
	if insp.Config != nil {
		b, err := json.Marshal(insp.Config)
		if err == nil {
			err = json.Unmarshal(b, &cfg.Config)
		}
		if err != nil {
			d.close()
			return nil, nil, fmt.Errorf("docker: image %s: config: %w", o.Image, err)
		}
	}
	src := &source{cfg: cfg, digest: insp.ID, base: base}
	d.cfg = src.cfg
	// The original filesystem, flattened by the engine.
	o.Progress("exporting the filesystem")
	src.fs, err = exportFS(ctx, cli, d.srcRef, "shipshape-slim-export-"+d.id, o.TempDir)
	if err != nil {
		d.close()
		return nil, nil, err
	}
	return src, d, nil
}

func (d *docker) close() {
	for i := len(d.cleanups) - 1; i >= 0; i-- {
		d.cleanups[i]()
	}
	d.removeSrc()
	d.cli.Close()
}

func (d *docker) trace(ctx context.Context) ([]probe.Result, []*sensor.Report, error) {
	cfg, o := d.cfg, d.o
	argv := append(append([]string{}, cfg.Config.Entrypoint...), cfg.Config.Cmd...)
	if len(argv) == 0 {
		return nil, nil, fmt.Errorf("%s has neither an entrypoint nor a command to run", o.Image)
	}
	cleanup := context.WithoutCancel(ctx)
	sargs := append([]string{sensorPath}, o.Sensor.Args...)
	run := append(append([]string{}, sargs...), "run", "--report", reportPath)
	run = append(append(append(run, userArgs(cfg)...), "--"), argv...)
	c, err := runner.Start(ctx, d.cli, runner.Spec{
		Image: d.srcRef, Name: "shipshape-slim-trace-" + d.id, Entrypoint: run, User: "0:0",
		CapAdd: []string{"SYS_PTRACE"}, Privileged: o.Privileged,
		Binds: map[string]string{o.Sensor.Path: sensorPath}, Ports: tcpPorts(cfg.Config.ExposedPorts),
	})
	if err != nil {
		return nil, nil, err
	}
	defer c.Remove(cleanup)
	wrap := func(i int, cmd []string) ([]string, string) {
		w := append(append([]string{}, sargs...), "exec", "--report", fmt.Sprintf("/.shipshape-exec-%d.json", i))
		return append(append(append(w, userArgs(cfg)...), "--"), cmd...), "0:0"
	}
	probes := runProbes(ctx, c, o, wrap)
	c.Stop(cleanup, 10*time.Second)
	reports, err := readReports(cleanup, c, len(o.Exec))
	if err != nil {
		if logs := c.Logs(cleanup); logs != "" {
			err = fmt.Errorf("%w\ncontainer output:\n%s", err, logs)
		}
		return nil, nil, err
	}
	return probes, reports, nil
}

func (d *docker) verify(ctx context.Context, img v1.Image, _ []string, before []probe.Result, seccomp []byte) ([]probe.Result, string, error) {
	verifyTag := "shipshape-slim-verify-" + d.id + ":latest"
	if _, err := imageout.Write(ctx, img, "docker-daemon:"+verifyTag, imageout.Options{}); err != nil {
		return nil, "", err
	}
	defer d.cli.ImageRemove(context.WithoutCancel(ctx), verifyTag, client.ImageRemoveOptions{Force: true})
	return verify(ctx, d.cli, d.o, verifyTag, tcpPorts(d.cfg.Config.ExposedPorts), d.cfg.Config.User, before, d.id, seccomp)
}

// userArgs are the sensor flags that run the command as the image's user.
func userArgs(cfg *v1.ConfigFile) []string {
	if cfg.Config.User == "" {
		return nil
	}
	args := []string{"--user", cfg.Config.User}
	if !hasEnv(cfg.Config.Env, "HOME") {
		args = append(args, "--set-home")
	}
	return args
}

// ensureInEngine returns a reference the engine can run, loading images
// given in another transport into the engine under a temporary name.
// The base image its manifest annotations name is returned too (the
// engine keeps no annotations).
func ensureInEngine(ctx context.Context, cli *client.Client, o Options, id string) (string, func(), build.Base, error) {
	r, err := image.ParseReference(o.Image)
	if err != nil {
		return "", nil, build.Base{}, err
	}
	if r.Transport == "" || r.Transport == image.Daemon {
		insp, err := cli.ImageInspect(ctx, r.Name)
		if err != nil {
			return "", nil, build.Base{}, fmt.Errorf("docker: image %s: %w", r.Name, err)
		}
		return insp.ID, func() {}, build.Base{}, nil
	}
	img, err := image.Open(ctx, o.Image, image.Options{TempDir: o.TempDir, DockerHost: o.DockerHost})
	if err != nil {
		return "", nil, build.Base{}, err
	}
	defer img.Close()
	v1img, err := imageout.ToV1(ctx, img)
	if err != nil {
		return "", nil, build.Base{}, err
	}
	tag := "shipshape-slim-source-" + id + ":latest"
	if _, err := imageout.Write(ctx, v1img, "docker-daemon:"+tag, imageout.Options{}); err != nil {
		return "", nil, build.Base{}, err
	}
	return tag, func() {
		cli.ImageRemove(context.WithoutCancel(ctx), tag, client.ImageRemoveOptions{Force: true})
	}, baseOf(img), nil
}

func exportFS(ctx context.Context, cli *client.Client, ref, name, tmp string) (*rootfs.FS, error) {
	c, err := runner.Create(ctx, cli, ref, name)
	if err != nil {
		return nil, err
	}
	defer c.Remove(context.WithoutCancel(ctx))
	rc, err := c.Export(ctx)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return rootfs.Load(rc, tmp)
}

// runProbes exercises a running container. wrap, when set, turns an exec
// probe into the command actually run and the user to run it as.
// target is a running image that probes can reach.
type target interface {
	SortedPorts() []string
	Addr(port string) string
	Exec(ctx context.Context, user string, argv []string, timeout time.Duration) (int, []byte, error)
	Wait(ctx context.Context, d time.Duration) int
}

func runProbes(ctx context.Context, c target, o Options, wrap func(int, []string) ([]string, string)) []probe.Result {
	var out []probe.Result
	began := time.Now()
	h := probe.HTTP{Timeout: o.ProbeTimeout}
	if !o.NoHTTP {
		for _, port := range c.SortedPorts() {
			var queue []string
			seen := map[string]bool{}
			for _, p := range o.HTTPPaths {
				if !strings.HasPrefix(p, "/") {
					p = "/" + p
				}
				if !seen[p] {
					seen[p] = true
					queue = append(queue, p)
				}
			}
			for i := 0; i < len(queue); i++ {
				r := h.Get(ctx, "GET "+port+" "+queue[i], c.Addr(port), queue[i])
				out = append(out, r)
				for _, l := range r.Links {
					if len(queue) < len(o.HTTPPaths)+o.Crawl && !seen[l] {
						seen[l] = true
						queue = append(queue, l)
					}
				}
			}
		}
	}
	for i, cmd := range o.Exec {
		argv, user := cmd, ""
		if wrap != nil {
			argv, user = wrap(i, cmd)
		}
		code, output, err := c.Exec(ctx, user, argv, o.ProbeTimeout+time.Minute)
		out = append(out, probe.Output("exec", strings.Join(cmd, " "), code, output, err))
	}
	if o.ProbeScript != "" {
		out = append(out, runScript(ctx, c, o))
	}
	probed := len(out) > 0
	remaining := o.Duration - time.Since(began)
	if !probed && o.Duration == 0 {
		remaining = 30 * time.Second // a batch job: give it time to finish
	}
	if remaining > 0 {
		code := c.Wait(ctx, remaining)
		switch {
		case probed || ctx.Err() != nil:
		case code >= 0:
			out = append(out, probe.Result{Kind: "main", Name: "main process", ExitCode: code})
		case o.Duration > 0:
			// Asked to watch an application without probes for a while:
			// that it kept running is what can be compared.
			out = append(out, probe.Result{Kind: "main", Name: "main process", Running: true, Output: "still running after " + o.Duration.String()})
		}
	}
	return out
}

// runScript runs the --probe-script on the host with the published ports
// in its environment.
func runScript(ctx context.Context, c target, o Options) probe.Result {
	ctx, cancel := context.WithTimeout(ctx, o.ProbeTimeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.ProbeScript)
	cmd.Env = append(os.Environ(), "SHIPSHAPE_PROBE_HOST=127.0.0.1")
	for i, port := range c.SortedPorts() {
		addr := c.Addr(port)
		num := strings.SplitN(port, "/", 2)[0]
		cmd.Env = append(cmd.Env, "SHIPSHAPE_PROBE_ADDR_"+num+"="+addr)
		if i == 0 {
			cmd.Env = append(cmd.Env, "SHIPSHAPE_PROBE_URL=http://"+addr)
		}
	}
	out, err := cmd.Output()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code, err = ee.ExitCode(), nil
	}
	return probe.Output("script", o.ProbeScript, code, out, err)
}

func readReports(ctx context.Context, c *runner.Container, execs int) ([]*sensor.Report, error) {
	var reps []*sensor.Report
	for i := -1; i < execs; i++ {
		p := reportPath
		if i >= 0 {
			p = fmt.Sprintf("/.shipshape-exec-%d.json", i)
		}
		b, err := c.ReadFile(ctx, p, maxReport)
		if err != nil {
			if i >= 0 {
				continue // the exec probe never ran
			}
			return nil, fmt.Errorf("the sensor wrote no report: %w", err)
		}
		var r sensor.Report
		if err := json.Unmarshal(b, &r); err != nil {
			return nil, fmt.Errorf("sensor report %s: %w", p, err)
		}
		if r.Error != "" && len(r.Touched) == 0 {
			return nil, fmt.Errorf("sensor: %s", r.Error)
		}
		reps = append(reps, &r)
	}
	return reps, nil
}

func verify(ctx context.Context, cli *client.Client, o Options, ref string, ports []string, user string, before []probe.Result, id string, seccomp []byte) ([]probe.Result, string, error) {
	// Probe exactly the paths the traced run probed, crawled ones included.
	o.Crawl, o.HTTPPaths = 0, probedPaths(before)
	spec := runner.Spec{Image: ref, Name: "shipshape-slim-verify-" + id, Ports: ports}
	if seccomp != nil {
		spec.SecurityOpt = []string{"seccomp=" + string(seccomp)}
	}
	c, err := runner.Start(ctx, cli, spec)
	if err != nil {
		return nil, "", err
	}
	defer c.Remove(context.WithoutCancel(ctx))
	after := runProbes(ctx, c, o, func(_ int, cmd []string) ([]string, string) { return cmd, user })
	// Only the probes matter here; an app that is PID 1 often ignores SIGTERM.
	c.Stop(context.WithoutCancel(ctx), time.Second)
	return after, c.Logs(context.WithoutCancel(ctx)), nil
}

// countable reports whether an entry counts as a file of the image.
func countable(e *rootfs.Entry) bool {
	if e == nil || e.Path == "/.dockerenv" || strings.HasPrefix(e.Path, "/proc/") || strings.HasPrefix(e.Path, "/sys/") || strings.HasPrefix(e.Path, "/dev/") {
		return false
	}
	return e.Header.Typeflag == tar.TypeReg || e.Header.Typeflag == tar.TypeSymlink
}

func excluded(p string, prefixes []string) bool {
	for _, x := range prefixes {
		x = path.Clean("/" + x)
		if p == x || strings.HasPrefix(p, x+"/") {
			return true
		}
	}
	return false
}

func tcpPorts(set map[string]struct{}) []string {
	var out []string
	for p := range set {
		if strings.HasSuffix(p, "/tcp") || !strings.Contains(p, "/") {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

func hasEnv(env []string, key string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

func dedupe(v []string) []string {
	m := map[string]bool{}
	var out []string
	for _, s := range v {
		if !m[s] {
			m[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

func randomID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}
