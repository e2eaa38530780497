// Package record keeps the outcome of a "shipshape slim" run in the
// shipshape cache directory, keyed by the source image's config digest, so
// that later scans of the same image can report how much of it the
// application actually used.
package record

import (
	"github.com/shipshape-dev/shipshape/internal/atomicfile"

	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Stats count files and bytes.
type Stats struct {
	Files int   `json:"files"`
	Bytes int64 `json:"bytes"`
}

// Record is what a slim run leaves behind.
type Record struct {
	SourceDigest string    `json:"sourceDigest"`
	ImageDigest  string    `json:"imageDigest,omitempty"`
	Before       Stats     `json:"before"`
	After        Stats     `json:"after"`
	UsedShare    float64   `json:"usedShare"`
	Verified     bool      `json:"verified"`
	Created      time.Time `json:"created"`
	// Used are the files the application opened at run time under the
	// sensor (absolute paths in the image): P5 marks the packages that
	// own one of them "in use".
	Used []string `json:"used,omitempty"`
}

// MaxBytes bounds a record file (a few hundred thousand used paths).
const MaxBytes = 64 << 20

// Path is where the record for an image config digest lives.
func Path(cacheDir string, digest v1.Hash) string {
	return filepath.Join(cacheDir, "slim", digest.Algorithm+"-"+digest.Hex+".json")
}

// Save writes r for digest.
func Save(cacheDir string, digest v1.Hash, r Record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	p := Path(cacheDir, digest)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("slim record: %w", err)
	}
	if err := atomicfile.WriteFile(p, b, 0o600); err != nil {
		return fmt.Errorf("slim record: %w", err)
	}
	return nil
}

// Load reads the record for digest; ok is false when there is none.
func Load(cacheDir string, digest v1.Hash) (r *Record, ok bool, err error) {
	f, err := os.Open(Path(cacheDir, digest))
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("slim record: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxBytes+1))
	if err != nil {
		return nil, false, fmt.Errorf("slim record: %w", err)
	}
	if len(b) > MaxBytes {
		return nil, false, fmt.Errorf("slim record %s: too large", Path(cacheDir, digest))
	}
	r = &Record{}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, false, fmt.Errorf("slim record %s: %w", Path(cacheDir, digest), err)
	}
	return r, true, nil
}
