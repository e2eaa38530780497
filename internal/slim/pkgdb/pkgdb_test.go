package pkgdb

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/shipshape-dev/shipshape/internal/imagetest"
	"github.com/shipshape-dev/shipshape/internal/slim/rootfs"
)

func TestTrim(t *testing.T) {
	files := map[string]string{
		"var/lib/dpkg/status": "Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.36\n\n" +
			"Package: apt\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.6\n\n" +
			"Package: gone\nStatus: deinstall ok config-files\nArchitecture: amd64\n",
		"var/lib/dpkg/info/libc6:amd64.list": "/.\n/lib\n/lib/x86_64-linux-gnu/libc.so.6\n",
		"var/lib/dpkg/info/apt.list":         "/.\n/usr/bin/apt\n",
		"lib/x86_64-linux-gnu/libc.so.6":     "elf",
		"usr/bin/apt":                        "elf",
		"lib/apk/db/installed":               "C:Q1\nP:musl\nV:1.2\nF:lib\nR:ld-musl-x86_64.so.1\n\nC:Q2\nP:apk-tools\nV:2.14\nF:sbin\nR:apk\n",
		"lib/ld-musl-x86_64.so.1":            "elf",
		"sbin/apk":                           "elf",
	}
	var layer imagetest.Layer
	for _, n := range slices.Sorted(maps.Keys(files)) {
		layer.Files = append(layer.Files, imagetest.Reg(n, files[n]))
	}
	fs, err := rootfs.Load(bytes.NewReader(layer.Tar()), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	kept := map[string]bool{"/lib": true, "/lib/x86_64-linux-gnu/libc.so.6": true, "/lib/ld-musl-x86_64.so.1": true}
	res, err := Trim(fs, kept)
	if err != nil {
		t.Fatal(err)
	}
	status := string(res.Files["/var/lib/dpkg/status"])
	if !strings.Contains(status, "Package: libc6") || strings.Contains(status, "Package: apt") || strings.Contains(status, "Package: gone") {
		t.Errorf("dpkg status:\n%s", status)
	}
	apk := string(res.Files["/lib/apk/db/installed"])
	if !strings.Contains(apk, "P:musl") || strings.Contains(apk, "P:apk-tools") {
		t.Errorf("apk installed:\n%s", apk)
	}
	if res.Before != 4 || res.After != 2 || len(res.Keep) != 1 || res.Keep[0] != "/var/lib/dpkg/info/libc6:amd64.list" {
		t.Errorf("result: %+v", res)
	}
}
