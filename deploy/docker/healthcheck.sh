#!/bin/bash
# proxyos-healthcheck VAR [DEFAULT] — the containers' HEALTHCHECK.
#
# GETs /healthz on the host:port held in the environment variable VAR (the
# listener the service really uses, e.g. PROXYOS_LISTEN or
# PROXYOS_EDGE_ADMIN_LISTEN), or DEFAULT when VAR is unset or empty, and exits
# 0 on HTTP 200, 1 otherwise. A wildcard host (":7001", "0.0.0.0", "[::]") is
# reached on loopback. Bash's /dev/tcp does the HTTP, so the images need no
# curl or wget.
set -u

var="${1:?usage: proxyos-healthcheck VAR [DEFAULT]}"
addr="${!var:-${2:-}}"
[[ -n "$addr" ]] || { echo "proxyos-healthcheck: $var is not set and no default given" >&2; exit 1; }

port="${addr##*:}"
host="${addr%:*}"
host="${host#[}"
host="${host%]}"
case "$host" in
  "" | "*" | 0.0.0.0) host=127.0.0.1 ;;
  "::") host=::1 ;;
esac
[[ "$port" =~ ^[0-9]+$ ]] || { echo "proxyos-healthcheck: $var=\"$addr\" has no port" >&2; exit 1; }

if ! { exec 3<>"/dev/tcp/${host}/${port}"; } 2>/dev/null; then
  echo "proxyos-healthcheck: cannot connect to ${host}:${port}" >&2
  exit 1
fi
printf 'GET /healthz HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nUser-Agent: proxyos-healthcheck\r\n\r\n' "$host" >&3
status=""
IFS= read -r -t 5 status <&3 || true
exec 3<&- 3>&-
status="${status%$'\r'}"
if [[ "$status" =~ ^HTTP/1\.[01]\ 200 ]]; then
  exit 0
fi
echo "proxyos-healthcheck: GET http://${host}:${port}/healthz answered \"${status:-nothing}\"" >&2
exit 1
