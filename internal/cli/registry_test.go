package cli_test

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/shipshape-dev/shipshape/internal/testenv"
)

// platformImage is a random image whose config names a platform.
func platformImage(t *testing.T, arch string, layers int64) v1.Image {
	t.Helper()
	img, err := random.Image(4096, layers)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = "linux", arch
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestScanRegistry(t *testing.T) {
	host := testenv.Registry(t)
	amd := platformImage(t, "amd64", 2)
	arm := platformImage(t, "arm64", 3)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
	)
	multi, err := name.ParseReference(host+"/team/multi:1.0", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(multi, idx); err != nil {
		t.Fatalf("push index: %v", err)
	}
	single, _ := name.ParseReference(host+"/team/single:2", name.Insecure)
	if err := remote.Write(single, amd); err != nil {
		t.Fatalf("push image: %v", err)
	}
	amdDigest, _ := amd.Digest()
	armDigest, _ := arm.Digest()

	tests := []struct {
		name, ref  string
		flags      []string
		wantArch   string
		wantLayers int
		wantDigest v1.Hash
	}{
		{"tag", "docker://" + host + "/team/single:2", nil, "amd64", 2, amdDigest},
		{"digest", "docker://" + host + "/team/single@" + amdDigest.String(), nil, "amd64", 2, amdDigest},
		{"bare name", host + "/team/single:2", nil, "amd64", 2, amdDigest},
		{"index, host platform", "docker://" + host + "/team/multi:1.0", []string{"--platform", "linux/amd64"}, "amd64", 2, amdDigest},
		{"index, other platform", "docker://" + host + "/team/multi:1.0", []string{"--platform", "linux/arm64"}, "arm64", 3, armDigest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := scanJSON(t, tt.ref, append([]string{"--insecure"}, tt.flags...)...)
			if rep.Image.Architecture != tt.wantArch || len(rep.Image.Layers) != tt.wantLayers || rep.Image.Digest != tt.wantDigest.String() {
				t.Errorf("got %s, %d layers, digest %s; want %s, %d, %s", rep.Image.Architecture, len(rep.Image.Layers), rep.Image.Digest, tt.wantArch, tt.wantLayers, tt.wantDigest)
			}
			for _, l := range rep.Image.Layers {
				if l.Files == 0 || l.Digest == "" {
					t.Errorf("layer %d: %d files, digest %q", l.Index, l.Files, l.Digest)
				}
			}
		})
	}

	r := run(t, "scan", "--insecure", "--cache-dir", t.TempDir(), "docker://"+host+"/team/missing:1")
	if r.code != 2 || !strings.Contains(r.stderr, "team/missing") {
		t.Errorf("missing image: exit %d, stderr %q", r.code, r.stderr)
	}
	r = run(t, "scan", "--insecure", "--platform", "windows/arm", "--cache-dir", t.TempDir(), "docker://"+host+"/team/multi:1.0")
	if r.code != 2 || !strings.Contains(r.stderr, "windows/arm") {
		t.Errorf("unknown platform: exit %d, stderr %q", r.code, r.stderr)
	}
}
