#!/usr/bin/env bash
# The scaled-out compose file's Redis, run here without Docker: the exact
# start-up commands of redis-primary, redis-replica and sentinel-1 (their
# `sh -c` lines in compose/docker-compose.scale.yml) with their templates
# (deploy/redis/redis-primary.conf, redis-replica.conf, sentinel.conf), and
# the Sentinels' healthcheck. Checks that
#   - the first start copies the template to the volume and runs on the copy,
#     the replica replicates and AOF is on;
#   - CONFIG REWRITE works on the copy;
#   - after a failover (SENTINEL FAILOVER: Sentinel itself sends REPLICAOF and
#     CONFIG REWRITE), a second start keeps the rewritten files: the promoted
#     replica comes back as the primary, the old primary as its replica, and
#     the data is still there;
#   - the healthcheck passes while the named primary answers as one, and
#     fails when it does not.
# Mapped for a local run: /data and /etc/proxyos/ become temp dirs, ports are
# free loopback ports (port, dir, replicaof, replica-announce-ip and the
# Sentinel's monitor line are rewritten in the copies), and the image's
# docker-entrypoint.sh is a stub that execs its arguments.
# Called by configs_test.sh (ctest: server_configs).
set -euo pipefail

here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
repo="$(cd -- "${here}/../.." && pwd -P)"
compose="${repo}/compose/docker-compose.scale.yml"
rel="compose/docker-compose.scale.yml"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/proxyos-redis-conf.XXXXXX")"
declare -A pid=()
cleanup() {
  local name
  for name in "${!pid[@]}"; do
    kill "${pid[$name]}" 2>/dev/null || true
    wait "${pid[$name]}" 2>/dev/null || true
  done
  rm -rf -- "$tmp"
}
trap cleanup EXIT

fail() {
  printf 'redis_conf: FAIL: %s\n' "$*" >&2
  local log
  for log in "$tmp"/*.log; do
    [[ -e "$log" ]] || continue
    printf -- '--- last lines of %s:\n' "$(basename "$log")" >&2
    tail -n 15 "$log" >&2
  done
  exit 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits up to $1 tenths of a second for the command after it to succeed.
wait_for() {
  local tenths="$1" i
  shift
  for ((i = 0; i < tenths; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}

# From the compose file: each instance's `sh -c` line and the host file
# mounted at its /etc/proxyos/<name>.conf, and sentinel-1's healthcheck.
python3 - "$compose" "$tmp" <<'PY' || fail "$rel: see above"
import os, sys
import yaml

compose, tmp = sys.argv[1:3]
services = yaml.safe_load(open(compose, encoding="utf-8"))["services"]
base = os.path.dirname(compose)
bad = []
for name, conf in (("redis-primary", "redis.conf"), ("redis-replica", "redis.conf"), ("sentinel-1", "sentinel.conf")):
    s = services.get(name) or {}
    cmd = s.get("command") or []
    if not (isinstance(cmd, list) and len(cmd) == 3 and cmd[:2] == ["sh", "-c"]):
        bad.append(f"{name}: command is not [sh, -c, ...]: {cmd!r}")
        continue
    template = [v.split(":")[0] for v in s.get("volumes", []) if v.split(":")[1:2] == [f"/etc/proxyos/{conf}"]]
    if len(template) != 1:
        bad.append(f"{name}: no file mounted at /etc/proxyos/{conf}")
        continue
    open(os.path.join(tmp, name + ".snippet"), "w").write(cmd[2].replace("$$", "$"))
    open(os.path.join(tmp, name + ".template"), "w").write(os.path.normpath(os.path.join(base, template[0])))
test = ((services.get("sentinel-1") or {}).get("healthcheck") or {}).get("test") or []
if len(test) != 2 or test[0] != "CMD-SHELL":
    bad.append(f"sentinel-1: healthcheck is not [CMD-SHELL, ...]: {test!r}")
else:
    open(os.path.join(tmp, "healthcheck"), "w").write(test[1].replace("$$", "$"))
for b in bad:
    print(f"redis_conf: {b}", file=sys.stderr)
sys.exit(1 if bad else 0)
PY

mkdir -p "$tmp/bin"
printf '#!/bin/sh\nexec "$@"\n' >"$tmp/bin/docker-entrypoint.sh"
chmod +x "$tmp/bin/docker-entrypoint.sh"

p_primary="$(free_port)"
p_replica="$(free_port)"
p_sentinel="$(free_port)"
declare -A port=([redis-primary]="$p_primary" [redis-replica]="$p_replica" [sentinel-1]="$p_sentinel")

# The template, mapped for this machine, becomes <name>/etc/<conf>.
for name in redis-primary redis-replica sentinel-1; do
  conf=redis.conf
  [[ "$name" == sentinel-* ]] && conf=sentinel.conf
  template="$(cat "$tmp/$name.template")"
  [[ -r "$template" ]] || fail "$name: template ${template#"$repo"/} does not exist"
  mkdir -p "$tmp/$name/etc" "$tmp/$name/data"
  sed -e "s/^port .*/port ${port[$name]}/" \
      -e "s#^dir /data\$#dir $tmp/$name/data#" \
      -e "s/^replicaof redis-primary 6379\$/replicaof 127.0.0.1 ${p_primary}/" \
      -e "s/^replica-announce-ip .*/replica-announce-ip 127.0.0.1/" \
      -e "s/^sentinel monitor proxyos redis-primary 6379 /sentinel monitor proxyos 127.0.0.1 ${p_primary} /" \
      "$template" >"$tmp/$name/etc/$conf"
  printf 'bind 127.0.0.1\n' >>"$tmp/$name/etc/$conf"
  grep -qx "port ${port[$name]}" "$tmp/$name/etc/$conf" || fail "${template#"$repo"/}: no 'port' line"
  grep -qx "dir $tmp/$name/data" "$tmp/$name/etc/$conf" || fail "${template#"$repo"/}: no 'dir /data' line"
  snippet="$(cat "$tmp/$name.snippet")"
  [[ "$snippet" == *"/data/$conf"* && "$snippet" == *"/etc/proxyos/$conf"* ]] \
    || fail "$name: its command does not copy /etc/proxyos/$conf to /data/$conf: $snippet"
  snippet="${snippet//\/etc\/proxyos\//$tmp/$name/etc/}"
  snippet="${snippet//\/data\//$tmp/$name/data/}"
  printf '%s\n' "$snippet" >"$tmp/$name.mapped"
done

start() { # name
  PATH="$tmp/bin:$PATH" sh -c "$(cat "$tmp/$1.mapped")" >>"$tmp/$1.log" 2>&1 &
  pid[$1]=$!
}
stop() { # name
  kill "${pid[$1]}" 2>/dev/null || true
  wait "${pid[$1]}" 2>/dev/null || true
  unset "pid[$1]"
}
cli() { # name args...
  local name="$1"
  shift
  redis-cli -h 127.0.0.1 -p "${port[$name]}" "$@"
}
role() { cli "$1" role | head -n 1; }
is_role() { [[ "$(role "$1")" == "$2" ]]; }
link_up() { cli "$1" info replication | tr -d '\r' | grep -qx 'master_link_status:up'; }
healthcheck() {
  local hc
  hc="$(cat "$tmp/healthcheck")"
  hc="${hc//-p 26379/-p ${p_sentinel}}"
  sh -c "$hc"
}
data_conf() { cat "$tmp/$1/data/redis.conf"; }

# --- First start: the templates are copied, the replica replicates, AOF on.
start redis-primary
start redis-replica
wait_for 50 cli redis-primary ping || fail "redis-primary did not start on its template"
wait_for 50 cli redis-replica ping || fail "redis-replica did not start on its template"
for name in redis-primary redis-replica; do
  cmp -s "$tmp/$name/etc/redis.conf" "$tmp/$name/data/redis.conf" \
    || fail "$name: the first start did not copy the template to /data/redis.conf"
  [[ "$(cli "$name" config get appendonly | sed -n 2p)" == yes ]] || fail "$name: AOF is off"
  [[ "$(cli "$name" config get replica-announce-ip | sed -n 2p)" == 127.0.0.1 ]] \
    || fail "$name: replica-announce-ip not taken from the file"
done
grep -q '^replicaof' "$tmp/redis-primary/data/redis.conf" && fail "redis-primary's template says replicaof"
is_role redis-primary master || fail "redis-primary does not start as a primary"
wait_for 100 link_up redis-replica || fail "redis-replica does not replicate redis-primary"
echo "ok: first start copies each template to /data/redis.conf (AOF on; the replica replicates)"

cli redis-primary set proxyos:redis-conf-test kept >/dev/null
wait_for 50 sh -c "[ \"\$(redis-cli -h 127.0.0.1 -p ${p_replica} get proxyos:redis-conf-test)\" = kept ]" \
  || fail "a write on redis-primary did not reach redis-replica"
for name in redis-primary redis-replica; do
  [[ "$(cli "$name" config rewrite)" == OK ]] || fail "$name: CONFIG REWRITE on /data/redis.conf failed"
  grep -q 'Generated by CONFIG REWRITE' "$tmp/$name/data/redis.conf" \
    || fail "$name: CONFIG REWRITE did not write /data/redis.conf"
done
echo "ok: CONFIG REWRITE works on the copies"

# --- The Sentinel, from its own snippet and template; its healthcheck.
start sentinel-1
wait_for 50 redis-cli -h 127.0.0.1 -p "$p_sentinel" ping || fail "sentinel-1 did not start on its template"
[[ -f "$tmp/sentinel-1/data/sentinel.conf" ]] || fail "sentinel-1: the first start did not copy sentinel.conf"
wait_for 100 healthcheck || fail "the Sentinel healthcheck fails although the named primary is up"
echo "ok: the Sentinel healthcheck passes with redis-primary up"

# --- A failover as Sentinel does it, then a second start of both.
sentinel_master_port() {
  redis-cli -h 127.0.0.1 -p "$p_sentinel" sentinel get-master-addr-by-name proxyos | sed -n 2p
}
replica_known() {
  redis-cli -h 127.0.0.1 -p "$p_sentinel" sentinel replicas proxyos | grep -qx "127.0.0.1:${p_replica}"
}
wait_for 150 replica_known || fail "sentinel-1 did not discover redis-replica"
[[ "$(redis-cli -h 127.0.0.1 -p "$p_sentinel" sentinel failover proxyos)" == OK ]] \
  || fail "SENTINEL FAILOVER proxyos was refused"
wait_for 300 sh -c "[ \"\$(redis-cli -h 127.0.0.1 -p ${p_sentinel} sentinel get-master-addr-by-name proxyos | sed -n 2p)\" = ${p_replica} ]" \
  || fail "sentinel-1 did not promote redis-replica"
wait_for 300 is_role redis-primary slave || fail "sentinel-1 did not turn the old primary into a replica"
wait_for 100 sh -c "! grep -q '^replicaof' '$tmp/redis-replica/data/redis.conf'" \
  || fail "the promoted replica's /data/redis.conf still says replicaof (not rewritten)"
wait_for 100 grep -qx "replicaof 127.0.0.1 ${p_replica}" "$tmp/redis-primary/data/redis.conf" \
  || fail "the old primary's /data/redis.conf does not say replicaof the new primary"
wait_for 100 healthcheck || fail "the Sentinel healthcheck fails after the failover"
echo "ok: after SENTINEL FAILOVER both /data/redis.conf files hold the new roles"

stop redis-replica
stop redis-primary
start redis-replica
start redis-primary
wait_for 50 cli redis-replica ping || fail "redis-replica did not restart"
wait_for 50 cli redis-primary ping || fail "redis-primary did not restart"
cmp -s "$tmp/redis-replica/etc/redis.conf" "$tmp/redis-replica/data/redis.conf" \
  && fail "the second start of redis-replica copied the template over its rewritten file"
is_role redis-replica master \
  || fail "after a restart the promoted replica is $(role redis-replica), not the primary: its rewritten file was not kept"
wait_for 100 link_up redis-primary \
  || fail "after a restart the old primary does not replicate the new one"
[[ "$(cli redis-replica get proxyos:redis-conf-test)" == kept ]] || fail "the data did not survive the restarts"
echo "ok: the second start keeps the rewritten files: the promoted replica is still the primary"

# --- The healthcheck is about the primary: it fails when that one is down.
stop redis-replica
healthcheck 2>/dev/null && fail "the Sentinel healthcheck passes although the primary it names is down"
echo "ok: the Sentinel healthcheck fails while the primary it names is down"
echo "redis_conf: OK"
