FROM alpine:3.22@sha256:0000000000000000000000000000000000000000000000000000000000000001
# shipshape:ignore SS-DF-011 the cache is wiped by the next stage anyway
RUN apk add curl
# shipshape:ignore SS-DF-016
RUN sudo true
USER 10001
