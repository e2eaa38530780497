package pending

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/shipshape-dev/shipshape/internal/archive"
	"github.com/shipshape-dev/shipshape/internal/atomicfile"
)

// basesFile holds what registries said about base image tags, recorded by
// `db update --for IMAGE`: which builds each tag pointed to and when.
const basesFile = "bases.json"

// maxBuildsPerTag bounds the builds kept per tag.
const maxBuildsPerTag = 100

// Build is one build a base image tag pointed to.
type Build struct {
	Digest         string    `json:"digest"`
	PlatformDigest string    `json:"platformDigest,omitempty"`
	Created        time.Time `json:"created,omitzero"`
	// Seen is when shipshape saw the tag point to it (first time).
	Seen time.Time `json:"seen"`
}

// BaseRecords maps "NAME:TAG platform" to the builds seen, oldest first.
type BaseRecords map[string][]Build

func recordKey(name, platform string) string { return name + " " + platform }

// LoadBaseRecords reads the records of the database dir (empty when none).
func LoadBaseRecords(dir string) (BaseRecords, error) {
	p := filepath.Join(dir, archive.Subdir, basesFile)
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return BaseRecords{}, nil
	}
	if err != nil {
		return nil, err
	}
	var r BaseRecords
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return r, nil
}

// add records that the tag points to the build now; false when it was
// known.
func (r BaseRecords) add(name, platform string, b Build) bool {
	k := recordKey(name, platform)
	for _, old := range r[k] {
		if old.Digest == b.Digest {
			return false
		}
	}
	r[k] = append(r[k], b)
	if len(r[k]) > maxBuildsPerTag {
		r[k] = r[k][len(r[k])-maxBuildsPerTag:]
	}
	return true
}

// newerThan counts the builds recorded for the tag that are not the base
// build and were created after it (seen after it, when creation times are
// unknown).
func (r BaseRecords) newerThan(name, platform string, base Build) int {
	n := 0
	for _, b := range r[recordKey(name, platform)] {
		if b.Digest == base.Digest || (base.PlatformDigest != "" && b.PlatformDigest == base.PlatformDigest) {
			continue
		}
		switch {
		case !b.Created.IsZero() && !base.Created.IsZero():
			if b.Created.After(base.Created) {
				n++
			}
		default:
			n++
		}
	}
	return n
}

// latest is the newest build recorded for the tag.
func (r BaseRecords) latest(name, platform string) (Build, bool) {
	bs := r[recordKey(name, platform)]
	if len(bs) == 0 {
		return Build{}, false
	}
	// The last one seen; records are kept in the order seen.
	best := bs[0]
	for _, b := range bs[1:] {
		if !b.Seen.Before(best.Seen) {
			best = b
		}
	}
	return best, true
}

// RecordBase adds what a scan's freshness section says about the base
// image's tag to the records of the database dir (for offline scans and
// for counting rebuilds). It returns whether a new build was recorded.
func RecordBase(dir string, rep *Report, now time.Time) (bool, error) {
	b := rep.Base
	if b.Status != "ran" || b.CurrentDigest == "" {
		return false, nil
	}
	r, err := LoadBaseRecords(dir)
	if err != nil {
		return false, err
	}
	added := r.add(b.tagName(), b.Platform, Build{Digest: b.CurrentDigest, PlatformDigest: b.CurrentPlatformDigest, Created: b.CurrentCreated, Seen: now.UTC()})
	if !added {
		return false, nil
	}
	body, err := json.MarshalIndent(r, "", " ")
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(filepath.Join(dir, archive.Subdir), 0o755); err != nil {
		return false, err
	}
	return true, atomicfile.WriteFile(filepath.Join(dir, archive.Subdir, basesFile), body, 0o644)
}
