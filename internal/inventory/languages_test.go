package inventory_test

import (
	"archive/zip"
	"bytes"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/layertest"
)

func jar(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, content := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(content))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLanguagePackages(t *testing.T) {
	log4j := jar(t, map[string]string{
		"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\n",
		"META-INF/maven/org.apache.logging.log4j/log4j-core/pom.properties": "groupId=org.apache.logging.log4j\nartifactId=log4j-core\nversion=2.14.1\n",
	})
	inv := run(t, layertest.Layer{Files: map[string]layertest.File{
		"/opt/app/lib/log4j-core-2.14.1.jar":                                        {Content: log4j},
		"/usr/lib/python3/dist-packages/PyYAML-5.3.1.egg-info/PKG-INFO":             {Content: []byte("Metadata-Version: 1.1\nName: PyYAML\nVersion: 5.3.1\nLicense: MIT\n")},
		"/usr/local/lib/python3.12/site-packages/urllib3-1.26.4.dist-info/METADATA": {Content: []byte("Metadata-Version: 2.1\nName: urllib3\nVersion: 1.26.4\n")},
		"/usr/local/bundle/specifications/rack-2.2.3.gemspec":                       {Content: []byte("Gem::Specification.new do |s|\n  s.name = \"rack\".freeze\n  s.version = \"2.2.3\"\nend\n")},
		"/app/app.deps.json":                      {Content: []byte(`{"runtimeTarget":{"name":".NETCoreApp,Version=v8.0"},"targets":{".NETCoreApp,Version=v8.0":{}},"libraries":{"Newtonsoft.Json/12.0.1":{"type":"package"}}}`)},
		"/var/www/vendor/composer/installed.json": {Content: []byte(`{"packages":[{"name":"guzzlehttp/psr7","version":"v1.8.1","license":["MIT"]}]}`)},
		"/web/yarn.lock":                          {Content: []byte("# yarn lockfile v1\n\n\"lodash@^4.17.0\":\n  version \"4.17.20\"\n  resolved \"https://registry.yarnpkg.com/lodash/-/lodash-4.17.20.tgz\"\n")},
		"/app/package-lock.json":                  {Content: []byte(`{"name":"app","lockfileVersion":3,"packages":{"":{"name":"app"},"node_modules/minimist":{"version":"1.2.5"}}}`)},
	}})
	want := map[string]struct{ version, eco string }{
		"org.apache.logging.log4j:log4j-core": {"2.14.1", "Maven"},
		"PyYAML":                              {"5.3.1", "PyPI"},
		"urllib3":                             {"1.26.4", "PyPI"},
		"rack":                                {"2.2.3", "RubyGems"},
		"Newtonsoft.Json":                     {"12.0.1", "NuGet"},
		"minimist":                            {"1.2.5", "npm"},
		"guzzlehttp/psr7":                     {"1.8.1", "Packagist"},
		"lodash":                              {"4.17.20", "npm"},
	}
	for name, w := range want {
		p := find(inv.Packages, name)
		if p == nil {
			t.Errorf("%s missing; got %+v", name, inv.Packages)
			continue
		}
		if p.Version != w.version || p.Ecosystem != w.eco {
			t.Errorf("%s = %s %s, want %s %s", name, p.Version, p.Ecosystem, w.version, w.eco)
		}
	}
	if p := find(inv.Packages, "minimist"); p != nil && !p.Declared {
		t.Errorf("lock-file package not marked declared: %+v", p)
	}
	if p := find(inv.Packages, "PyYAML"); p != nil && (len(p.Licenses) != 1 || p.Licenses[0] != "MIT") {
		t.Logf("PyYAML licences: %v", p.Licenses)
	}
}
