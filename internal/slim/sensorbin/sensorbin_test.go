package sensorbin

import (
	"context"
	"os"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/testenv"
)

func TestLocateBuildsAStaticSensor(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the sensor")
	}
	testenv.Binary(t, "go")
	dir := t.TempDir()
	b, err := Locate(context.Background(), Options{CacheDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := Static(b.Path); !ok || err != nil {
		t.Errorf("%s: static %v, %v", b.Path, ok, err)
	}
	// An explicit sensor must be static.
	self, _ := os.Executable()
	if ok, _ := Static(self); !ok {
		if _, err := Locate(context.Background(), Options{Path: self}); err == nil {
			t.Errorf("the dynamically linked %s was accepted as a sensor", self)
		}
	}
	if _, err := Locate(context.Background(), Options{Path: b.Path}); err != nil {
		t.Errorf("explicit sensor: %v", err)
	}
}
