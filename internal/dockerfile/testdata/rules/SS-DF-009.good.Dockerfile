FROM debian:12-slim@sha256:0000000000000000000000000000000000000000000000000000000000000001
RUN apt-get update && apt-get -o APT::Install-Recommends=false install -y curl && rm -rf /var/lib/apt/lists/*
USER 10001
