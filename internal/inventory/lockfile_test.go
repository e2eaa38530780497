package inventory

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	scalibrext "github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/extractor/filesystem/language/javascript/packagelockjson"
	"github.com/google/osv-scalibr/extractor/filesystem/language/php/composerlock"
	"github.com/google/osv-scalibr/inventory"

	"github.com/shipshape-dev/shipshape/internal/fstree"
)

// countingExtractor records the documents handed to an extractor.
type countingExtractor struct {
	filesystem.Extractor
	calls, bytes, largest int
}

func (c *countingExtractor) Extract(ctx context.Context, in *filesystem.ScanInput) (inventory.Inventory, error) {
	var b bytes.Buffer
	b.ReadFrom(in.Reader)
	c.calls++
	c.bytes += b.Len()
	c.largest = max(c.largest, b.Len())
	return c.Extractor.Extract(ctx, &filesystem.ScanInput{FS: in.FS, Path: in.Path, Info: in.Info, Reader: &b})
}

// listed is "purl-type name version" per package, sorted, without
// duplicates.
func listed(pkgs []*scalibrext.Package) []string {
	var out []string
	for _, p := range pkgs {
		out = append(out, p.PURLType+" "+p.Name+" "+p.Version)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestLockFileInDocuments: a lock file handed to its extractor in small
// documents gives the packages the extractor finds in the whole file —
// npm lockfileVersion 3 (scoped, aliased, git, linked, nested, dev),
// version 1 (nested dependencies, aliases, file: and git versions), both
// at once (version 2), and composer.lock — and a big one is never handed
// over whole.
func TestLockFileInDocuments(t *testing.T) {
	a, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ext := map[string]filesystem.Extractor{}
	for _, x := range a.extractors {
		ext[x.Name()] = x
	}
	v3 := `{"name":"app","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{
		"":{"name":"app","version":"1.0.0","dependencies":{"lodash":"^4.17.0"}},
		"node_modules/lodash":{"version":"4.17.20","resolved":"https://registry.npmjs.org/lodash/-/lodash-4.17.20.tgz"},
		"node_modules/@babel/core":{"version":"7.12.3","dev":true},
		"node_modules/@babel/core/node_modules/semver":{"version":"5.7.1","dev":true},
		"node_modules/string-width-cjs":{"name":"string-width","version":"4.2.3"},
		"node_modules/local":{"resolved":"packages/local","link":true},
		"packages/local":{"name":"local","version":"0.1.0"},
		"node_modules/from-git":{"version":"1.0.0","resolved":"git+ssh://git@github.com/a/b.git#0123456789abcdef0123456789abcdef01234567"},
		"node_modules/semver":{"version":"7.3.2","optional":true}
	}}`
	v1 := `{"name":"old","lockfileVersion":1,"requires":true,"dependencies":{
		"minimist":{"version":"1.2.0","resolved":"https://registry.npmjs.org/minimist/-/minimist-1.2.0.tgz"},
		"mkdirp":{"version":"0.5.1","requires":{"minimist":"0.0.8"},"dependencies":{
			"minimist":{"version":"0.0.8","dependencies":{"deeper":{"version":"3.0.0"}}}}},
		"sw":{"version":"npm:string-width@4.2.0"},
		"local":{"version":"file:../local"},
		"git-dep":{"version":"github:a/b#0123456789abcdef0123456789abcdef01234567"},
		"dev-only":{"version":"2.0.0","dev":true}
	}}`
	// Version 2 has both: packages wins.
	v2 := `{"name":"both","lockfileVersion":2,"dependencies":{"only-in-v1-section":{"version":"9.9.9"}},"packages":{"":{"name":"both"},"node_modules/kept":{"version":"1.0.0"}}}`
	composer := `{"_readme":["x"],"content-hash":"abc","packages":[
		{"name":"guzzlehttp/psr7","version":"1.8.1","source":{"type":"git","reference":"abc"}},
		{"name":"monolog/monolog","version":"2.2.0"},
		{"name":"guzzlehttp/psr7","version":"1.8.1"}
	],"packages-dev":[{"name":"phpunit/phpunit","version":"9.5.0"}],"platform":{"php":">=7.4"}}`
	var big strings.Builder
	big.WriteString(`{"lockfileVersion":3,"packages":{"":{"name":"big"}`)
	for i := range 2000 {
		fmt.Fprintf(&big, `,"node_modules/p%d":{"version":"1.0.%d"},"node_modules/x/node_modules/p%d":{"version":"1.0.%d"}`, i, i, i, i)
	}
	big.WriteString("}}")

	for _, c := range []struct {
		name, extractor, path, content string
		want                           int // packages
	}{
		{"npm v3", packagelockjson.Name, "app/package-lock.json", v3, 7},
		{"npm v1", packagelockjson.Name, "app/package-lock.json", v1, 8},
		{"npm v2", packagelockjson.Name, "app/package-lock.json", v2, 1},
		{"npm shrinkwrap", packagelockjson.Name, "app/npm-shrinkwrap.json", v3, 7},
		{"npm big", packagelockjson.Name, "app/package-lock.json", big.String(), 2000},
		{"composer", composerlock.Name, "var/www/composer.lock", composer, 3},
	} {
		t.Run(c.name, func(t *testing.T) {
			x := ext[c.extractor]
			info := fileInfo("/"+c.path, len(c.content))
			whole, err := x.Extract(context.Background(), &filesystem.ScanInput{FS: emptyFS, Path: c.path, Info: info, Reader: strings.NewReader(c.content)})
			if err != nil {
				t.Fatalf("the extractor on the whole file: %v", err)
			}
			counted := &countingExtractor{Extractor: x}
			src := &source{mem: []byte(c.content), size: int64(len(c.content))}
			got, err := a.lockFile(context.Background(), counted, c.path, info, src)
			if err != nil {
				t.Fatal(err)
			}
			want := listed(whole.Packages)
			if len(want) != c.want {
				t.Fatalf("the whole file gives %d packages, the test expects %d: %v", len(want), c.want, want)
			}
			if g := listed(got); !slices.Equal(g, want) {
				t.Errorf("in documents:\n%s\nwhole:\n%s", strings.Join(g, "\n"), strings.Join(want, "\n"))
			}
			if len(got) != len(whole.Packages) {
				t.Errorf("%d packages in documents, %d in the whole file (duplicates differ)", len(got), len(whole.Packages))
			}
			if len(c.content) > 64<<10 && (counted.largest > 8<<10 || counted.bytes > 2*len(c.content)) {
				t.Errorf("%d bytes handed over in %d documents, the largest %d: not split", counted.bytes, counted.calls, counted.largest)
			}
		})
	}

	t.Run("cancelled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		counted := &countingExtractor{Extractor: ext[packagelockjson.Name]}
		src := &source{mem: []byte(big.String()), size: int64(big.Len())}
		if _, err := a.lockFile(ctx, counted, "app/package-lock.json", fileInfo("/app/package-lock.json", big.Len()), src); !errors.Is(err, context.Canceled) || counted.calls > 0 {
			t.Errorf("cancelled: %v after %d documents", err, counted.calls)
		}
	})

	for name, content := range map[string]string{
		"not an object": `["x"]`,
		"truncated":     `{"packages":{"node_modules/a":{"version":"1"`,
		"empty":         ``,
	} {
		t.Run(name, func(t *testing.T) {
			src := &source{mem: []byte(content), size: int64(len(content))}
			info := fileInfo("/app/package-lock.json", len(content))
			if _, err := a.lockFile(context.Background(), ext[packagelockjson.Name], "app/package-lock.json", info, src); err == nil {
				t.Error("no error")
			}
		})
	}
}

// fileInfo is what the extractors see of a file of the image.
func fileInfo(path string, size int) entryInfo {
	e := &fstree.Entry{Type: fstree.Regular, Size: int64(size)}
	e.SetPath(path)
	return entryInfo{e}
}

// TestManifestSizeLimit: every manifest and lock file extractor's file is
// refused above maxManifestBytes, with the reason; package databases,
// binaries and archives are not.
func TestManifestSizeLimit(t *testing.T) {
	a, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var capped []string
	for _, x := range a.extractors {
		err := checkManifestSize(x.Name(), maxManifestBytes+1)
		if manifests[x.Name()] {
			capped = append(capped, x.Name())
			if err == nil || !strings.Contains(err.Error(), "larger than the limit") {
				t.Errorf("%s: a file over the limit: %v", x.Name(), err)
			}
		} else if err != nil {
			t.Errorf("%s is not a manifest extractor, yet: %v", x.Name(), err)
		}
		if err := checkManifestSize(x.Name(), maxManifestBytes); err != nil {
			t.Errorf("%s: %v at the limit", x.Name(), err)
		}
	}
	if len(capped) != len(manifests) {
		t.Errorf("capped %v; manifests lists %d extractors", capped, len(manifests))
	}
	for name := range declaredBy {
		if !manifests[name] {
			t.Errorf("lock file extractor %s not capped", name)
		}
	}
}
