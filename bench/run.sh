#!/usr/bin/env bash
# Measures the layer walk against the floor (reading and decompressing each
# layer once) on a ~1.4 GB Debian image, in both layouts, and the whole
# scan's wall time and peak memory through the CLI, cold and warm cache.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${SHIPSHAPE_BENCH_DIR:-/var/cache/shipshape-bench}
bash bench/mkimage.sh
go build -o bench/out/shipshape ./cmd/shipshape 2>/dev/null || { mkdir -p bench/out && go build -o bench/out/shipshape ./cmd/shipshape; }
for ref in "docker-archive:$DIR/bench.tar" "oci:$DIR/oci:bench"; do
  echo "== $ref"
  SHIPSHAPE_BENCH_IMAGE="$ref" go test -run '^$' -bench 'BenchmarkWalk$' -benchtime 3x ./internal/analyze/ | grep -E 'Benchmark|ok'
  cache=$(mktemp -d)
  for run in cold warm; do
    /usr/bin/time -f "$run: %e s wall, %M KB peak RSS" bench/out/shipshape scan --quiet --cache-dir "$cache" -f json -o /dev/null "$ref"
  done
  rm -rf "$cache"
done
