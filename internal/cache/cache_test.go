package cache

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestPutGetConcurrent(t *testing.T) {
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	key := Key("sha256:abc", "walk", "1")
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			val := bytes.Repeat([]byte(fmt.Sprint(i%2)), 1<<16)
			if err := c.Put(key, val); err != nil {
				t.Error(err)
			}
			if got, ok := c.Get(key); ok && len(got) != 1<<16 {
				t.Errorf("torn read: %d bytes", len(got))
			}
		}()
	}
	wg.Wait()
	if _, ok := c.Get(key); !ok {
		t.Fatal("miss after puts")
	}
	if _, ok := c.Get(Key("other")); ok {
		t.Error("hit for a key never stored")
	}
}

func TestCorruptEntryIsAMiss(t *testing.T) {
	c, _ := Open(t.TempDir())
	key := Key("k")
	if err := c.Put(key, []byte("value")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.path(key), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.Get(key); ok {
		t.Error("corrupt entry returned as a hit")
	}
	if err := c.Clear(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(filepath.Join(c.Dir(), "layers")); len(entries) != 0 {
		t.Errorf("Clear left %v", entries)
	}
	var none *Cache
	if _, ok := none.Get(key); ok || none.Put(key, nil) != nil {
		t.Error("nil cache is not a no-op")
	}
}

func TestKeySeparatesParts(t *testing.T) {
	if Key("ab", "c") == Key("a", "bc") {
		t.Error("keys collide across part boundaries")
	}
}
