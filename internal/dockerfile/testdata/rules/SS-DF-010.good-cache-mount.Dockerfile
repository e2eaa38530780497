FROM debian:12-slim@sha256:0000000000000000000000000000000000000000000000000000000000000001
RUN --mount=type=cache,target=/var/lib/apt/lists --mount=type=cache,target=/var/cache/apt \
    apt-get update && apt-get install -y --no-install-recommends curl
USER 10001
