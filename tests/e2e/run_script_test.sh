#!/usr/bin/env bash
# End-to-end test of scripts/run: starts the suite on free ports with a fresh
# data directory, waits for route-registry's /healthz, checks the generated
# secret file, stops scripts/run with SIGTERM and checks that no process it
# started is left behind.
#
# Skips (exit 0) only while $BUILD_DIR/bin/proxyos-route-registry is not built.
# BUILD_DIR defaults to <repo>/build; CTest sets it to the build being tested.
set -euo pipefail

script_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
repo_root="$(cd -- "${script_dir}/../.." && pwd -P)"
build_dir="${BUILD_DIR:-${repo_root}/build}"
[[ "$build_dir" == /* ]] || build_dir="${PWD}/${build_dir}"

if [[ ! -e "${build_dir}/bin/proxyos-route-registry" ]]; then
  echo "SKIP: ${build_dir}/bin/proxyos-route-registry is not built yet"
  exit 0
fi

tmp_dir="$(mktemp -d "${TMPDIR:-/tmp}/proxyos-run-test.XXXXXX")"
data_dir="${tmp_dir}/data"
run_log="${tmp_dir}/run.log"
run_pid=""

# ------------------------------------------------------------------ helpers ---

# True when something listens on TCP port $1 (per /proc/net/tcp*) or accepts
# a connection on 127.0.0.1:$1.
port_taken() {
  local hex file
  hex="$(printf '%04X' "$1")"
  for file in /proc/net/tcp /proc/net/tcp6; do
    [[ -r "$file" ]] || continue
    if awk -v p="$hex" 'NR > 1 && $4 == "0A" { n = split($2, a, ":"); if (a[n] == p) { f = 1; exit } }
                        END { exit !f }' "$file"; then
      return 0
    fi
  done
  # shellcheck disable=SC2016 # $1 expands in the inner shell
  timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# Sets variable $1 to a free port below the kernel's ephemeral range that no
# earlier call picked.
picked=" "
redis_port="" nats_port="" registry_port="" auth_port="" sso_port=""
edge_http_port="" edge_https_port="" edge_admin_port=""
free_port() {
  local port attempt
  for (( attempt = 0; attempt < 200; attempt++ )); do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 12000 ))
    [[ "$picked" == *" ${port} "* ]] && continue
    port_taken "$port" && continue
    picked+="${port} "
    printf -v "$1" '%s' "$port"
    return 0
  done
  fail "no free TCP port found"
}

# PIDs of processes that scripts/run started for this test: redis-server and
# nats-server by their command lines, services by the data dir in their
# environment (their command lines carry no arguments).
leftover_pids() {
  {
    pgrep -f -- "redis-server .*:${redis_port}([^0-9]|$)" || true
    pgrep -f -- "nats-server .*${data_dir}" || true
    pgrep -f -- "nats-server .*-p ${nats_port}([^0-9]|$)" || true
    local pid
    for pid in $(pgrep -f -- "proxyos-" || true); do
      if tr '\0' '\n' <"/proc/${pid}/environ" 2>/dev/null \
        | grep -qxF -- "PROXYOS_DATA_DIR=${data_dir}"; then
        echo "$pid"
      fi
    done
  } | sort -u
}

show_logs() {
  echo "--- last 40 lines of scripts/run output (${run_log}):"
  tail -n 40 -- "$run_log" 2>/dev/null || true
  local log_file
  for log_file in "${data_dir}"/logs/*.log; do
    [[ -e "$log_file" ]] || continue
    echo "--- last 20 lines of ${log_file}:"
    tail -n 20 -- "$log_file" || true
  done
}

fail() {
  echo "FAIL: $*"
  show_logs
  exit 1
}

cleanup() {
  local status=$? pid
  set +e
  if [[ -n "$run_pid" ]] && kill -0 "$run_pid" 2>/dev/null; then
    kill -TERM "$run_pid" 2>/dev/null
    for (( i = 0; i < 150; i++ )); do
      kill -0 "$run_pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$run_pid" 2>/dev/null
  fi
  # Never leave processes behind, even after a failed assertion.
  if [[ -n "$redis_port" && -n "$nats_port" ]]; then
    for pid in $(leftover_pids); do kill -KILL "$pid" 2>/dev/null; done
  fi
  rm -rf -- "$tmp_dir"
  exit "$status"
}
trap cleanup EXIT

# -------------------------------------------------------------------- test ---

free_port redis_port
free_port nats_port
free_port registry_port
# Services that are not built yet get free ports too, so that later rounds
# never collide with a suite already running on the default ports.
free_port auth_port
free_port sso_port
free_port edge_http_port
free_port edge_https_port
free_port edge_admin_port
registry_url="http://127.0.0.1:${registry_port}"

echo "scripts/run with data dir ${data_dir}, redis :${redis_port}, nats :${nats_port}, registry :${registry_port}"
env -u PROXYOS_SECRET -u PROXYOS_REDIS_URL -u PROXYOS_NATS_URL \
  -u PROXYOS_AUTH_URL -u PROXYOS_REGISTRY_URL -u PROXYOS_SSO_URL \
  BUILD_DIR="$build_dir" PROXYOS_SKIP_BUILD=1 \
  PROXYOS_DATA_DIR="$data_dir" \
  PROXYOS_REDIS_PORT="$redis_port" PROXYOS_NATS_PORT="$nats_port" \
  PROXYOS_REGISTRY_LISTEN="127.0.0.1:${registry_port}" \
  PROXYOS_AUTH_LISTEN="127.0.0.1:${auth_port}" \
  PROXYOS_SSO_LISTEN="127.0.0.1:${sso_port}" \
  PROXYOS_EDGE_HTTP_LISTEN="127.0.0.1:${edge_http_port}" \
  PROXYOS_EDGE_HTTPS_LISTEN="127.0.0.1:${edge_https_port}" \
  PROXYOS_EDGE_ADMIN_LISTEN="127.0.0.1:${edge_admin_port}" \
  bash "${repo_root}/scripts/run" </dev/null >"$run_log" 2>&1 &
run_pid=$!

deadline=$((SECONDS + 60))
code=""
while :; do
  code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${registry_url}/healthz" || true)"
  [[ "$code" == 200 ]] && break
  kill -0 "$run_pid" 2>/dev/null || fail "scripts/run exited before ${registry_url}/healthz answered 200"
  (( SECONDS < deadline )) || fail "no 200 from ${registry_url}/healthz within 60 s (last: '${code}')"
  sleep 0.5
done
echo "ok: ${registry_url}/healthz answers 200"

secret_file="${data_dir}/secret"
[[ -f "$secret_file" ]] || fail "${secret_file} was not created"
mode="$(stat -c %a -- "$secret_file")"
[[ "$mode" == 600 ]] || fail "${secret_file} has mode ${mode}, want 600"
(( $(wc -c <"$secret_file") >= 33 )) || fail "${secret_file} is shorter than 32 bytes"
echo "ok: ${secret_file} exists with mode 600"

# The README's curl examples, exactly as written but for the port.
examples="${tmp_dir}/readme_examples.sh"
awk '/<!-- e2e: readme-examples -->/ { want = 1; next }
     want && /^```sh$/ { inside = 1; next }
     inside && /^```$/ { exit }
     inside { print }' "${repo_root}/README.md" \
  | sed "s/127\.0\.0\.1:7002/127.0.0.1:${registry_port}/g" >"$examples"
[[ -s "$examples" ]] || fail "no readme-examples block found in README.md"
examples_out="$(cd "$tmp_dir" && bash -eu "$examples" 2>&1)" || fail "README examples failed: ${examples_out}"
for expected in '"name":"Grafana"' 'ETag: "' '"http://127.0.0.1:3001"' '"code":"domain_conflict"' \
                '"field":"domains[0]"' '"code":"invalid_wildcard"' '"updated":1' '"revision":' 'HTTP/1.1 204'; do
  grep -qF -- "$expected" <<<"$examples_out" || fail "README examples: output lacks ${expected}: ${examples_out}"
done
echo "ok: README examples work as written"

[[ -n "$(leftover_pids)" ]] || fail "found no process of the suite to watch: the leftover check would prove nothing"

kill -TERM "$run_pid"
status=0
# scripts/run gives each group 10 s before SIGKILL: 30 s is ample.
deadline=$((SECONDS + 30))
while kill -0 "$run_pid" 2>/dev/null; do
  (( SECONDS < deadline )) || fail "scripts/run still running 30 s after SIGTERM"
  sleep 0.2
done
wait "$run_pid" || status=$?
run_pid=""
(( status == 0 )) || fail "scripts/run exited with status ${status} after SIGTERM, want 0"
echo "ok: scripts/run stopped on SIGTERM"

left="$(leftover_pids)"
if [[ -n "$left" ]]; then
  fail "processes left behind: $(ps -o pid=,args= -p "$(paste -sd, <<<"$left")")"
fi
echo "ok: no redis-server, nats-server or proxyos-* process left behind"
echo "PASS"
