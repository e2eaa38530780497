#!/usr/bin/env bash
# Builds the benchmark image: a real Debian bookworm (debootstrap, minbase)
# as layer 1, then python3, nodejs, ruby, a JDK and a C toolchain installed
# with apt in a chroot as layer 2 (umoci computes the layer diffs), then a
# third layer that deletes and replaces files (so whiteouts are exercised).
# About 1.4 GB and 40k files. Written once, reused afterwards:
#   $DIR/oci            OCI layout, gzip layers        (oci:$DIR/oci:bench)
#   $DIR/bench.tar      docker-archive, uncompressed   (docker-archive:$DIR/bench.tar)
# Needs root, debootstrap, umoci and skopeo (Debian packages), and a Debian mirror.
set -euo pipefail
DIR=${SHIPSHAPE_BENCH_DIR:-/var/cache/shipshape-bench}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
PACKAGES="python3 python3-pip nodejs npm ruby openjdk-17-jdk-headless gcc g++ make git"
mkdir -p "$DIR"
cd "$DIR"
if [ -f bench.tar ] && [ -f oci/index.json ]; then
  echo "benchmark image ready in $DIR"
  exit 0
fi
for tool in debootstrap umoci skopeo; do
  command -v "$tool" >/dev/null || { echo "mkimage: $tool is missing: apt-get install $tool" >&2; exit 1; }
done
if [ ! -x base/bin/sh ] || [ ! -f base/.complete ]; then
  rm -rf base
  debootstrap --variant=minbase bookworm base "$MIRROR"
  touch base/.complete
fi
rm -rf oci bundle bench.tar
umoci init --layout oci
umoci new --image oci:bench
umoci unpack --rootless --image oci:bench bundle >/dev/null 2>&1 || umoci unpack --image oci:bench bundle
cp -a base/. bundle/rootfs/
rm -f bundle/rootfs/.complete
# --refresh-bundle makes each repack a diff against the previous one.
umoci repack --refresh-bundle --image oci:bench --history.created_by 'debootstrap --variant=minbase bookworm' bundle
# Layer 2: packages, installed in a chroot.
cp /etc/resolv.conf bundle/rootfs/etc/resolv.conf
mount --bind /proc bundle/rootfs/proc
trap 'umount bundle/rootfs/proc 2>/dev/null || true' EXIT
chroot bundle/rootfs /bin/sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $PACKAGES >/dev/null"
umount bundle/rootfs/proc
trap - EXIT
umoci repack --refresh-bundle --image oci:bench --history.created_by "RUN apt-get update && apt-get install -y $PACKAGES" bundle
# Layer 3: clean up apt lists (whiteouts) and replace a file.
rm -rf bundle/rootfs/var/lib/apt/lists/* bundle/rootfs/var/cache/apt/*.bin
echo "bench" > bundle/rootfs/etc/motd
umoci repack --refresh-bundle --image oci:bench --history.created_by "RUN rm -rf /var/lib/apt/lists/* && echo bench > /etc/motd" bundle
umoci config --image oci:bench --config.cmd /bin/bash --history.created_by 'CMD ["/bin/bash"]'
umoci gc --layout oci
rm -rf bundle
skopeo copy --quiet oci:oci:bench docker-archive:bench.tar:shipshape-bench:latest
ls -la "$DIR"
