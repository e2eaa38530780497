package testenv

import (
	"os/exec"
	"testing"
)

// AlpineTag is the tag AlpineImage gives the Alpine 3.20.3 root filesystem
// in the Docker Engine.
const AlpineTag = "shipshape-test/alpine-base:3.20.3"

// AlpineImage imports ../shared/data's Alpine 3.20.3 minirootfs into the
// Docker Engine ("docker import", idempotent) and returns its tag, for tests
// that build images on a real base. It is Require-d like Docker. The tag is
// left in place: tests in other packages may be using it.
func AlpineImage(t testing.TB) string {
	t.Helper()
	Docker(t)
	docker := DockerCLI(t)
	rootfs := SharedData(t, "rootfs/alpine-minirootfs-3.20.3-x86_64.tar.gz")
	if out, err := exec.Command(docker, "import", rootfs, AlpineTag).CombinedOutput(); err != nil {
		t.Fatalf("docker import %s: %v\n%s", rootfs, err, out)
	}
	return AlpineTag
}
