#!/usr/bin/env bash
# Checks the server configurations under deploy/ with the servers' own
# validators, offline:
#   haproxy -c -f deploy/haproxy/haproxy.cfg   (Debian's haproxy 2.6; the
#     servers use init-addr none, so no DNS lookup happens at check time)
#   nats-server -t -c deploy/nats/<each>.conf
#   deploy/redis/sentinel.conf: redis-server has no "check only" mode, so a
#     copy is started as a real Sentinel on a free loopback port for a moment
#     (redis-primary -> localhost, dir -> a temp dir); an unknown or malformed
#     directive is a FATAL CONFIG FILE ERROR naming the line, and success is
#     Sentinel's "+monitor master proxyos" log line.
#   deploy/redis/redis-primary.conf, redis-replica.conf: redis_conf_test.sh
#     runs the scaled-out compose file's Redis and Sentinel start-up lines on
#     them (copy to the volume on first start only, CONFIG REWRITE, a
#     failover's roles kept across restarts, the Sentinel healthcheck).
set -euo pipefail

here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
repo="$(cd -- "${here}/../.." && pwd -P)"
status=0
fail() { printf '%s\n' "$*" >&2; status=1; }

if command -v haproxy >/dev/null 2>&1; then
  if out="$(haproxy -c -f "${repo}/deploy/haproxy/haproxy.cfg" 2>&1)"; then
    # Warnings still exit 0: treat them as failures, they point at real mistakes.
    if grep -qE '\[WARNING\]|\[ALERT\]' <<<"$out"; then
      fail "deploy/haproxy/haproxy.cfg: haproxy -c warns:"$'\n'"$out"
    else
      echo "ok: haproxy -c -f deploy/haproxy/haproxy.cfg"
    fi
  else
    fail "deploy/haproxy/haproxy.cfg: haproxy -c failed:"$'\n'"$out"
  fi
else
  fail "haproxy is not installed (scripts/packages.txt lists it; run scripts/bootstrap)"
fi

if command -v nats-server >/dev/null 2>&1; then
  for f in "${repo}"/deploy/nats/*.conf; do
    if out="$(nats-server -t -c "$f" 2>&1)"; then
      echo "ok: nats-server -t -c ${f#"$repo"/}"
    else
      fail "${f#"$repo"/}: nats-server -t failed:"$'\n'"$out"
    fi
  done
else
  fail "nats-server is not installed (scripts/packages.txt lists it; run scripts/bootstrap)"
fi

sentinel_conf="${repo}/deploy/redis/sentinel.conf"
if command -v redis-server >/dev/null 2>&1; then
  tmp="$(mktemp -d "${TMPDIR:-/tmp}/proxyos-sentinel.XXXXXX")"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
  sed -e "s/^port .*/port ${port}/" -e "s#^dir .*#dir ${tmp}#" -e 's/ redis-primary 6379 / localhost 6379 /' \
    "$sentinel_conf" >"${tmp}/sentinel.conf"
  printf 'bind 127.0.0.1\n' >>"${tmp}/sentinel.conf"
  : >"${tmp}/log"
  redis-server "${tmp}/sentinel.conf" --sentinel >"${tmp}/log" 2>&1 &
  pid=$!
  for _ in $(seq 1 50); do
    grep -qs '+monitor master proxyos' "${tmp}/log" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if grep -qs '+monitor master proxyos' "${tmp}/log"; then
    echo "ok: deploy/redis/sentinel.conf starts a Sentinel monitoring proxyos"
  else
    fail "deploy/redis/sentinel.conf: Sentinel did not start with it (line numbers refer to the copy, same as the file):"$'\n'"$(cat "${tmp}/log")"
  fi
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf -- "$tmp"
else
  fail "redis-server is not installed (scripts/packages.txt lists it; run scripts/bootstrap)"
fi

if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
  bash "${here}/redis_conf_test.sh" || fail "deploy/redis/redis-*.conf with compose/docker-compose.scale.yml's Redis commands: see above"
else
  fail "redis-server or redis-cli is not installed (scripts/packages.txt lists redis-server, which brings redis-tools; run scripts/bootstrap)"
fi

(( status == 0 )) && echo "configs: OK"
exit "$status"
