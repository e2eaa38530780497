FROM alpine:3.22@sha256:0000000000000000000000000000000000000000000000000000000000000001
RUN wget -qO /tmp/i.sh https://get.example.com/install.sh \
 && echo "3f1c  /tmp/i.sh" | sha256sum -c - \
 && sh /tmp/i.sh && rm /tmp/i.sh
USER 10001
