package inventory

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"path"
	"slices"
	"strings"

	scalibrext "github.com/google/osv-scalibr/extractor"
	"github.com/google/osv-scalibr/extractor/filesystem"
	"github.com/google/osv-scalibr/inventory"
	"github.com/google/osv-scalibr/plugin"
)

// debianCopyright reads the licences of a Debian package from its
// machine-readable copyright file (DEP-5,
// /usr/share/doc/PACKAGE/copyright): the short names of the License
// fields of its Files paragraphs ("GPL-2+", "Expat", "BSD-3-clause or
// Apache-2.0"), as written. Files in another format carry no licence
// shipshape can read reliably and yield none. Its results are not
// packages: Build attaches them to the dpkg packages of the same name.
type debianCopyright struct{}

const (
	debianCopyrightName = "os/debiancopyright"
	// copyrightType is the Package.Type of its results inside the layer
	// facts; Build removes them from the inventory.
	copyrightType     = "debian-copyright"
	maxCopyrightBytes = 1 << 20
)

func (debianCopyright) Name() string                       { return debianCopyrightName }
func (debianCopyright) Version() int                       { return 0 }
func (debianCopyright) Requirements() *plugin.Capabilities { return &plugin.Capabilities{} }

func (debianCopyright) FileRequired(api filesystem.FileAPI) bool {
	p := strings.TrimPrefix(api.Path(), "/")
	dir, file := path.Split(p)
	return file == "copyright" && path.Dir(strings.TrimSuffix(dir, "/")) == "usr/share/doc"
}

func (debianCopyright) Extract(_ context.Context, in *filesystem.ScanInput) (inventory.Inventory, error) {
	b, err := io.ReadAll(io.LimitReader(in.Reader, maxCopyrightBytes+1))
	if err != nil {
		return inventory.Inventory{}, err
	}
	if len(b) > maxCopyrightBytes {
		return inventory.Inventory{}, fmt.Errorf("larger than %d bytes", maxCopyrightBytes)
	}
	lic := dep5Licenses(string(b))
	if len(lic) == 0 {
		return inventory.Inventory{}, nil
	}
	name := path.Base(path.Dir(strings.TrimPrefix(in.Path, "/")))
	return inventory.Inventory{Packages: []*scalibrext.Package{{
		Name:     name,
		PURLType: copyrightType,
		Licenses: lic,
		Location: scalibrext.LocationFromPath(in.Path),
	}}}, nil
}

// dep5Licenses returns the distinct licence short names of the Files
// paragraphs of a DEP-5 copyright file, in order of appearance; nil when
// the text is not DEP-5 (no Format field in its first paragraph).
func dep5Licenses(text string) []string {
	var out []string
	first, isDEP5 := true, false
	var files, license string
	flush := func() {
		if files != "" && license != "" && !slices.Contains(out, license) {
			out = append(out, license)
		}
		files, license = "", ""
	}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), maxCopyrightBytes)
	for sc.Scan() {
		line := sc.Text()
		if strings.TrimSpace(line) == "" {
			if first && !isDEP5 {
				return nil
			}
			first = false
			flush()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' || line[0] == '#' {
			continue // continuation (licence text) or comment
		}
		field, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(field) {
		case "format", "format-specification":
			if first {
				isDEP5 = true
			}
		case "files":
			files = value
			if files == "" {
				files = "(continued)"
			}
		case "license":
			license = value
		}
	}
	if !isDEP5 {
		return nil
	}
	flush()
	return out
}

// attachCopyrights moves the licences read from copyright files onto the
// dpkg packages of the same name that have none, and drops the copyright
// results from the list.
func attachCopyrights(ps []Package) []Package {
	lic := map[string][]string{}
	for _, p := range ps {
		if p.Type == copyrightType {
			lic[p.Name] = p.Licenses
		}
	}
	ps = slices.DeleteFunc(ps, func(p Package) bool { return p.Type == copyrightType })
	for i := range ps {
		if p := &ps[i]; p.Type == "deb" && len(p.Licenses) == 0 {
			p.Licenses = slices.Clone(lic[p.Name])
		}
	}
	return ps
}
