#!/usr/bin/env bash
# Measures `shipshape server` for a fleet (issue 16): images/min with 1 and
# 3 replica processes on one Redis (shared layer cache), how often the
# fleet analysed each layer, the largest peak RSS of a replica, and one
# scan with a cold, a locally cached and a Redis-cached base. Needs
# docker-registry and redis-server (Debian packages) and the Alpine
# rootfs of the shared test data (SHIPSHAPE_SHARED_DATA, default
# testdata/data).
set -euo pipefail
cd "$(dirname "$0")/.."
export SHIPSHAPE_SHARED_DATA=${SHIPSHAPE_SHARED_DATA:-/work/shared/data}
go test -run '^$' -bench 'RedisReplicas' -benchtime 1x ./internal/server/ | grep -E 'Benchmark|ns/op|ok'
go test -run '^$' -bench 'CachedBase' -benchtime 5x ./internal/server/ | grep -E 'Benchmark|ns/op|ok'
