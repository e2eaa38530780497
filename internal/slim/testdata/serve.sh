#!/bin/sh
read -r method path proto
while read -r line; do
  line=$(printf '%s' "$line" | tr -d '\r')
  [ -z "$line" ] && break
done
f="/www${path%%\?*}"
[ "$f" = "/www/" ] && f=/www/index.html
if [ -f "$f" ]; then
  printf 'HTTP/1.0 200 OK\r\nContent-Length: %s\r\n\r\n' "$(wc -c < "$f")"
  cat "$f"
else
  printf 'HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n'
fi
