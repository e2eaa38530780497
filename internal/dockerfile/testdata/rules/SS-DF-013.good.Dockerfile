FROM alpine:3.22@sha256:0000000000000000000000000000000000000000000000000000000000000001
ENV DB_PASSWORD_FILE=/run/secrets/db \
    TOKEN_URL=https://auth.example.com/token \
    PATH=/usr/local/bin:/usr/bin:/bin \
    AUTH_ENABLED=true
USER 10001
