// Package strip writes a copy of an image without chosen files and config
// values: it removes files from every layer that carries them, removes or
// redacts Env entries, labels and history values, and keeps the config's
// diffIDs, history and the manifest consistent with the new layers.
package strip

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/shipshape-dev/shipshape/internal/fstree"
)

// Redacted replaces a removed value in labels and history lines.
const Redacted = "<redacted>"

// Plan says what to take out of an image.
type Plan struct {
	// Files maps a 1-based layer index to the absolute paths to remove
	// from that layer.
	Files map[int][]string
	// Env lists indexes into Config.Env of entries to remove.
	Env []int
	// Labels lists label keys whose values are replaced by Redacted.
	Labels []string
	// Values are secret strings replaced by Redacted wherever they appear
	// in history lines (build-args, ENV and RUN instructions).
	Values []string
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool {
	return len(p.Files) == 0 && len(p.Env) == 0 && len(p.Labels) == 0 && len(p.Values) == 0
}

// AddFile adds a file to remove from a layer.
func (p *Plan) AddFile(layer int, path string) {
	if p.Files == nil {
		p.Files = map[int][]string{}
	}
	if !slices.Contains(p.Files[layer], path) {
		p.Files[layer] = append(p.Files[layer], path)
	}
}

// Result describes what Apply changed.
type Result struct {
	// Removed lists, per layer, the entries taken out of it.
	Removed map[int][]string
	// Rewritten counts the layers that were written anew.
	Rewritten int
	// EnvRemoved lists the names of the Env entries removed.
	EnvRemoved []string
	// LabelsRedacted lists the labels whose values were replaced.
	LabelsRedacted []string
	// HistoryRedacted lists the history entries that were changed.
	HistoryRedacted []int
}

// Apply returns img with plan applied. New layers are written to files in
// tmpDir, which must outlive the returned image's use.
func Apply(ctx context.Context, img v1.Image, plan *Plan, tmpDir string) (v1.Image, *Result, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, nil, fmt.Errorf("layers: %w", err)
	}
	res := &Result{Removed: map[int][]string{}}
	var adds []mutate.Addendum
	diffIDs := make([]v1.Hash, 0, len(layers))
	for i, l := range layers {
		idx := i + 1
		if rm := plan.Files[idx]; len(rm) > 0 {
			nl, removed, err := rewriteLayer(ctx, l, rm, filepath.Join(tmpDir, fmt.Sprintf("layer-%d.tar", idx)))
			if err != nil {
				return nil, nil, fmt.Errorf("layer %d: %w", idx, err)
			}
			if len(removed) > 0 {
				l = nl
				res.Removed[idx] = removed
				res.Rewritten++
			}
		}
		d, err := l.DiffID()
		if err != nil {
			return nil, nil, fmt.Errorf("layer %d: diffID: %w", idx, err)
		}
		diffIDs = append(diffIDs, d)
		adds = append(adds, mutate.Addendum{Layer: l})
	}
	out, err := mutate.Append(empty.Image, adds...)
	if err != nil {
		return nil, nil, err
	}
	cf = cf.DeepCopy()
	cf.RootFS.Type = "layers"
	cf.RootFS.DiffIDs = diffIDs
	redactConfig(cf, plan, res)
	out, err = mutate.ConfigFile(out, cf)
	if err != nil {
		return nil, nil, err
	}
	return out, res, nil
}

func redactConfig(cf *v1.ConfigFile, plan *Plan, res *Result) {
	if len(plan.Env) > 0 {
		drop := map[int]bool{}
		for _, i := range plan.Env {
			drop[i] = true
		}
		var env []string
		for i, kv := range cf.Config.Env {
			if drop[i] {
				k, _, _ := strings.Cut(kv, "=")
				res.EnvRemoved = append(res.EnvRemoved, k)
				continue
			}
			env = append(env, kv)
		}
		cf.Config.Env = env
	}
	for _, k := range plan.Labels {
		if _, ok := cf.Config.Labels[k]; ok {
			cf.Config.Labels[k] = Redacted
			res.LabelsRedacted = append(res.LabelsRedacted, k)
		}
	}
	// Longest first, so that a value containing another is replaced whole.
	vals := slices.Clone(plan.Values)
	sort.Slice(vals, func(i, j int) bool { return len(vals[i]) > len(vals[j]) })
	for i := range cf.History {
		line := cf.History[i].CreatedBy
		for _, v := range vals {
			if len(v) >= 4 {
				line = strings.ReplaceAll(line, v, Redacted)
			}
		}
		if line != cf.History[i].CreatedBy {
			cf.History[i].CreatedBy = line
			res.HistoryRedacted = append(res.HistoryRedacted, i)
		}
	}
}

// rewriteLayer copies l's tar to file without the entries at paths (and
// hard links to them), and returns the new layer.
func rewriteLayer(ctx context.Context, l v1.Layer, paths []string, file string) (v1.Layer, []string, error) {
	rm := map[string]bool{}
	for _, p := range paths {
		rm[p] = true
	}
	rc, err := l.Uncompressed()
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	f, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, nil, err
	}
	var removed []string
	err = func() error {
		tr := tar.NewReader(rc)
		tw := tar.NewWriter(f)
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return fmt.Errorf("reading: %w", err)
			}
			p, _ := fstree.CleanPath(h.Name)
			if rm[p] && h.Typeflag != tar.TypeDir {
				removed = append(removed, p)
				continue
			}
			if h.Typeflag == tar.TypeLink {
				if t, _ := fstree.CleanPath(h.Linkname); rm[t] {
					removed = append(removed, p)
					continue
				}
			}
			if err := tw.WriteHeader(h); err != nil {
				return fmt.Errorf("writing %s: %w", h.Name, err)
			}
			if _, err := io.Copy(tw, tr); err != nil {
				return fmt.Errorf("copying %s: %w", h.Name, err)
			}
		}
		return tw.Close()
	}()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, nil, err
	}
	nl, err := tarball.LayerFromFile(file)
	if err != nil {
		return nil, nil, err
	}
	return nl, removed, nil
}

var reField = regexp.MustCompile(`^(Env|Labels|History|Annotations)\[("(?:[^"\\]|\\.)*"|\d+)\]`)

// ParseField splits a finding's config field ("Env[3]", `Labels["k"]`,
// `History[4].buildArg["A"]`) into its kind and index or key.
func ParseField(field string) (kind string, index int, key string, ok bool) {
	m := reField.FindStringSubmatch(field)
	if m == nil {
		return "", 0, "", false
	}
	if strings.HasPrefix(m[2], `"`) {
		k, err := strconv.Unquote(m[2])
		if err != nil {
			return "", 0, "", false
		}
		return m[1], -1, k, true
	}
	n, err := strconv.Atoi(m[2])
	if err != nil {
		return "", 0, "", false
	}
	return m[1], n, "", true
}
