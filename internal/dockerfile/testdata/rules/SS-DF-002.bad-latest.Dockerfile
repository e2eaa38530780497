FROM alpine:latest
USER 10001
