package strip

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/validate"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
)

// layer is a v1.Layer of files (uncompressed).
func layer(t *testing.T, files ...imagetest.File) v1.Layer {
	t.Helper()
	b := imagetest.Layer{Files: files}.Tar()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func names(t *testing.T, l v1.Layer) []string {
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out []string
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, h.Name)
	}
}

func TestApply(t *testing.T) {
	base := layer(t, imagetest.Dir("etc/"), imagetest.Reg("etc/os-release", "ID=x\n"))
	leak := layer(t,
		imagetest.Dir("./root/.ssh/"),
		imagetest.Reg("./root/.ssh/id_rsa", "KEY"),
		imagetest.Hardlink("./root/.ssh/id_rsa.bak", "./root/.ssh/id_rsa"),
		imagetest.Reg("./app/.env", "A=1"),
		imagetest.Reg("./app/main", "bin"),
	)
	rm := layer(t, imagetest.Whiteout("root/.ssh/id_rsa"))
	img, err := mutate.Append(empty.Image,
		mutate.Addendum{Layer: base, History: v1.History{CreatedBy: "ADD / "}},
		mutate.Addendum{Layer: leak, History: v1.History{CreatedBy: "COPY . /"}},
		mutate.Addendum{Layer: rm, History: v1.History{CreatedBy: "RUN |1 TOKEN=s3cr3tT0ken /bin/sh -c rm /root/.ssh/id_rsa"}},
	)
	if err != nil {
		t.Fatal(err)
	}
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.Config.Env = []string{"PATH=/bin", "TOKEN=s3cr3tT0ken", "A=b"}
	cf.Config.Labels = map[string]string{"k": "s3cr3tT0ken", "other": "x"}
	img, _ = mutate.ConfigFile(img, cf)

	plan := &Plan{Env: []int{1}, Labels: []string{"k"}, Values: []string{"s3cr3tT0ken"}}
	plan.AddFile(2, "/root/.ssh/id_rsa")
	plan.AddFile(2, "/app/.env")
	out, res, err := Apply(context.Background(), img, plan, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	// Written and read back, the image is consistent: config diffIDs,
	// manifest digests and layer contents agree.
	p := filepath.Join(t.TempDir(), "out.tar")
	if err := tarball.WriteToFile(p, name.MustParseReference("x/y:z").(name.Tag), out); err != nil {
		t.Fatal(err)
	}
	back, err := tarball.ImageFromPath(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Image(back); err != nil {
		t.Fatalf("invalid image: %v", err)
	}
	ls, _ := out.Layers()
	if got := names(t, ls[1]); !slices.Equal(got, []string{"./root/.ssh/", "./app/main"}) {
		t.Errorf("layer 2 = %v", got)
	}
	if !slices.Equal(res.Removed[2], []string{"/root/.ssh/id_rsa", "/root/.ssh/id_rsa.bak", "/app/.env"}) || res.Rewritten != 1 {
		t.Errorf("result %+v", res)
	}
	for i, l := range []v1.Layer{base, rm} {
		od, _ := l.Digest()
		nd, _ := ls[[]int{0, 2}[i]].Digest()
		if od != nd {
			t.Errorf("untouched layer %d rewritten", i)
		}
	}
	ncf, _ := out.ConfigFile()
	if !slices.Equal(ncf.Config.Env, []string{"PATH=/bin", "A=b"}) || ncf.Config.Labels["k"] != Redacted || ncf.Config.Labels["other"] != "x" {
		t.Errorf("config %+v", ncf.Config)
	}
	if ncf.History[2].CreatedBy != "RUN |1 TOKEN=<redacted> /bin/sh -c rm /root/.ssh/id_rsa" || ncf.History[1].CreatedBy != "COPY . /" {
		t.Errorf("history %+v", ncf.History)
	}
	// The source image is unchanged.
	if ocf, _ := img.ConfigFile(); ocf.Config.Env[1] != "TOKEN=s3cr3tT0ken" {
		t.Errorf("source config changed")
	}
}

func TestParseField(t *testing.T) {
	tests := []struct {
		in, kind, key string
		idx           int
		ok            bool
	}{
		{"Env[3]", "Env", "", 3, true},
		{`Labels["a.b"]`, "Labels", "a.b", -1, true},
		{`Labels["q\"x"]`, "Labels", `q"x`, -1, true},
		{`History[4].buildArg["NPM_TOKEN"]`, "History", "", 4, true},
		{`Annotations["k"]`, "Annotations", "k", -1, true},
		{"Cmd[0]", "", "", 0, false},
		{"Env[x]", "", "", 0, false},
	}
	for _, tt := range tests {
		kind, idx, key, ok := ParseField(tt.in)
		if kind != tt.kind || idx != tt.idx || key != tt.key || ok != tt.ok {
			t.Errorf("ParseField(%q) = %q %d %q %v", tt.in, kind, idx, key, ok)
		}
	}
}
