#!/usr/bin/env bash
# End-to-end test of scripts/run: starts the suite on free ports with a fresh
# data directory, waits for auth's and route-registry's /healthz, checks the
# generated secret and admin-password files and the banner, runs the README's
# curl examples as written (but for the ports), stops scripts/run with SIGTERM
# and checks that no process it started is left behind.
#
# Skips (exit 0) only while $BUILD_DIR/bin/proxyos-auth, proxyos-edge or
# proxyos-route-registry is not built. BUILD_DIR defaults to <repo>/build;
# CTest sets it to the build being tested.
set -euo pipefail

# shellcheck source=tests/e2e/lib.sh
source "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

e2e_require_bins proxyos-auth proxyos-route-registry proxyos-edge
e2e_setup run-test
e2e_pick_ports
# shellcheck disable=SC2119 # no extra environment
e2e_start_run
e2e_wait_healthy "$auth_url"
e2e_wait_healthy "$registry_url"
e2e_wait_banner

e2e_check_private_file "${data_dir}/secret" 33

password_file="${data_dir}/admin-password"
e2e_check_private_file "$password_file" 16
password="$(<"$password_file")"
[[ "$password" =~ ^[A-Za-z0-9]{16,}$ ]] \
  || fail "${password_file} holds characters other than letters and digits, or fewer than 16"
grep -qxF -- "dashboard login: admin / (password in ${password_file})" "$run_log" \
  || fail "scripts/run's banner lacks 'dashboard login: admin / (password in ${password_file})'"
if grep -qF -- "$password" "$run_log" "${data_dir}"/logs/*.log; then
  fail "the admin password appears in scripts/run's output or a log file"
fi
echo "ok: banner names ${password_file}; the password itself is in no output or log"

# The README's curl examples, exactly as written but for the ports, run from a
# directory laid out like the repository root: .proxyos is the test's data dir.
examples_dir="${tmp_dir}/repo"
mkdir -p -- "$examples_dir"
ln -s -- "$data_dir" "${examples_dir}/.proxyos"
examples="${tmp_dir}/readme_examples.sh"
awk '/<!-- e2e: readme-examples -->/ { want = 1; next }
     want && /^```sh$/ { inside = 1; next }
     inside && /^```$/ { exit }
     inside { print }' "${repo_root}/README.md" \
  | sed -e "s/127\.0\.0\.1:7002/127.0.0.1:${registry_port}/g" \
        -e "s/127\.0\.0\.1:7001/127.0.0.1:${auth_port}/g" \
        -e "s/127\.0\.0\.1:8080/127.0.0.1:${edge_http_port}/g" \
        -e "s/127\.0\.0\.1:7004/127.0.0.1:${edge_admin_port}/g" >"$examples"
[[ -s "$examples" ]] || fail "no readme-examples block found in README.md"
examples_out="$(cd "$examples_dir" && bash -eu "$examples" 2>&1)" || fail "README examples failed: ${examples_out}"
[[ "${E2E_VERBOSE:-0}" != 1 ]] || printf -- '--- README examples output:\n%s\n---\n' "$examples_out"

# What each step must have printed, in this order: login, session (cookie),
# token works, route 201, list, read with ETag, PATCH, 409, 422, import, status,
# the edge serving the route (502: no upstream runs) and its /status, 403 csrf with the cookie alone, delete 204, logout 204, then 401.
expected=(
  '{"user":{"id":"'           '"username":"admin"'        '"via":"cookie"'
  '"via":"token"'             'HTTP/1.1 201'              '"name":"Grafana"'
  '{"routes":['               'ETag: "'                   '"http://127.0.0.1:3001"'
  '"code":"domain_conflict"'  '"code":"invalid_wildcard"' '"field":"domains[0]"'
  '"updated":1'               '"revision":'               'edge: 502'
  '"node":"'                  '"code":"csrf"'
  'HTTP/1.1 204'              'HTTP/1.1 204'              '"code":"unauthenticated"'
)
rest="$examples_out"
for want in "${expected[@]}"; do
  [[ "$rest" == *"$want"* ]] \
    || fail "README examples: output lacks '${want}' (in order) here: ${rest:0:2000}
--- whole output:
${examples_out}"
  rest="${rest#*"$want"}"
done
grep -qF 'session_revoked' <<<"$rest" \
  || fail "README examples: after logout the cookie did not get 401 session_revoked: ${examples_out}"
echo "ok: README examples work as written (login, token, routes, 409, 422, 403 csrf, delete, logout)"

e2e_stop_run
echo "PASS"
