FROM alpine:3.22@sha256:0000000000000000000000000000000000000000000000000000000000000001
COPY .env.example /app/.env.example
COPY --from=builder /root/.ssh/known_hosts /etc/ssh/
USER 10001
