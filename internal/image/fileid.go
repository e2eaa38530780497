package image

import (
	"encoding/json"
	"os"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/shipshape-dev/shipshape/internal/cache"
)

// A fileID tells one version of a file from another without reading it:
// its device and inode, size, and modification and change times (ns). A
// write, a truncate or a rename over it changes the change time, which no
// unprivileged program can set back (unlike the modification time); this
// is how git and build tools tell an unchanged file. It stands in for the
// file's digest only when it was recorded once the change time had
// settled (see settled).
type fileID struct {
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Size  int64  `json:"size"`
	Mtime int64  `json:"mtime"`
	Ctime int64  `json:"ctime"`
}

// fileIDVersion changes whenever what a fileID holds, or how its entry is
// written, changes.
const fileIDVersion = 1

// settleTime is how long before hashing a file began its change time must
// lie for its fileID to stand in for the digest: longer than the
// filesystem's timestamp granularity (a clock tick), so that a write after
// the hash began cannot leave the change time as it was.
const settleTime = 100 * time.Millisecond

// settled reports whether a file whose fileID is id, hashed from start on,
// can be known by id from now on.
func settled(id fileID, start time.Time) bool {
	return id.Ctime != 0 && id.Ctime <= start.Add(-settleTime).UnixNano()
}

// fileDigestEntry is what the cache holds under a fileID's key.
type fileDigestEntry struct {
	File   fileID `json:"file"`
	Digest string `json:"digest"`
}

func fileIDKey(id fileID) string {
	b, _ := json.Marshal(id) // integers only: cannot fail
	return cache.Key("archive-file", strconv.Itoa(fileIDVersion), string(b))
}

// loadFileDigest returns the digest recorded for the file version id; a
// missing, unreadable or other file's entry is a miss.
func loadFileDigest(s cache.Store, id fileID) (string, bool) {
	b, ok := s.Get(fileIDKey(id))
	if !ok {
		return "", false
	}
	var e fileDigestEntry
	if err := json.Unmarshal(b, &e); err != nil || e.File != id {
		return "", false
	}
	if h, err := v1.NewHash(e.Digest); err != nil || h.Algorithm != "sha256" {
		return "", false
	}
	return e.Digest, true
}

// storeFileDigest records digest for the file version id.
func storeFileDigest(s cache.Store, id fileID, digest string) {
	if b, err := json.Marshal(fileDigestEntry{File: id, Digest: digest}); err == nil {
		// A cache that cannot keep it costs the next open a hash.
		_ = s.Put(fileIDKey(id), b)
	}
}

// unchanged reports whether f is still the file version id.
func unchanged(f *os.File, id fileID) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	now, ok := fileIdentity(fi)
	return ok && now == id
}
