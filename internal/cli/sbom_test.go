package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/schematest"
)

// lockRootfs writes an Alpine root filesystem with one installed npm
// package (minimist) and a package-lock.json that declares it and a
// package that is not installed (left-pad). The apk packages carry
// licences: an SPDX id, an SPDX expression and a name.
func lockRootfs(t *testing.T) string {
	dir := rootfs(t)
	files := map[string]string{
		"lib/apk/db/installed": "P:libcrypto3\nV:3.3.2-r0\nA:x86_64\no:openssl\nL:Apache-2.0 AND MIT\n\n" +
			"P:musl\nV:1.2.5-r0\nA:x86_64\no:musl\nL:MIT\n\nP:zlib\nV:1.3.1-r1\nA:x86_64\no:zlib\nL:Zlib-style\n\n",
		"app/node_modules/minimist/package.json": `{"name":"minimist","version":"1.2.5","license":"MIT"}`,
		"app/package-lock.json": `{"name":"app","lockfileVersion":3,"packages":{"":{"name":"app"},` +
			`"node_modules/minimist":{"version":"1.2.5","license":"MIT"},"node_modules/left-pad":{"version":"1.1.2","license":"WTFPL"}}}`,
	}
	for p, c := range files {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, p), []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestSBOMIncludeDeclared(t *testing.T) {
	root := "dir:" + lockRootfs(t)
	noIgnores := filepath.Join(t.TempDir(), "ignore.yaml")
	os.WriteFile(noIgnores, []byte("ignore: []\n"), 0o644)
	type cdxOut struct {
		Metadata struct {
			Properties []struct{ Name, Value string } `json:"properties"`
		} `json:"metadata"`
		Components []struct {
			Name       string                         `json:"name"`
			PURL       string                         `json:"purl"`
			Licenses   []map[string]json.RawMessage   `json:"licenses"`
			Properties []struct{ Name, Value string } `json:"properties"`
		} `json:"components"`
	}
	for _, tt := range []struct {
		name     string
		args     []string
		leftPad  bool
		omitted  string
		minimist int
	}{
		{"sbom default", []string{"sbom", "--no-cache", root}, false, "1", 1},
		{"sbom --include-declared", []string{"sbom", "--no-cache", "--include-declared", root}, true, "", 1},
		{"scan -f cyclonedx", []string{"scan", "-f", "cyclonedx", "--no-cache", "--ignorefile", noIgnores, root}, false, "1", 1},
		{"scan -f cyclonedx --include-declared", []string{"scan", "-f", "cyclonedx", "--include-declared", "--no-cache", "--ignorefile", noIgnores, root}, true, "", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.args...)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			schematest.Validate(t, "../report/testdata/bom-1.6.schema.json", []byte(out))
			var doc cdxOut
			if err := json.Unmarshal([]byte(out), &doc); err != nil {
				t.Fatal(err)
			}
			omitted := ""
			for _, p := range doc.Metadata.Properties {
				if p.Name == "shipshape:declaredOnlyOmitted" {
					omitted = p.Value
				}
			}
			if omitted != tt.omitted {
				t.Errorf("declaredOnlyOmitted = %q, want %q", omitted, tt.omitted)
			}
			leftPad, minimist := false, 0
			for _, c := range doc.Components {
				declared := false
				for _, p := range c.Properties {
					declared = declared || p.Name == "shipshape:declaredOnly" && p.Value == "true"
				}
				switch c.Name {
				case "left-pad":
					leftPad = true
					if !declared || c.PURL != "pkg:npm/left-pad@1.1.2" {
						t.Errorf("left-pad: purl %s, declaredOnly %v", c.PURL, declared)
					}
				case "minimist":
					// Installed and in the lock file: listed once, installed.
					minimist++
					if declared {
						t.Errorf("minimist: declaredOnly")
					}
				}
				want := map[string]string{"musl": `license:{"id":"MIT"}`, "libcrypto3": `expression:"Apache-2.0 AND MIT"`, "zlib": `license:{"name":"Zlib-style"}`}[c.Name]
				if want != "" {
					var got []string
					for _, l := range c.Licenses {
						for k, v := range l {
							var b bytes.Buffer
							json.Compact(&b, v)
							got = append(got, k+":"+b.String())
						}
					}
					if strings.Join(got, ",") != want {
						t.Errorf("%s licences = %s, want %s", c.Name, got, want)
					}
				}
			}
			if leftPad != tt.leftPad || minimist != tt.minimist {
				t.Errorf("left-pad listed %v (want %v), minimist %d times (want %d)\n%s", leftPad, tt.leftPad, minimist, tt.minimist, out)
			}
		})
	}
	// SPDX: the same choice, marked by an annotation.
	for _, include := range []bool{false, true} {
		args := []string{"sbom", "-f", "spdx", "--no-cache", root}
		if include {
			args = append(args, "--include-declared")
		}
		code, out, errOut := runCLI(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
		schematest.Validate(t, "../report/testdata/spdx-2.3.schema.json", []byte(out))
		if got := strings.Contains(out, `"name": "left-pad"`); got != include {
			t.Errorf("%v: left-pad listed %v", args, got)
		}
		if got := strings.Contains(out, "shipshape:declaredOnly=true"); got != include {
			t.Errorf("%v: declaredOnly annotation %v", args, got)
		}
	}
}
