package rediscache_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/redis/go-redis/v9"

	"github.com/shipshape-dev/shipshape/internal/cache"
	"github.com/shipshape-dev/shipshape/internal/cache/rediscache"
	"github.com/shipshape-dev/shipshape/internal/testenv"
)

func client(t *testing.T, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = -1
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// replica is one process's two-tier store.
func replica(t *testing.T, url string, edit func(*rediscache.Options)) *rediscache.Store {
	t.Helper()
	local, err := cache.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	o := rediscache.Options{Client: client(t, url), Local: local, ClaimTTL: 600 * time.Millisecond, OpTimeout: 500 * time.Millisecond}
	if edit != nil {
		edit(&o)
	}
	s, err := rediscache.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// lookup is what analyze does: Get, then Claim, then analyse and Put.
func lookup(ctx context.Context, s *rediscache.Store, key string, analyse func() []byte) ([]byte, bool) {
	if b, ok := s.Get(key); ok {
		return b, true
	}
	b, ok, release := s.Claim(ctx, key)
	defer release()
	if ok {
		return b, true
	}
	v := analyse()
	s.Put(key, v)
	return v, false
}

// Five replicas, four workers each, ask for the same layers at once:
// each layer is analysed once in all, and everyone gets its facts.
func TestOncePerFleet(t *testing.T) {
	r := testenv.Redis(t)
	var stores []*rediscache.Store
	for range 5 {
		stores = append(stores, replica(t, r.URL, nil))
	}
	keys := []string{cache.Key("base"), cache.Key("app1"), cache.Key("app2")}
	var analysed [3]atomic.Int64
	var wg sync.WaitGroup
	for _, s := range stores {
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i, k := range keys {
					b, _ := lookup(context.Background(), s, k, func() []byte {
						analysed[i].Add(1)
						time.Sleep(100 * time.Millisecond)
						return []byte("facts of " + k)
					})
					if string(b) != "facts of "+k {
						t.Errorf("got %q", b)
					}
				}
			}()
		}
	}
	wg.Wait()
	var misses, hits int64
	for i := range keys {
		if n := analysed[i].Load(); n != 1 {
			t.Errorf("layer %d analysed %d times, want once", i, n)
		}
	}
	for _, s := range stores {
		st := s.Stats()
		misses += st.Misses
		hits += st.LocalHits + st.SharedHits
	}
	if misses != 3 || hits != 5*4*3-3 {
		t.Errorf("misses %d hits %d, want 3 and %d", misses, hits, 5*4*3-3)
	}
	// A second round is answered by each replica's local tier.
	before := stores[0].Stats().LocalHits
	if _, ok := stores[0].Get(keys[0]); !ok || stores[0].Stats().LocalHits != before+1 {
		t.Error("the local tier did not keep a shared hit")
	}
}

// A holder that dies (stops renewing its claim) hands the layer to a
// waiter once the claim expires.
func TestDeadHolder(t *testing.T) {
	r := testenv.Redis(t)
	c := client(t, r.URL)
	key := cache.Key("layer")
	c.Set(context.Background(), rediscache.DefaultPrefix+"claim:"+key, "dead-replica", 500*time.Millisecond)
	s := replica(t, r.URL, nil)
	start := time.Now()
	b, ok, release := s.Claim(context.Background(), key)
	defer release()
	if ok || b != nil {
		t.Fatalf("claim: %q %v", b, ok)
	}
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("took the claim over after %s, want after the dead one's expiry", d)
	}
	// A live holder keeps its claim past the expiry by renewing it.
	time.Sleep(time.Second)
	if v := c.Get(context.Background(), rediscache.DefaultPrefix+"claim:"+key).Val(); v == "" || v == "dead-replica" {
		t.Errorf("claim after 1s of holding: %q", v)
	}
	// A waiter whose context ends gives up.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, ok, rel := replica(t, r.URL, nil).Claim(ctx, key); ok {
		t.Error("waiter got an entry nobody stored")
	} else {
		rel()
	}
}

// Entries over the size cap stay local; Redis never sees them.
func TestSizeCap(t *testing.T) {
	r := testenv.Redis(t)
	s := replica(t, r.URL, func(o *rediscache.Options) { o.MaxEntryBytes = 1024 })
	big := make([]byte, 64<<10)
	rand.Read(big)
	if err := s.Put(cache.Key("big"), big); err != nil {
		t.Fatal(err)
	}
	s.Put(cache.Key("small"), []byte("facts"))
	st := s.Stats()
	if st.TooLarge != 1 || st.Stored != 1 {
		t.Errorf("stats %+v", st)
	}
	if b, ok := s.Get(cache.Key("big")); !ok || !bytes.Equal(b, big) {
		t.Error("the large entry is not in the local tier")
	}
	other := replica(t, r.URL, nil)
	if _, ok := other.Get(cache.Key("big")); ok {
		t.Error("another replica got the large entry")
	}
	if b, ok := other.Get(cache.Key("small")); !ok || string(b) != "facts" {
		t.Errorf("small entry from another replica: %q %v", b, ok)
	}
	for _, k := range client(t, r.URL).Keys(context.Background(), "*").Val() {
		if v := client(t, r.URL).Get(context.Background(), k).Val(); len(v) > 1024 {
			t.Errorf("Redis key %s holds %d bytes", k, len(v))
		}
	}
	// Replicas needing the large layer analyse it at once, each, instead
	// of waiting in turn on claims that bring no entry.
	c := client(t, r.URL)
	c.Set(context.Background(), rediscache.DefaultPrefix+"claim:"+cache.Key("big"), "busy-replica", time.Minute)
	start := time.Now()
	if _, ok, rel := other.Claim(context.Background(), cache.Key("big")); ok || time.Since(start) > time.Second {
		t.Errorf("claim of a layer too large to share: hit %v after %s", ok, time.Since(start))
	} else {
		rel()
	}
}

// With Redis down the store is its local tier; when Redis is back the
// client reconnects.
func TestRedisDown(t *testing.T) {
	r := testenv.Redis(t)
	s := replica(t, r.URL, nil)
	r.Kill()
	if err := s.Put(cache.Key("a"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	if b, ok := s.Get(cache.Key("a")); !ok || string(b) != "x" {
		t.Errorf("local tier with Redis down: %q %v", b, ok)
	}
	if _, ok, rel := s.Claim(context.Background(), cache.Key("b")); ok {
		t.Error("claim with Redis down gave an entry")
	} else {
		rel()
	}
	if s.Stats().Errors == 0 {
		t.Error("no errors counted with Redis down")
	}
	if err := r.Restart(); err != nil {
		t.Fatal(err)
	}
	s.Put(cache.Key("c"), []byte("y"))
	if b, ok := replica(t, r.URL, nil).Get(cache.Key("c")); !ok || string(b) != "y" {
		t.Errorf("after Redis came back: %q %v", b, ok)
	}
	if err := s.Clear(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, ok := replica(t, r.URL, nil).Get(cache.Key("c")); ok {
		t.Error("entry survived Clear")
	}
}

// Hostile or damaged entries in Redis (a zstd bomb, garbage) are misses,
// never a crash or a huge allocation.
func TestHostileEntries(t *testing.T) {
	r := testenv.Redis(t)
	c := client(t, r.URL)
	enc, _ := zstd.NewWriter(nil)
	bomb := enc.EncodeAll(make([]byte, 512<<20), nil) // 512 MiB of zeros in a few KiB
	ctx := context.Background()
	c.Set(ctx, rediscache.DefaultPrefix+cache.Key("bomb"), bomb, 0)
	c.Set(ctx, rediscache.DefaultPrefix+cache.Key("junk"), "not zstd", 0)
	s := replica(t, r.URL, nil)
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, k := range []string{"bomb", "junk"} {
		if b, ok := s.Get(cache.Key(k)); ok {
			t.Errorf("%s entry: a hit of %d bytes", k, len(b))
		}
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapSys) - int64(before.HeapSys); grew > 200<<20 {
		t.Errorf("the bomb grew the heap by %d MiB", grew>>20)
	}
}
