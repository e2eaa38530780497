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

	"github.com/shipshape-dev/shipshape/internal/image"
	"github.com/shipshape-dev/shipshape/internal/imageout"
	"github.com/shipshape-dev/shipshape/internal/slim/build"
	"github.com/shipshape-dev/shipshape/internal/slim/keep"
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
	Tag        string   // load the result into the engine under this name
	Outputs    []string // imageout destinations
	Seccomp    string   // where to write the seccomp profile

	CacheDir   string // results keyed by image digest; built sensors
	TempDir    string
	DockerHost string
	Progress   func(format string, args ...any)
}

// Stats count files and bytes.
type Stats = build.Stats

// Result is what a slim run reports.
type Result struct {
	Source       string              `json:"source"`
	SourceDigest string              `json:"sourceDigest"`
	ImageDigest  string              `json:"imageDigest,omitempty"`
	Outputs      []string            `json:"outputs,omitempty"`
	Before       Stats               `json:"before"`
	After        Stats               `json:"after"`
	Reduction    float64             `json:"reduction"`
	UsedShare    float64             `json:"usedShare"`
	Removed      map[string]Stats    `json:"removedByCategory"`
	KeptBecause  map[string]int      `json:"keptBecause"`
	Touched      int                 `json:"touched"`
	NearMisses   []string            `json:"nearMisses,omitempty"`
	MissingLibs  map[string][]string `json:"missingLibraries,omitempty"`
	Syscalls     []string            `json:"syscalls"`
	Seccomp      string              `json:"seccompProfile,omitempty"`
	Probes       []probe.Result      `json:"probes"`
	Verify       *Verify             `json:"verify,omitempty"`
	// FindingsDelta compares a scan of the original with one of the
	// slimmed image, per practice (filled in by the caller, which owns the
	// analyzers).
	FindingsDelta []FindingDelta     `json:"findingsDelta,omitempty"`
	Seconds       map[string]float64 `json:"seconds"`
}

// Verify is the outcome of probing the slimmed image.
type Verify struct {
	Probes      []probe.Result `json:"probes"`
	Differences []string       `json:"differences,omitempty"`
	OK          bool           `json:"ok"`
}

// FindingDelta is how one practice's findings changed with slimming.
type FindingDelta struct {
	Practice string   `json:"practice"`
	Before   int      `json:"before"`
	After    int      `json:"after"`
	Gone     []string `json:"gone,omitempty"` // titles of findings the slimmed image no longer has
}

// ErrVerify is returned (wrapped) when the slimmed image behaves
// differently from the original.
var ErrVerify = errors.New("the slimmed image does not behave like the original")

const (
	sensorPath = "/.shipshape-sensor/sensor"
	reportPath = "/.shipshape-sensor-report.json"
	maxReport  = 256 << 20
)

// Run slims o.Image.
func Run(ctx context.Context, o Options) (*Result, error) {
	start := time.Now()
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
	cli, err := runner.New(o.DockerHost)
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	cleanup := context.WithoutCancel(ctx)
	id := randomID()

	srcRef, removeSrc, err := ensureInEngine(ctx, cli, o, id)
	if err != nil {
		return nil, err
	}
	defer removeSrc()
	o.Progress("reading the config of %s", o.Image)
	img, err := image.Open(ctx, "docker-daemon:"+srcRef, image.Options{TempDir: o.TempDir, DockerHost: o.DockerHost})
	if err != nil {
		return nil, err
	}
	cfg := img.Config.DeepCopy()
	digest := img.ConfigDigest.String()
	img.Close()
	res := &Result{Source: o.Image, SourceDigest: digest, Seconds: map[string]float64{}, Removed: map[string]Stats{}, KeptBecause: map[string]int{}}

	// The original filesystem, flattened by the engine.
	o.Progress("exporting the filesystem")
	fs, err := exportFS(ctx, cli, srcRef, "shipshape-slim-export-"+id, o.TempDir)
	if err != nil {
		return nil, err
	}
	defer fs.Close()

	argv := append(append([]string{}, cfg.Config.Entrypoint...), cfg.Config.Cmd...)
	if len(argv) == 0 {
		return nil, fmt.Errorf("%s has neither an entrypoint nor a command to run", o.Image)
	}
	ports := tcpPorts(cfg.Config.ExposedPorts)
	user := cfg.Config.User

	// Traced run.
	traceStart := time.Now()
	sargs := append([]string{sensorPath}, o.Sensor.Args...)
	run := append(append([]string{}, sargs...), "run", "--report", reportPath)
	if user != "" {
		run = append(run, "--user", user)
		if !hasEnv(cfg.Config.Env, "HOME") {
			run = append(run, "--set-home")
		}
	}
	run = append(append(run, "--"), argv...)
	o.Progress("running %s under the sensor", o.Image)
	c, err := runner.Start(ctx, cli, runner.Spec{
		Image: srcRef, Name: "shipshape-slim-trace-" + id, Entrypoint: run, User: "0:0",
		CapAdd: []string{"SYS_PTRACE"}, Privileged: o.Privileged,
		Binds: map[string]string{o.Sensor.Path: sensorPath}, Ports: ports,
	})
	if err != nil {
		return nil, err
	}
	defer c.Remove(cleanup)
	wrap := func(i int, cmd []string) ([]string, string) {
		w := append(append([]string{}, sargs...), "exec", "--report", fmt.Sprintf("/.shipshape-exec-%d.json", i))
		if user != "" {
			w = append(w, "--user", user)
			if !hasEnv(cfg.Config.Env, "HOME") {
				w = append(w, "--set-home")
			}
		}
		return append(append(w, "--"), cmd...), "0:0"
	}
	res.Probes = runProbes(ctx, c, o, wrap)
	c.Stop(cleanup, 10*time.Second)
	reports, err := readReports(cleanup, c, len(o.Exec))
	if err != nil {
		if logs := c.Logs(cleanup); logs != "" {
			err = fmt.Errorf("%w\ncontainer output:\n%s", err, logs)
		}
		return nil, err
	}
	res.Seconds["trace"] = time.Since(traceStart).Seconds()

	// Keep set.
	var touched, syscalls []string
	nearMiss := map[string]bool{}
	for _, r := range reports {
		touched = append(touched, r.Touched...)
		syscalls = append(syscalls, r.Syscalls...)
		for _, m := range r.Missing {
			nearMiss[m] = true
		}
	}
	res.Touched = len(dedupe(touched))
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
		return nil, err
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

	// Build.
	buildStart := time.Now()
	o.Progress("writing the slimmed layer (%d paths)", len(kept))
	layerFile, err := os.CreateTemp(o.TempDir, "shipshape-slim-layer-*.tar")
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	defer os.Remove(layerFile.Name())
	st, err := build.WriteLayer(fs, kept, layerFile)
	if cerr := layerFile.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	res.After = st
	if st.Bytes > 0 {
		res.Reduction = float64(res.Before.Bytes) / float64(st.Bytes)
	}
	if res.Before.Bytes > 0 {
		res.UsedShare = float64(st.Bytes) / float64(res.Before.Bytes)
	}
	slimImg, err := build.Image(layerFile.Name(), cfg, o.Image+"@"+digest, time.Now().UTC())
	if err != nil {
		return nil, err
	}
	if d, err := slimImg.ConfigName(); err == nil {
		res.ImageDigest = d.String()
	}
	res.Seconds["build"] = time.Since(buildStart).Seconds()

	// Seccomp profile.
	prof, err := seccomp.New(res.Syscalls).JSON()
	if err != nil {
		return nil, err
	}
	res.Seccomp = o.Seccomp
	if res.Seccomp == "" && o.CacheDir != "" {
		res.Seccomp = filepath.Join(o.CacheDir, "slim", strings.TrimPrefix(digest, "sha256:")+".seccomp.json")
	}
	if res.Seccomp != "" {
		if err := writeFile(res.Seccomp, prof); err != nil {
			return nil, err
		}
	}

	// Verify, then publish.
	verifyTag := "shipshape-slim-verify-" + id + ":latest"
	if _, err := imageout.Write(ctx, slimImg, "docker-daemon:"+verifyTag, imageout.Options{}); err != nil {
		return nil, err
	}
	defer cli.ImageRemove(cleanup, verifyTag, client.ImageRemoveOptions{Force: true})
	if !o.NoVerify {
		verifyStart := time.Now()
		o.Progress("verifying the slimmed image")
		v, err := verify(ctx, cli, o, verifyTag, ports, user, res.Probes, id)
		res.Seconds["verify"] = time.Since(verifyStart).Seconds()
		if err != nil {
			return res, err
		}
		res.Verify = v
		if !v.OK {
			res.Seconds["total"] = time.Since(start).Seconds()
			return res, fmt.Errorf("%w; the original image is unchanged and nothing was written:\n  %s", ErrVerify, strings.Join(v.Differences, "\n  "))
		}
	}
	if o.Tag != "" {
		w, err := imageout.Write(ctx, slimImg, "docker-daemon:"+o.Tag, imageout.Options{})
		if err != nil {
			return res, err
		}
		res.Outputs = append(res.Outputs, w)
	}
	for _, dest := range o.Outputs {
		w, err := imageout.Write(ctx, slimImg, dest, imageout.Options{})
		if err != nil {
			return res, err
		}
		res.Outputs = append(res.Outputs, w)
	}
	res.Seconds["total"] = time.Since(start).Seconds()
	if o.CacheDir != "" {
		h, err := v1.NewHash(digest)
		if err != nil {
			return res, fmt.Errorf("slim record: %w", err)
		}
		rec := record.Record{
			SourceDigest: digest, Before: record.Stats(res.Before), After: record.Stats(res.After), UsedShare: res.UsedShare,
			Verified: res.Verify != nil && res.Verify.OK, ImageDigest: res.ImageDigest, Created: time.Now().UTC(),
		}
		if err := record.Save(o.CacheDir, h, rec); err != nil {
			return res, err
		}
	}
	return res, nil
}

// ensureInEngine returns a reference the engine can run, loading images
// given in another transport into the engine under a temporary name.
func ensureInEngine(ctx context.Context, cli *client.Client, o Options, id string) (string, func(), error) {
	ref := strings.TrimPrefix(o.Image, "docker-daemon:")
	if !strings.Contains(ref, ":/") && !strings.HasPrefix(ref, "docker-archive:") && !strings.HasPrefix(ref, "oci:") &&
		!strings.HasPrefix(ref, "oci-archive:") && !strings.HasPrefix(ref, "dir:") {
		insp, err := cli.ImageInspect(ctx, ref)
		if err != nil {
			return "", nil, fmt.Errorf("docker: image %s: %w", ref, err)
		}
		return insp.ID, func() {}, nil
	}
	img, err := image.Open(ctx, o.Image, image.Options{TempDir: o.TempDir, DockerHost: o.DockerHost})
	if err != nil {
		return "", nil, err
	}
	defer img.Close()
	v1img, err := imageout.ToV1(ctx, img)
	if err != nil {
		return "", nil, err
	}
	tag := "shipshape-slim-source-" + id + ":latest"
	if _, err := imageout.Write(ctx, v1img, "docker-daemon:"+tag, imageout.Options{}); err != nil {
		return "", nil, err
	}
	return tag, func() {
		cli.ImageRemove(context.WithoutCancel(ctx), tag, client.ImageRemoveOptions{Force: true})
	}, nil
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
func runProbes(ctx context.Context, c *runner.Container, o Options, wrap func(int, []string) ([]string, string)) []probe.Result {
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
				r := h.Get(ctx, "GET "+port+" "+queue[i], c.Ports[port], queue[i])
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
		if code := c.Wait(ctx, remaining); code >= 0 && !probed {
			out = append(out, probe.Result{Kind: "main", Name: "exit code", ExitCode: code})
		}
	}
	return out
}

// runScript runs the --probe-script on the host with the published ports
// in its environment.
func runScript(ctx context.Context, c *runner.Container, o Options) probe.Result {
	ctx, cancel := context.WithTimeout(ctx, o.ProbeTimeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, o.ProbeScript)
	cmd.Env = append(os.Environ(), "SHIPSHAPE_PROBE_HOST=127.0.0.1")
	for i, port := range c.SortedPorts() {
		addr := c.Ports[port]
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

func verify(ctx context.Context, cli *client.Client, o Options, ref string, ports []string, user string, before []probe.Result, id string) (*Verify, error) {
	// Probe exactly the paths the traced run probed, crawled ones included.
	o.Crawl = 0
	o.HTTPPaths = nil
	seen := map[string]bool{}
	for _, b := range before {
		if b.Kind == "http" {
			p := b.Name[strings.LastIndex(b.Name, " ")+1:]
			if !seen[p] {
				seen[p] = true
				o.HTTPPaths = append(o.HTTPPaths, p)
			}
		}
	}
	c, err := runner.Start(ctx, cli, runner.Spec{Image: ref, Name: "shipshape-slim-verify-" + id, Ports: ports})
	if err != nil {
		return nil, err
	}
	defer c.Remove(context.WithoutCancel(ctx))
	after := runProbes(ctx, c, o, func(_ int, cmd []string) ([]string, string) { return cmd, user })
	c.Stop(context.WithoutCancel(ctx), 10*time.Second)
	v := &Verify{Probes: after, Differences: probe.Compare(before, after)}
	if len(v.Differences) > 0 {
		if logs := c.Logs(context.WithoutCancel(ctx)); logs != "" {
			v.Differences = append(v.Differences, "slimmed container output: "+logs)
		}
	}
	v.OK = len(v.Differences) == 0
	return v, nil
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

func writeFile(p string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, b, 0o644)
}
