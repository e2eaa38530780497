// Package rediscache is the layer cache a fleet of shipshape servers
// shares through Redis: the facts and file index of an analysed layer,
// keyed like the directory cache (layer diffID, blob digest, analyzer
// versions), so that a base layer is analysed once per fleet instead of
// once per replica.
//
// A Store has two tiers: the replica's directory cache first, then Redis.
// Entries are zstd-compressed and size-capped (MaxEntryBytes): a layer
// whose index is larger stays in the local tier only, and large blobs
// never reach Redis (an entry holds facts, never file contents). A miss
// is claimed in Redis (SET NX with a short expiry the holder renews), so
// replicas that need the same layer at the same time wait for the one
// analysing it rather than all reading it; a holder that dies lets its
// claim expire and a waiter takes over.
//
// Redis being down is never an error: the Store then behaves like the
// local tier alone, and go-redis reconnects when Redis is back.
package rediscache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/redis/go-redis/v9"

	"github.com/shipshape-dev/shipshape/internal/cache"
)

// Defaults of Options.
const (
	DefaultMaxEntryBytes = 4 << 20
	DefaultTTL           = 7 * 24 * time.Hour
	DefaultClaimTTL      = 15 * time.Second
	DefaultPrefix        = "shipshape:layer:"
)

// maxDecodedBytes bounds an entry read back from Redis once decompressed.
const maxDecodedBytes = 128 << 20

// Options configure a Store.
type Options struct {
	// Client is the fleet's Redis.
	Client redis.UniversalClient
	// Local is the first tier (nil: none).
	Local cache.Store
	// MaxEntryBytes bounds an entry in Redis, compressed; larger ones
	// stay local.
	MaxEntryBytes int
	// TTL is how long an entry stays in Redis after it was written.
	TTL time.Duration
	// ClaimTTL is how long a claim on a missing layer lasts without its
	// holder renewing it: how long waiters wait for a holder that died.
	ClaimTTL time.Duration
	// OpTimeout bounds one Redis command (default 2s).
	OpTimeout time.Duration
	// Prefix starts every key (default DefaultPrefix).
	Prefix string
	// Logger receives warnings (nil: discarded).
	Logger *slog.Logger
}

// Stats count what a Store did.
type Stats struct {
	// LocalHits were answered by the local tier, SharedHits by Redis
	// (after a wait, Waited of them).
	LocalHits, SharedHits, Waited int64
	// Misses are keys given to this process to analyse (claimed).
	Misses int64
	// Stored entries went to Redis; TooLarge stayed local.
	Stored, TooLarge int64
	// Errors are Redis commands that failed (the Store then works as its
	// local tier).
	Errors int64
}

// Store is the two-tier cache. It is safe for concurrent use.
type Store struct {
	o   Options
	enc *zstd.Encoder
	dec *zstd.Decoder

	localHits, sharedHits, waited, misses, stored, tooLarge, errs atomic.Int64
}

var (
	_ cache.Store   = (*Store)(nil)
	_ cache.Claimer = (*Store)(nil)
)

// New returns a Store over the client.
func New(o Options) (*Store, error) {
	if o.Client == nil {
		return nil, errors.New("rediscache: no Redis client")
	}
	if o.MaxEntryBytes <= 0 {
		o.MaxEntryBytes = DefaultMaxEntryBytes
	}
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.ClaimTTL <= 0 {
		o.ClaimTTL = DefaultClaimTTL
	}
	if o.OpTimeout <= 0 {
		o.OpTimeout = 2 * time.Second
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxDecodedBytes))
	if err != nil {
		return nil, err
	}
	return &Store{o: o, enc: enc, dec: dec}, nil
}

// Stats returns the counts so far.
func (s *Store) Stats() Stats {
	return Stats{
		LocalHits: s.localHits.Load(), SharedHits: s.sharedHits.Load(), Waited: s.waited.Load(),
		Misses: s.misses.Load(), Stored: s.stored.Load(), TooLarge: s.tooLarge.Load(), Errors: s.errs.Load(),
	}
}

func (s *Store) entryKey(key string) string { return s.o.Prefix + key }
func (s *Store) claimKey(key string) string { return s.o.Prefix + "claim:" + key }

// bigKey marks a layer whose entry is over MaxEntryBytes: every replica
// analyses it itself, at once, instead of waiting in turn for claims that
// never bring an entry.
func (s *Store) bigKey(key string) string { return s.o.Prefix + "big:" + key }

func (s *Store) fail(op string, err error) {
	s.errs.Add(1)
	s.o.Logger.Warn("shared layer cache (Redis): "+op+" failed; using the local cache", "error", err)
}

// fetch reads an entry from Redis.
func (s *Store) fetch(ctx context.Context, key string) ([]byte, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.o.OpTimeout)
	defer cancel()
	b, err := s.o.Client.Get(ctx, s.entryKey(key)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	v, err := s.dec.DecodeAll(b, nil)
	if err != nil || len(v) > maxDecodedBytes {
		// A damaged entry is a miss; the next Put replaces it.
		return nil, false, nil
	}
	return v, true, nil
}

// Get looks in the local tier, then in Redis (copying a Redis hit to the
// local tier).
func (s *Store) Get(key string) ([]byte, bool) {
	if s.o.Local != nil {
		if b, ok := s.o.Local.Get(key); ok {
			s.localHits.Add(1)
			return b, true
		}
	}
	b, ok, err := s.fetch(context.Background(), key)
	if err != nil {
		s.fail("get", err)
		return nil, false
	}
	if !ok {
		return nil, false
	}
	s.sharedHits.Add(1)
	s.keepLocal(key, b)
	return b, true
}

func (s *Store) keepLocal(key string, b []byte) {
	if s.o.Local == nil {
		return
	}
	if err := s.o.Local.Put(key, b); err != nil {
		s.o.Logger.Warn("local layer cache", "error", err)
	}
}

// Put stores the entry locally and, unless it is over MaxEntryBytes
// compressed, in Redis.
func (s *Store) Put(key string, value []byte) error {
	var lerr error
	if s.o.Local != nil {
		lerr = s.o.Local.Put(key, value)
	}
	z := s.enc.EncodeAll(value, nil)
	ctx, cancel := context.WithTimeout(context.Background(), s.o.OpTimeout)
	defer cancel()
	if len(z) > s.o.MaxEntryBytes {
		s.tooLarge.Add(1)
		s.o.Logger.Debug("layer entry too large for the shared cache; kept locally", "bytes", len(z), "max", s.o.MaxEntryBytes)
		if err := s.o.Client.Set(ctx, s.bigKey(key), len(z), s.o.TTL).Err(); err != nil {
			s.fail("put", err)
		}
		return lerr
	}
	if err := s.o.Client.Set(ctx, s.entryKey(key), z, s.o.TTL).Err(); err != nil {
		s.fail("put", err)
		return lerr
	}
	s.stored.Add(1)
	return lerr
}

// renewScript extends a claim its holder still holds; releaseScript
// drops it.
var (
	renewScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`)
	releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)
)

// pollInterval is how often a waiter looks for the entry it waits for.
const pollInterval = 50 * time.Millisecond

// Claim implements cache.Claimer.
func (s *Store) Claim(ctx context.Context, key string) ([]byte, bool, func()) {
	var tok [12]byte
	rand.Read(tok[:])
	token := hex.EncodeToString(tok[:])
	waited := false
	for {
		if s.isBig(ctx, key) {
			s.misses.Add(1)
			return nil, false, func() {}
		}
		cctx, cancel := context.WithTimeout(ctx, s.o.OpTimeout)
		got, err := s.o.Client.SetNX(cctx, s.claimKey(key), token, s.o.ClaimTTL).Result()
		cancel()
		if err != nil {
			if ctx.Err() == nil {
				s.fail("claim", err)
			}
			s.misses.Add(1)
			return nil, false, func() {}
		}
		if got {
			// Someone may have stored it between our Get and the claim.
			if b, ok, _ := s.fetch(ctx, key); ok {
				s.release(token, key)
				s.sharedHits.Add(1)
				s.keepLocal(key, b)
				return b, true, func() {}
			}
			s.misses.Add(1)
			return nil, false, s.hold(token, key)
		}
		// Another process analyses the layer: wait for its entry, or for
		// its claim to end (it failed, died, or the entry is too large).
		waited = true
		for {
			select {
			case <-ctx.Done():
				s.misses.Add(1)
				return nil, false, func() {}
			case <-time.After(pollInterval):
			}
			b, ok, err := s.fetch(ctx, key)
			if ok {
				s.sharedHits.Add(1)
				if waited {
					s.waited.Add(1)
				}
				s.keepLocal(key, b)
				return b, true, func() {}
			}
			if err != nil {
				break
			}
			cctx, cancel := context.WithTimeout(ctx, s.o.OpTimeout)
			n, err := s.o.Client.Exists(cctx, s.claimKey(key)).Result()
			cancel()
			if err != nil || n == 0 {
				break
			}
		}
	}
}

// isBig reports whether the layer's entry is known to be over the cap.
func (s *Store) isBig(ctx context.Context, key string) bool {
	ctx, cancel := context.WithTimeout(ctx, s.o.OpTimeout)
	defer cancel()
	n, err := s.o.Client.Exists(ctx, s.bigKey(key)).Result()
	return err == nil && n > 0
}

// hold renews a claim until the returned release is called.
func (s *Store) hold(token, key string) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(s.o.ClaimTTL / 3)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), s.o.OpTimeout)
				renewScript.Run(ctx, s.o.Client, []string{s.claimKey(key)}, token, s.o.ClaimTTL.Milliseconds())
				cancel()
			}
		}
	}()
	var once atomic.Bool
	return func() {
		if once.Swap(true) {
			return
		}
		close(stop)
		<-done
		s.release(token, key)
	}
}

func (s *Store) release(token, key string) {
	ctx, cancel := context.WithTimeout(context.Background(), s.o.OpTimeout)
	defer cancel()
	releaseScript.Run(ctx, s.o.Client, []string{s.claimKey(key)}, token)
}

// Clear removes every shared entry (SCAN and DEL of the prefix); the
// local tier is left alone.
func (s *Store) Clear(ctx context.Context) error {
	iter := s.o.Client.Scan(ctx, 0, s.o.Prefix+"*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 1000 {
			if err := s.o.Client.Del(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := iter.Err(); err != nil {
		return err
	}
	if len(batch) > 0 {
		return s.o.Client.Del(ctx, batch...).Err()
	}
	return nil
}
