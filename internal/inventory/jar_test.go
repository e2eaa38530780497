package inventory_test

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"fmt"
	"hash/crc32"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/inventory"
	"github.com/shipshape-dev/shipshape/internal/layertest"
)

// pomJar is a jar with the pom.properties Maven writes.
func pomJar(t *testing.T, group, artifact, version string) []byte {
	t.Helper()
	return jar(t, map[string]string{
		"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\n",
		fmt.Sprintf("META-INF/maven/%s/%s/pom.properties", group, artifact): fmt.Sprintf("groupId=%s\nartifactId=%s\nversion=%s\n", group, artifact, version),
	})
}

// packageList is "name version location…" for each package, sorted.
func packageList(inv *inventory.Inventory) []string {
	var out []string
	for _, p := range inv.Packages {
		out = append(out, p.Name+" "+p.Version+" "+strings.Join(p.Locations, ","))
	}
	slices.Sort(out)
	return out
}

// TestNestedJavaArchives: the packages of archives in archives — a Spring
// Boot jar's BOOT-INF/lib, an ear's war's WEB-INF/lib — are listed, each
// located at the file of the image that carries it.
func TestNestedJavaArchives(t *testing.T) {
	war := jar(t, map[string]string{
		"WEB-INF/web.xml":                  "<web-app/>",
		"WEB-INF/lib/guava-30.0-jre.jar":   string(pomJar(t, "com.google.guava", "guava", "30.0-jre")),
		"WEB-INF/lib/commons-text-1.9.jar": string(jar(t, map[string]string{"META-INF/MANIFEST.MF": "Manifest-Version: 1.0\n"})),
	})
	inv := run(t, layertest.Layer{Files: map[string]layertest.File{
		"/app/app.jar": {Content: jar(t, map[string]string{
			"META-INF/maven/com.example/app/pom.properties": "groupId=com.example\nartifactId=app\nversion=1.0\n",
			"BOOT-INF/lib/log4j-core-2.14.1.jar":            string(pomJar(t, "org.apache.logging.log4j", "log4j-core", "2.14.1")),
			"BOOT-INF/lib/jackson-databind-2.9.10.jar":      string(pomJar(t, "com.fasterxml.jackson.core", "jackson-databind", "2.9.10")),
			"BOOT-INF/classes/application.properties":       "server.port=8080\n",
		})},
		"/opt/app.ear": {Content: jar(t, map[string]string{"web.war": string(war)})},
	}})
	want := []string{
		"com.example:app 1.0 /app/app.jar",
		"com.fasterxml.jackson.core:jackson-databind 2.9.10 /app/app.jar",
		"com.google.guava:guava 30.0-jre /opt/app.ear",
		"commons-text:commons-text 1.9 /opt/app.ear",
		"org.apache.logging.log4j:log4j-core 2.14.1 /app/app.jar",
	}
	if got := packageList(inv); !slices.Equal(got, want) {
		t.Errorf("packages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(inv.Errors) > 0 {
		t.Errorf("errors: %v", inv.Errors)
	}
}

// deflated is a raw deflate stream of mib MiB of zeros and then tail,
// built from one compressed MiB repeated (so that a test can carry a
// gigabyte), with its CRC-32 and size.
func deflated(t *testing.T, mib int, tail []byte) (raw []byte, crc uint32, size uint64) {
	t.Helper()
	zeros := make([]byte, 1<<20)
	var chunk bytes.Buffer
	w, _ := flate.NewWriter(&chunk, flate.BestSpeed)
	w.Write(zeros)
	w.Flush() // a sync flush: the blocks end on a byte, not the last
	var out bytes.Buffer
	for range mib {
		out.Write(chunk.Bytes())
		crc = crc32.Update(crc, crc32.IEEETable, zeros)
	}
	w, _ = flate.NewWriter(&out, flate.BestSpeed)
	w.Write(tail)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes(), crc32.Update(crc, crc32.IEEETable, tail), uint64(mib)<<20 + uint64(len(tail))
}

// TestNestedJavaArchiveBounds: a nested archive that inflates to more
// than a file may be is not read (and said so), a big one is spooled to
// disk rather than held in memory, a damaged one is an error, nesting
// deeper than eight is not followed, and the archives beside them are
// still read.
func TestNestedJavaArchiveBounds(t *testing.T) {
	var fat bytes.Buffer
	zw := zip.NewWriter(&fat)
	for _, m := range []struct {
		name   string
		mib    int
		tail   []byte
		badCRC bool
	}{
		// 1 GiB of zeros in 1 MiB: more than a file may be (512 MiB).
		{"BOOT-INF/lib/zeros.jar", 1024, nil, false},
		// 64 MiB of zeros before a jar (zip readers find it from its
		// end): read from a temporary file.
		{"BOOT-INF/lib/log4j-core-2.14.1.jar", 64, pomJar(t, "org.apache.logging.log4j", "log4j-core", "2.14.1"), false},
		{"BOOT-INF/lib/jackson-databind-2.9.10.jar", 0, pomJar(t, "com.fasterxml.jackson.core", "jackson-databind", "2.9.10"), false},
		// Damaged: its CRC-32 is not its content's.
		{"BOOT-INF/lib/damaged-1.0.jar", 0, pomJar(t, "com.example", "damaged", "1.0"), true},
	} {
		raw, crc, size := deflated(t, m.mib, m.tail)
		if m.badCRC {
			crc++
		}
		w, err := zw.CreateRaw(&zip.FileHeader{Name: m.name, Method: zip.Deflate, CRC32: crc, CompressedSize64: uint64(len(raw)), UncompressedSize64: size})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(raw)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}

	// Ten jars, each in the one before.
	var deep []byte
	for i := 10; i >= 1; i-- {
		files := map[string]string{fmt.Sprintf("META-INF/maven/com.example/level%d/pom.properties", i): fmt.Sprintf("groupId=com.example\nartifactId=level%d\nversion=1.0\n", i)}
		if deep != nil {
			files[fmt.Sprintf("lib/level%d.jar", i+1)] = string(deep)
		}
		deep = jar(t, files)
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	inv := run(t, layertest.Layer{Files: map[string]layertest.File{
		"/app/fat.jar":  {Content: fat.Bytes()},
		"/app/deep.jar": {Content: deep},
	}})
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 128<<20 {
		t.Errorf("allocated %d MiB reading %d KiB of jars: nested archives held in memory", alloc>>20, (fat.Len()+len(deep))>>10)
	}

	var want []string
	for i := 1; i <= 8; i++ {
		want = append(want, fmt.Sprintf("com.example:level%d 1.0 /app/deep.jar", i))
	}
	want = append(want,
		"com.fasterxml.jackson.core:jackson-databind 2.9.10 /app/fat.jar",
		"org.apache.logging.log4j:log4j-core 2.14.1 /app/fat.jar",
	)
	if got := packageList(inv); !slices.Equal(got, want) {
		t.Errorf("packages:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	errs := strings.Join(inv.Errors, "\n")
	for _, w := range []string{
		"/app/fat.jar: java/archive: app/fat.jar/BOOT-INF/lib/zeros.jar: 1073741824 bytes: larger than the limit",
		"app/fat.jar/BOOT-INF/lib/damaged-1.0.jar: zip: checksum error",
		"/app/deep.jar: java/archive: app/deep.jar/lib/level2.jar/lib/level3.jar/lib/level4.jar/lib/level5.jar/lib/level6.jar/lib/level7.jar/lib/level8.jar/lib/level9.jar: archives nested more than 8 deep",
	} {
		if !strings.Contains(errs, w) {
			t.Errorf("errors do not say %q:\n%s", w, errs)
		}
	}
	if len(inv.Errors) != 2 { // one per file of the image
		t.Errorf("%d errors, want 2:\n%s", len(inv.Errors), errs)
	}
	// The scorecard's inventory line says so too.
	if s := inventory.Coverage(inv, false).Summary; !strings.Contains(s, "; 2 package files could not be read (sections.packages.errors)") {
		t.Errorf("P4 summary %q does not count the files not read", s)
	}
}
