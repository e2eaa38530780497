package imageout

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/shipshape-dev/shipshape/internal/image"
)

// TestRoundTrip writes an image to an archive and a layout, opens both with
// shipshape's reader, converts back with ToV1 and checks the result.
func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	src, err := random.Image(2048, 3)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, dest := range []string{"docker-archive:" + filepath.Join(dir, "a.tar") + ":app:1", "oci:" + filepath.Join(dir, "layout") + ":v1"} {
		where, err := Write(ctx, src, dest, Options{})
		if err != nil {
			t.Fatalf("Write(%s): %v", dest, err)
		}
		img, err := image.Open(ctx, where, image.Options{TempDir: t.TempDir()})
		if err != nil {
			t.Fatalf("Open(%s): %v", where, err)
		}
		if len(img.Layers) != 3 {
			t.Errorf("%s: %d layers", where, len(img.Layers))
		}
		back, err := ToV1(ctx, img)
		if err != nil {
			t.Fatal(err)
		}
		again := filepath.Join(dir, "again-"+filepath.Base(img.Layers[0].DiffID.Hex)+".tar")
		if _, err := Write(ctx, back, "docker-archive:"+again, Options{}); err != nil {
			t.Fatalf("writing the converted image: %v", err)
		}
		reread, err := image.Open(ctx, "docker-archive:"+again, image.Options{TempDir: t.TempDir()})
		if err != nil {
			t.Fatalf("reopening the converted image: %v", err)
		}
		reread.Close()
		wantCfg, _ := src.ConfigFile()
		gotCfg, _ := back.ConfigFile()
		for i := range wantCfg.RootFS.DiffIDs {
			if wantCfg.RootFS.DiffIDs[i] != gotCfg.RootFS.DiffIDs[i] {
				t.Errorf("%s: diffID %d changed", where, i)
			}
		}
		img.Close()
	}
	if _, err := os.Stat(filepath.Join(dir, "layout", "index.json")); err != nil {
		t.Error(err)
	}
}

func TestInterruptedArchiveKeepsThePreviousFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.tar")
	if err := os.WriteFile(p, []byte("the last good archive"), 0o644); err != nil {
		t.Fatal(err)
	}
	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // Ctrl-C
	if _, err := Write(ctx, img, "docker-archive:"+p, Options{}); err == nil {
		t.Fatal("an interrupted write succeeded")
	}
	if b, _ := os.ReadFile(p); string(b) != "the last good archive" {
		t.Errorf("the previous archive was overwritten (%d bytes)", len(b))
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary files left: %v", ents)
	}
	if _, err := Write(context.Background(), img, "docker-archive:"+p, Options{}); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(p); st.Size() < 2048 {
		t.Errorf("archive not written: %d bytes", st.Size())
	}
}

func TestInterruptedLayoutLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "layout")
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Write(ctx, img, "oci:"+p+":v1", Options{}); err == nil {
		t.Fatal("an interrupted write succeeded")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("an interrupted write left %v", ents)
	}
	if _, err := Write(context.Background(), img, "oci:"+p+":v1", Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p, "index.json")); err != nil {
		t.Errorf("layout not written: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("temporary directories left: %v", ents)
	}
	// Appending to the existing layout still works.
	if _, err := Write(context.Background(), img, "oci:"+p+":v2", Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestDerivedName(t *testing.T) {
	for _, tt := range []struct {
		ref  string
		tags []string
		want string
	}{
		{"app:1.0", nil, "app.slim:1.0"},
		{"docker-daemon:registry.example:5000/team/app:2", nil, "registry.example:5000/team/app.slim:2"},
		{"docker://registry.example/app@sha256:" + strings.Repeat("a", 64), nil, "registry.example/app.slim:latest"},
		{"docker-archive:/tmp/app.tar", []string{"example.com/app:3"}, "example.com/app.slim:3"},
		{"docker-archive:/tmp/app.tar:myapp:4", nil, "myapp.slim:4"},
		{"oci:/tmp/My_Layout", nil, "shipshape.local/my_layout.slim:latest"},
		{"sha256:" + strings.Repeat("b", 64), nil, "shipshape.local/image.slim:latest"},
	} {
		if got := DerivedName(tt.ref, tt.tags, "slim"); got != tt.want {
			t.Errorf("DerivedName(%q, %v) = %q, want %q", tt.ref, tt.tags, got, tt.want)
		}
	}
}
