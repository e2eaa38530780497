FROM alpine:3.22@sha256:0000000000000000000000000000000000000000000000000000000000000001
RUN apk add --no-cache curl
RUN --mount=type=cache,target=/var/cache/apk apk add git
USER 10001
