package build

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestImageKeepsTheOriginalsBase(t *testing.T) {
	layer := filepath.Join(t.TempDir(), "layer.tar")
	if err := os.WriteFile(layer, make([]byte, 1024), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		labels     map[string]string
		base       Base
		wantName   string
		wantDigest string
	}{
		{"from annotations", map[string]string{"app": "x"}, Base{Name: "debian:12", Digest: "sha256:aa"}, "debian:12", "sha256:aa"},
		{"label wins", map[string]string{BaseNameKey: "alpine:3.20"}, Base{Name: "debian:12"}, "alpine:3.20", ""},
		{"unknown stays unknown", nil, Base{}, "", ""},
	}
	for _, tt := range tests {
		cfg := &v1.ConfigFile{OS: "linux", Architecture: "amd64"}
		cfg.Config.Labels = tt.labels
		img, err := Image(layer, cfg, "app:1@sha256:bb", time.Unix(1700000000, 0), tt.base)
		if err != nil {
			t.Fatal(err)
		}
		got, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		l := got.Config.Labels
		if l[BaseNameKey] != tt.wantName || l[BaseDigestKey] != tt.wantDigest {
			t.Errorf("%s: labels %v", tt.name, l)
		}
		if tt.labels["app"] != "" && l["app"] != "x" {
			t.Errorf("%s: original labels lost: %v", tt.name, l)
		}
		if cfg.Config.Labels[BaseNameKey] != tt.labels[BaseNameKey] {
			t.Errorf("%s: the original config was changed", tt.name)
		}
		if len(got.History) != 1 || got.History[0].CreatedBy != "shipshape slim app:1@sha256:bb" {
			t.Errorf("%s: history %+v", tt.name, got.History)
		}
	}
}
