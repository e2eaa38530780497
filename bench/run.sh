#!/usr/bin/env bash
# Measures the scan on the benchmark image (bench/mkimage.sh: ~1.4 GB
# Debian, three layers) in both layouts — docker-archive (uncompressed
# layers) and OCI layout (gzip layers, what registries serve) — as `docker
# save` of Docker 25+ writes it (a docker-archive of the same gzip blobs:
# bench/synth -kind docker-save), the uncompressed archive and the OCI
# layout each gzipped whole ("docker save | gzip", oci-archive), pulled from a registry on loopback (the
# same gzip blobs over HTTP), and on two
# synthetic images written here, streaming (bench/synth): one gzip layer of
# a million small files, and a 10 GiB image of ten 1 GiB layers. And an
# image built on a cached base: the OCI bench image plus one app layer
# (bench/synth -kind app), scanned with the base's layers cached, against
# the same scan fully cached and the app layer scanned alone.
#
# For each: the layer walk against the floor (every blob read and
# decompressed once, layers in parallel, measured in the same run:
# BenchmarkWalk), then the whole scan through the CLI, cold and warm cache:
# wall time, CPU time and peak RSS. Every number is min–median–max over
# RUNS runs (default 3): the machine's noise is part of the result.
#
#   RUNS=5 bash bench/run.sh
#   BEFORE=/path/to/old/shipshape bash bench/run.sh   # the same CLI runs for an older binary, interleaved
#   BEFORE_TEST=/path/to/old/analyze.test               # and its walk benchmark (go test -c ./internal/analyze)
#   SKIP_SYNTH=1 / SKIP_BIG=1                           # leave out the synthetic images / the 10 GiB one
#   SKIP_REGISTRY=1, REGISTRY_PORT=5055                 # leave out / place the registry on loopback
#   SYNTH_RUNS=1                                        # fewer runs for the (slow) synthetic images
#   TRIVY=/path/to/trivy                                # Trivy's secret-only scan of the same input, interleaved
#                                                       # (default: trivy on PATH, if any; TRIVY=none: skip)
#   SHIPSHAPE_GZIP_HELPER=none                           # inflate in process even when igzip is on PATH
#
# With igzip on PATH (Debian package isal) the scan gives it the big gzip
# layers (--gzip-helper auto); the walk then reports a second floor, every
# blob inflated by the helper (floor-helper), and the same walk and CLI
# runs are made in process too ("…-inprocess"), interleaved.
#
# Each CLI scan also runs cold with GOMEMLIMIT=off ("nolimit"): the peak
# RSS without the soft memory limit shipshape sets itself.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${SHIPSHAPE_BENCH_DIR:-/var/cache/shipshape-bench}
RUNS=${RUNS:-3}
OUT=bench/out
mkdir -p "$OUT"
bash bench/mkimage.sh
go build -o "$OUT/shipshape" ./cmd/shipshape
go build -o "$OUT/synth" ./bench/synth
go test -c -o "$OUT/analyze.test" ./internal/analyze/
INPROCESS=
if [ "${SHIPSHAPE_GZIP_HELPER:-auto}" != none ] && command -v igzip >/dev/null; then
  for b in shipshape:shipshape-inprocess analyze.test:analyze-inprocess.test; do
    printf '#!/bin/sh\nSHIPSHAPE_GZIP_HELPER=none exec "$(dirname "$0")/%s" "$@"\n' "${b%%:*}" >"$OUT/${b#*:}"
    chmod +x "$OUT/${b#*:}"
  done
  INPROCESS=1
fi

# The machine, for comparing runs: a warm scan's time is much of it page
# faults, which transparent huge pages set to "always" (rather than
# "madvise": the Go heap is not madvised) cut eightfold, halving the warm
# scan of the benchmark image.
printf 'machine: %s, %s vCPUs, transparent huge pages: %s\n' \
  "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" "$(nproc)" \
  "$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)"
if [ -n "$INPROCESS" ]; then
  echo "gzip helper: $(command -v igzip) ($(igzip --version 2>&1 | head -1)); in-process runs as *-inprocess"
else
  echo "gzip helper: none (in process)"
fi

# stats prints "min–median–max" of the numbers on stdin.
stats() {
  sort -g | awk '{v[NR]=$1} END {if (NR==0) {print "n/a"; exit}; m=(NR%2)?v[(NR+1)/2]:(v[NR/2]+v[NR/2+1])/2; printf "%g–%g–%g\n", v[1], m, v[NR]}'
}

# walk REF: BenchmarkWalk RUNS times (interleaved with BEFORE_TEST's when
# set); walk, floor and their ratio, and the CPU time of each.
walk() {
  local ref=$1 log t i
  log=$(mktemp -d)
  for _ in $(seq "$RUNS"); do
    i=0
    for t in "$OUT/analyze.test" ${INPROCESS:+"$OUT/analyze-inprocess.test"} ${BEFORE_TEST:-}; do
      i=$((i + 1))
      SHIPSHAPE_BENCH_IMAGE="$ref" "$t" -test.run '^$' -test.bench 'BenchmarkWalk$' -test.benchtime 1x >>"$log/$i"
    done
  done
  i=0
  for t in "$OUT/analyze.test" ${INPROCESS:+"$OUT/analyze-inprocess.test"} ${BEFORE_TEST:-}; do
    i=$((i + 1))
    echo " $t:"
    for m in floor-s/op walk-s/op walk/floor floor-cpu-s/op walk-cpu-s/op floor-helper-s/op walk/floor-helper floor-helper-cpu-s/op; do
      grep -qE "[0-9.]+ $m(\s|$)" "$log/$i" || continue
      printf '  %-18s %s\n' "${m%/op}" "$(grep -oE "[0-9.]+ $m(\s|$)" "$log/$i" | awk '{print $1}' | stats)"
    done
  done
  rm -rf "$log"
}

# timings LABEL FILE: one line of wall time, CPU time and peak RSS over the
# runs FILE holds (each a line of /usr/bin/time -f "%e %U %S %M").
timings() {
  printf '  %-7s wall %s s, cpu %s s, peak RSS %s MB\n' "$1" \
    "$(awk '{print $1}' "$2" | stats)" \
    "$(awk '{print $2+$3}' "$2" | stats)" \
    "$(awk '{printf "%.0f\n", $4/1024}' "$2" | stats)"
}

# trivy_args REF: how Trivy is pointed at REF — the file or directory it
# reads (a docker-archive tar or an OCI layout) or the registry image;
# empty for other references.
TRIVY=${TRIVY:-$(command -v trivy || true)}
[ "$TRIVY" = none ] && TRIVY=
trivy_args() {
  case $1 in
  docker-archive:*) echo "--input ${1#docker-archive:}" ;;
  oci:*) local p=${1#oci:}; echo "--input ${p%:*}" ;;
  docker://*) echo "--image-src remote --insecure ${1#docker://}" ;;
  esac
}

# scan REF BIN...: the whole scan RUNS times per binary, cold (empty cache)
# then warm, then cold again without the soft memory limit, the binaries
# interleaved run by run so that they share the machine's noise; then
# Trivy's secret-only scan of the same input.
scan() {
  local ref=$1 cache run log i b in
  shift
  log=$(mktemp -d)
  in=
  [ -n "$TRIVY" ] && in=$(trivy_args "$ref")
  for _ in $(seq "$RUNS"); do
    i=0
    for b in "$@"; do
      i=$((i + 1))
      cache=$(mktemp -d)
      for run in cold warm; do
        /usr/bin/time -a -o "$log/$i.$run" -f "%e %U %S %M" "$b" scan --quiet --cache-dir "$cache" -f json -o /dev/null "$ref" || true
      done
      rm -rf "$cache"
      cache=$(mktemp -d)
      GOMEMLIMIT=off /usr/bin/time -a -o "$log/$i.nolimit" -f "%e %U %S %M" "$b" scan --quiet --cache-dir "$cache" -f json -o /dev/null "$ref" || true
      rm -rf "$cache"
    done
    if [ -n "$in" ]; then
      cache=$(mktemp -d)
      # shellcheck disable=SC2086
      /usr/bin/time -a -o "$log/trivy" -f "%e %U %S %M" "$TRIVY" image --scanners secret $in --cache-dir "$cache" \
        --skip-db-update --skip-java-db-update --offline-scan --skip-version-check --quiet -f json -o /dev/null || true
      rm -rf "$cache"
    fi
  done
  i=0
  for b in "$@"; do
    i=$((i + 1))
    echo " $b:"
    for run in cold warm nolimit; do
      [ -f "$log/$i.$run" ] || continue
      timings "$run" "$log/$i.$run"
    done
    printf '  warm/cold %s\n' "$(paste "$log/$i.warm" "$log/$i.cold" | awk '{printf "%.3f\n", $1/$5}' | stats)"
  done
  if [ -f "$log/trivy" ]; then
    printf ' trivy (secret only): wall %s s, cpu %s s, peak RSS %s MB\n' \
      "$(awk '{print $1}' "$log/trivy" | stats)" \
      "$(awk '{print $2+$3}' "$log/trivy" | stats)" \
      "$(awk '{printf "%.0f\n", $4/1024}' "$log/trivy" | stats)"
    printf ' shipshape cold / trivy, run by run: %s\n' "$(paste "$log/1.cold" "$log/trivy" | awk '{printf "%.3f\n", $1/$5}' | stats)"
  fi
  rm -rf "$log"
}

# based BASE APP ALONE BIN...: an image built on a cached base. Per run
# and binary: BASE scanned cold (untimed, it fills the cache), then APP —
# BASE plus one app layer — with that cache (its base cached), then APP
# again (every layer cached); and ALONE, the app layer by itself, cold.
# A scan on a cached base should cost about its own new layer: the warm
# scan's fixed costs plus what ALONE's layer costs.
based() {
  local base=$1 app=$2 alone=$3 cache log i b run
  shift 3
  log=$(mktemp -d)
  for _ in $(seq "$RUNS"); do
    i=0
    for b in "$@"; do
      i=$((i + 1))
      cache=$(mktemp -d)
      "$b" scan --quiet --cache-dir "$cache" -f json -o /dev/null "$base" || true
      /usr/bin/time -a -o "$log/$i.based" -f "%e %U %S %M" "$b" scan --quiet --cache-dir "$cache" -f json -o /dev/null "$app" || true
      /usr/bin/time -a -o "$log/$i.warm" -f "%e %U %S %M" "$b" scan --quiet --cache-dir "$cache" -f json -o /dev/null "$app" || true
      rm -rf "$cache"
      cache=$(mktemp -d)
      /usr/bin/time -a -o "$log/$i.alone" -f "%e %U %S %M" "$b" scan --quiet --cache-dir "$cache" -f json -o /dev/null "$alone" || true
      rm -rf "$cache"
    done
  done
  i=0
  for b in "$@"; do
    i=$((i + 1))
    echo " $b:"
    for run in alone based warm; do
      timings "$run" "$log/$i.$run"
    done
    printf '  based - warm (the new layer on a cached base) %s s\n' "$(paste "$log/$i.based" "$log/$i.warm" | awk '{printf "%.3f\n", $1-$5}' | stats)"
  done
  rm -rf "$log"
}

bench() {
  local ref=$1
  echo "== $ref"
  [ "${2:-}" = nowalk ] || walk "$ref"
  # shellcheck disable=SC2086
  scan "$ref" "$OUT/shipshape" ${INPROCESS:+"$OUT/shipshape-inprocess"} ${BEFORE:-}
}

# registry: the OCI layout's blobs, as they are, served by a registry on
# loopback (Debian's docker-registry, plain HTTP): every layer is read
# while it downloads. Skipped without docker-registry or SKIP_REGISTRY=1.
registry() {
  local port=${REGISTRY_PORT:-5055}
  if [ -n "${SKIP_REGISTRY:-}" ] || ! command -v docker-registry >/dev/null; then
    echo "== registry: skipped (SKIP_REGISTRY set, or docker-registry missing: apt-get install docker-registry)"
    return
  fi
  mkdir -p "$DIR/registry"
  cat >"$DIR/registry.yml" <<CONF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $DIR/registry}}
http: {addr: 127.0.0.1:$port}
CONF
  docker-registry serve "$DIR/registry.yml" >"$DIR/registry.log" 2>&1 &
  REGISTRY_PID=$!
  trap 'kill $REGISTRY_PID 2>/dev/null || true' EXIT
  for _ in $(seq 50); do
    curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
    sleep 0.1
  done
  skopeo copy -q --dest-tls-verify=false "oci:$DIR/oci:bench" "docker://127.0.0.1:$port/bench:latest"
  bench "docker://127.0.0.1:$port/bench:latest"
  kill "$REGISTRY_PID"
}

bench "docker-archive:$DIR/bench.tar"
bench "oci:$DIR/oci:bench"
[ -f "$DIR/saved-gzip.tar" ] || "$OUT/synth" -kind docker-save -base "$DIR/oci:bench" -out "$DIR/saved-gzip.tar"
bench "docker-archive:$DIR/saved-gzip.tar"
# "docker save | gzip", as CI pipelines keep images: the whole archive is
# inflated to a temporary file when the image is opened (by the gzip
# helper when there is one), before any walk — so no walk benchmark. A
# warm scan opens the image from the archive's index and, every layer
# cached, never inflates it (README: "Compressed archives, re-scanned").
[ -f "$DIR/bench.tar.gz" ] || gzip -c "$DIR/bench.tar" >"$DIR/bench.tar.gz"
bench "docker-archive:$DIR/bench.tar.gz" nowalk
# The OCI layout tarred and gzipped whole (an oci-archive, as `cosign save`
# then tar and gzip leave it): the same path, through the layout's index.
# Trivy is not run on it: it reads an OCI layout only as a directory
# ("stat oci.tar.gz/index.json: not a directory", v0.74.0).
[ -f "$DIR/oci.tar.gz" ] || tar -C "$DIR/oci" -cf - . | gzip -c >"$DIR/oci.tar.gz"
bench "oci-archive:$DIR/oci.tar.gz" nowalk
registry
[ -f "$DIR/app/index.json" ] || "$OUT/synth" -kind app -base "$DIR/oci:bench" -out "$DIR/app"
echo "== oci:$DIR/app:latest (oci:$DIR/oci:bench and an app layer), base cached; oci:$DIR/app:alone (the app layer alone)"
# shellcheck disable=SC2086
based "oci:$DIR/oci:bench" "oci:$DIR/app:latest" "oci:$DIR/app:alone" "$OUT/shipshape" ${BEFORE:-}
if [ -z "${SKIP_SYNTH:-}" ]; then
  RUNS=${SYNTH_RUNS:-$RUNS}
  [ -f "$DIR/synth-1m/index.json" ] || "$OUT/synth" -kind entries -n 1000000 -out "$DIR/synth-1m"
  bench "oci:$DIR/synth-1m:latest" nowalk
  [ -f "$DIR/synth-lists/index.json" ] || "$OUT/synth" -kind lists -layers 10 -out "$DIR/synth-lists"
  bench "oci:$DIR/synth-lists:latest" nowalk
  if [ -z "${SKIP_BIG:-}" ]; then
    [ -f "$DIR/synth-10g/index.json" ] || "$OUT/synth" -kind big -gb 10 -out "$DIR/synth-10g"
    bench "oci:$DIR/synth-10g:latest"
  fi
fi
