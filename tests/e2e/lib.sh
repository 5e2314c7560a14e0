# shellcheck shell=bash
# Helpers shared by the end-to-end shell tests (run_script_test.sh,
# auth_shell_test.sh). Source it from a script running under `set -euo pipefail`:
#
#   source "$(dirname -- "${BASH_SOURCE[0]}")/lib.sh"
#   e2e_require_bins proxyos-auth proxyos-route-registry   # SKIP (exit 0) otherwise
#   e2e_setup run-test          # temp dir, data dir, cleanup trap
#   e2e_pick_ports              # free ports for Redis, NATS and every service
#   e2e_start_run               # scripts/run in the background
#   e2e_wait_healthy "$registry_url"
#   ...
#   e2e_stop_run                # SIGTERM, exit status 0, nothing left behind
#
# It sets: repo_root, build_dir, tmp_dir, data_dir, run_log, run_pid and the
# *_port / *_url variables below. BUILD_DIR defaults to <repo>/build; CTest sets
# it to the build being tested. E2E_KEEP=1 keeps the temp dir (logs, data).

e2e_lib_dir="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
repo_root="$(cd -- "${e2e_lib_dir}/../.." && pwd -P)"
build_dir="${BUILD_DIR:-${repo_root}/build}"
[[ "$build_dir" == /* ]] || build_dir="${PWD}/${build_dir}"

tmp_dir=""
data_dir=""
run_log=""
run_pid=""
redis_port="" nats_port="" registry_port="" auth_port="" sso_port=""
edge_http_port="" edge_https_port="" edge_admin_port=""
auth_url="" registry_url=""

# Skips the test (exit 0) while one of the named binaries is not built.
e2e_require_bins() {
  local bin
  for bin in "$@"; do
    if [[ ! -x "${build_dir}/bin/${bin}" ]]; then
      echo "SKIP: ${build_dir}/bin/${bin} is not built yet"
      exit 0
    fi
  done
}

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
e2e_picked=" "
free_port() {
  local port attempt
  for (( attempt = 0; attempt < 200; attempt++ )); do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 12000 ))
    [[ "$e2e_picked" == *" ${port} "* ]] && continue
    port_taken "$port" && continue
    e2e_picked+="${port} "
    printf -v "$1" '%s' "$port"
    return 0
  done
  fail "no free TCP port found"
}

# Free ports for Redis, NATS and every service. Services that are not built yet
# get free ports too, so that the test never collides with a suite already
# running on the default ports.
e2e_pick_ports() {
  free_port redis_port
  free_port nats_port
  free_port auth_port
  free_port registry_port
  free_port sso_port
  free_port edge_http_port
  free_port edge_https_port
  free_port edge_admin_port
  # shellcheck disable=SC2034 # used by the sourcing test
  auth_url="http://127.0.0.1:${auth_port}"
  # shellcheck disable=SC2034
  registry_url="http://127.0.0.1:${registry_port}"
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

# Stops scripts/run and whatever it left, removes the temp dir and exits with
# the script's status: $1 when a caller's own EXIT trap passes it, else $?.
e2e_cleanup() {
  local status=${1:-$?} pid i
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
  if [[ "${E2E_KEEP:-0}" == 1 ]]; then
    echo "kept ${tmp_dir} (E2E_KEEP=1)"
  elif [[ -n "$tmp_dir" ]]; then
    rm -rf -- "$tmp_dir"
  fi
  exit "$status"
}

# Creates the temp dir (named after $1) with data/ and run.log to come, and
# installs the cleanup trap. Paths are physical (no symlink), as scripts/run
# resolves its data dir and leftover_pids compares it.
e2e_setup() {
  tmp_dir="$(mktemp -d "${TMPDIR:-/tmp}/proxyos-$1.XXXXXX")"
  tmp_dir="$(cd -- "$tmp_dir" && pwd -P)"
  data_dir="${tmp_dir}/data"
  run_log="${tmp_dir}/run.log"
  trap e2e_cleanup EXIT
}

# Starts scripts/run in the background on the picked ports, with a fresh data
# dir and none of the caller's PROXYOS_* settings that would change what it
# generates. Extra NAME=VALUE arguments are added to its environment.
e2e_start_run() {
  echo "scripts/run with data dir ${data_dir}, redis :${redis_port}, nats :${nats_port}," \
    "auth :${auth_port}, registry :${registry_port}"
  env -u PROXYOS_SECRET -u PROXYOS_SECRET_PREVIOUS -u PROXYOS_REDIS_URL -u PROXYOS_NATS_URL \
    -u PROXYOS_AUTH_URL -u PROXYOS_REGISTRY_URL -u PROXYOS_SSO_URL -u PROXYOS_URL \
    -u PROXYOS_COOKIE_DOMAIN -u PROXYOS_ADMIN_USER -u PROXYOS_ADMIN_PASSWORD -u PROXYOS_LISTEN \
    BUILD_DIR="$build_dir" PROXYOS_SKIP_BUILD=1 \
    PROXYOS_DATA_DIR="$data_dir" \
    PROXYOS_REDIS_PORT="$redis_port" PROXYOS_NATS_PORT="$nats_port" \
    PROXYOS_AUTH_LISTEN="127.0.0.1:${auth_port}" \
    PROXYOS_REGISTRY_LISTEN="127.0.0.1:${registry_port}" \
    PROXYOS_SSO_LISTEN="127.0.0.1:${sso_port}" \
    PROXYOS_EDGE_HTTP_LISTEN="127.0.0.1:${edge_http_port}" \
    PROXYOS_EDGE_HTTPS_LISTEN="127.0.0.1:${edge_https_port}" \
    PROXYOS_EDGE_ADMIN_LISTEN="127.0.0.1:${edge_admin_port}" \
    "$@" \
    bash "${repo_root}/scripts/run" </dev/null >"$run_log" 2>&1 &
  run_pid=$!
}

# Waits (up to 60 s) for 200 from $1/healthz while scripts/run is alive.
e2e_wait_healthy() {
  local url="$1" deadline=$((SECONDS + 60)) code=""
  while :; do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${url}/healthz" || true)"
    [[ "$code" == 200 ]] && break
    kill -0 "$run_pid" 2>/dev/null || fail "scripts/run exited before ${url}/healthz answered 200"
    (( SECONDS < deadline )) || fail "no 200 from ${url}/healthz within 60 s (last: '${code}')"
    sleep 0.5
  done
  echo "ok: ${url}/healthz answers 200"
}

# Waits until scripts/run has printed its banner (every service is up).
e2e_wait_banner() {
  local deadline=$((SECONDS + 60))
  until grep -q '^Press Ctrl-C to stop' "$run_log" 2>/dev/null; do
    kill -0 "$run_pid" 2>/dev/null || fail "scripts/run exited before printing its banner"
    (( SECONDS < deadline )) || fail "scripts/run printed no banner within 60 s"
    sleep 0.2
  done
}

# Fails unless $1 is a regular file with mode 600 and at least $2 bytes.
e2e_check_private_file() {
  local file="$1" min="$2" mode
  [[ -f "$file" ]] || fail "${file} was not created"
  mode="$(stat -c %a -- "$file")"
  [[ "$mode" == 600 ]] || fail "${file} has mode ${mode}, want 600"
  (( $(wc -c <"$file") >= min )) || fail "${file} is shorter than ${min} bytes"
  echo "ok: ${file} exists with mode 600"
}

# Stops scripts/run with SIGTERM, wants exit status 0 and no process left.
e2e_stop_run() {
  local status=0 deadline left
  [[ -n "$(leftover_pids)" ]] || fail "found no process of the suite to watch: the leftover check would prove nothing"
  kill -TERM "$run_pid"
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
}
