package cache

import "context"

// Store is where layer results are kept: the directory Cache, or a store
// shared by a fleet of processes (internal/cache/rediscache) that usually
// keeps a directory Cache as its first tier. Get misses are never errors.
type Store interface {
	Get(key string) ([]byte, bool)
	Put(key string, value []byte) error
}

// Claimer is a Store shared by several processes that lets one of them
// analyse a missing layer while the others wait for its result, so that a
// layer is analysed once per fleet rather than once per process.
type Claimer interface {
	// Claim is called after Get missed. It either returns the entry that
	// another process stored meanwhile (ok, after waiting while that
	// process held the key), or gives the key to the caller, who must
	// call release once done (after Put, or on failure). When the other
	// holder dies or fails, the key passes to a waiter. Claim never
	// fails: a store that cannot be reached gives the key at once.
	Claim(ctx context.Context, key string) (value []byte, ok bool, release func())
}

var _ Store = (*Cache)(nil)
