#!/usr/bin/env bash
# End-to-end test of authentication from the shell, as a new user would do it
# (issue #3, acceptance 6 and 7): scripts/run on free ports with a fresh data
# dir; log in with curl and a cookie jar using .proxyos/admin-password; the
# cookie with the dashboard's Origin may change routes, without it 403 csrf;
# a viewer (session or API token) may read but not write; an admin token may
# write; after logout the cookie gets 401 at auth and at route-registry. Then no
# log file and not scripts/run's output may contain the admin password, a token
# secret or the session cookie. Finally scripts/run stops on SIGTERM and leaves
# no process behind.
#
# Skips (exit 0) only while $BUILD_DIR/bin/proxyos-auth or
# proxyos-route-registry is not built. BUILD_DIR defaults to <repo>/build;
# CTest sets it to the build being tested.
set -euo pipefail

# shellcheck source=tests/e2e/lib.sh
source "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)/lib.sh"

origin="http://localhost:8080" # PROXYOS_URL's default, which scripts/run exports

e2e_require_bins proxyos-auth proxyos-route-registry
e2e_setup auth-shell-test
e2e_pick_ports
# The most verbose log level: nothing secret may be logged even there.
e2e_start_run PROXYOS_LOG_LEVEL=trace
e2e_wait_healthy "$auth_url"
e2e_wait_healthy "$registry_url"
e2e_wait_banner

password_file="${data_dir}/admin-password"
e2e_check_private_file "$password_file" 16
admin_password="$(<"$password_file")"

admin_jar="${tmp_dir}/admin.cookies"
viewer_jar="${tmp_dir}/viewer.cookies"
body_file="${tmp_dir}/body"
headers_file="${tmp_dir}/headers"
status=""
body=""

# call DESCRIPTION WANT_STATUS [WANT_ERROR_CODE] -- CURL_ARGS...
# Runs curl, fails unless it answers WANT_STATUS (and, when given, an error body
# with "code":"WANT_ERROR_CODE"); leaves the answer in $status, $body and
# $headers_file.
call() {
  local what="$1" want="$2" want_code=""
  shift 2
  if [[ "$1" != -- ]]; then want_code="$1"; shift; fi
  shift # --
  : >"$body_file"
  status="$(curl -s --max-time 10 -o "$body_file" -D "$headers_file" -w '%{http_code}' "$@")" \
    || status="curl exit $?"
  body="$(<"$body_file")"
  [[ "$status" == "$want" ]] || fail "${what}: got ${status}, want ${want}: ${body}"
  if [[ -n "$want_code" && "$body" != *"\"code\":\"${want_code}\""* ]]; then
    fail "${what}: ${status} without \"code\":\"${want_code}\": ${body}"
  fi
  echo "ok: ${what} -> ${status}${want_code:+ ${want_code}}"
}

json_field() { # value of the first string field $1 in $body
  sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" <<<"$body"
}

route_json() { # a route for domain $1
  printf '{"domains":["%s"],"upstreams":["http://127.0.0.1:3000"]}' "$1"
}

# --------------------------------------------------------------- log in ---

# Passwords go through stdin (printf is a builtin): never on a command line.
printf -v login '{"username":"admin","password":"%s"}' "$admin_password"
call "admin login with the password from ${password_file}" 200 -- \
  -c "$admin_jar" -X POST "${auth_url}/api/auth/login" \
  -H 'Content-Type: application/json' --data-binary @- <<<"$login"
(( $(grep -ci '^set-cookie:' "$headers_file") == 1 )) \
  || fail "login answered $(grep -ci '^set-cookie:' "$headers_file") Set-Cookie headers, want 1"
cookie="$(awk -F '\t' '$6 == "proxyos_session" { print $7 }' "$admin_jar")"
[[ "$cookie" == *.*.* ]] || fail "no proxyos_session cookie of the form kid.token.mac in the cookie jar"

call "GET /api/auth/session with the cookie" 200 -- -b "$admin_jar" "${auth_url}/api/auth/session"
[[ "$body" == *'"role":"admin"'* && "$body" == *'"via":"cookie"'* ]] \
  || fail "session is not the admin's via cookie: ${body}"

# ------------------------------------------ cookie: Origin or 403 csrf ---

call "POST /api/routes with the cookie and Origin" 201 -- \
  -b "$admin_jar" -H "Origin: ${origin}" -X POST "${registry_url}/api/routes" \
  -H 'Content-Type: application/json' -d "$(route_json cookie.example.com)"
call "POST /api/routes with the cookie but no Origin" 403 csrf -- \
  -b "$admin_jar" -X POST "${registry_url}/api/routes" \
  -H 'Content-Type: application/json' -d "$(route_json no-origin.example.com)"
call "POST /api/routes with the cookie and a foreign Origin" 403 csrf -- \
  -b "$admin_jar" -H 'Origin: http://evil.example.com' -X POST "${registry_url}/api/routes" \
  -H 'Content-Type: application/json' -d "$(route_json evil-origin.example.com)"

# ----------------------------------------------------- viewer: reads only ---

viewer_password="viewer-$(openssl rand -hex 12)"
call "POST /api/auth/users (a viewer)" 201 -- \
  -b "$admin_jar" -H "Origin: ${origin}" -X POST "${auth_url}/api/auth/users" \
  -H 'Content-Type: application/json' --data-binary @- \
  <<<"{\"username\":\"vera\",\"password\":\"${viewer_password}\",\"role\":\"viewer\",\"email\":\"vera@example.com\"}"

printf -v login '{"username":"vera","password":"%s"}' "$viewer_password"
call "viewer login" 200 -- -c "$viewer_jar" -X POST "${auth_url}/api/auth/login" \
  -H 'Content-Type: application/json' --data-binary @- <<<"$login"
[[ "$body" == *'"role":"viewer"'* ]] || fail "the viewer's login answer lacks role viewer: ${body}"
call "GET /api/routes with the viewer's cookie" 200 -- -b "$viewer_jar" "${registry_url}/api/routes"
call "POST /api/routes with the viewer's cookie and Origin" 403 forbidden -- \
  -b "$viewer_jar" -H "Origin: ${origin}" -X POST "${registry_url}/api/routes" \
  -H 'Content-Type: application/json' -d "$(route_json viewer-cookie.example.com)"
call "POST /api/auth/tokens by the viewer" 403 forbidden -- \
  -b "$viewer_jar" -H "Origin: ${origin}" -X POST "${auth_url}/api/auth/tokens" \
  -H 'Content-Type: application/json' -d '{"name":"vera-cli","role":"viewer"}'

call "POST /api/auth/tokens (role viewer) by the admin" 201 -- \
  -b "$admin_jar" -H "Origin: ${origin}" -X POST "${auth_url}/api/auth/tokens" \
  -H 'Content-Type: application/json' -d '{"name":"shell-viewer","role":"viewer"}'
viewer_token="$(json_field secret)"
[[ "$viewer_token" == pxat_* ]] || fail "no pxat_ secret in the token answer: ${body}"

call "POST /api/routes with the viewer token" 403 forbidden -- \
  -H "Authorization: Bearer ${viewer_token}" -X POST "${registry_url}/api/routes" \
  -H 'Content-Type: application/json' -d "$(route_json viewer-token.example.com)"
call "GET /api/routes with the viewer token" 200 -- \
  -H "Authorization: Bearer ${viewer_token}" "${registry_url}/api/routes"
[[ "$body" == *'"cookie.example.com"'* ]] || fail "the viewer does not see the route created with the cookie: ${body}"
[[ "$body" != *'no-origin.example.com'* && "$body" != *'viewer-'*'.example.com'* ]] \
  || fail "a refused request created a route anyway: ${body}"

# ------------------------------------------------------ admin API token ---

call "POST /api/auth/tokens (role admin) by the admin" 201 -- \
  -b "$admin_jar" -H "Origin: ${origin}" -X POST "${auth_url}/api/auth/tokens" \
  -H 'Content-Type: application/json' -d '{"name":"shell-admin","role":"admin"}'
admin_token="$(json_field secret)"
[[ "$admin_token" == pxat_* ]] || fail "no pxat_ secret in the token answer: ${body}"
[[ "$admin_token" != "$viewer_token" ]] || fail "two tokens got the same secret"

call "POST /api/routes with the admin token (no Origin needed)" 201 -- \
  -H "Authorization: Bearer ${admin_token}" -X POST "${registry_url}/api/routes" \
  -H 'Content-Type: application/json' -d "$(route_json admin-token.example.com)"
call "POST /api/routes with a made-up token" 401 unauthenticated -- \
  -H "Authorization: Bearer ${admin_token%.*}.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" \
  -X POST "${registry_url}/api/routes" \
  -H 'Content-Type: application/json' -d "$(route_json made-up.example.com)"

# --------------------------------------------------------------- logout ---

# -b without -c: the jar keeps the cookie, to show it no longer works.
call "POST /api/auth/logout" 204 -- -b "$admin_jar" -H "Origin: ${origin}" -X POST "${auth_url}/api/auth/logout"
call "GET /api/auth/session with the logged-out cookie" 401 session_revoked -- -b "$admin_jar" "${auth_url}/api/auth/session"
call "GET /api/routes with the logged-out cookie" 401 unauthenticated -- -b "$admin_jar" "${registry_url}/api/routes"
call "GET /api/routes with the admin token after logout" 200 -- \
  -H "Authorization: Bearer ${admin_token}" "${registry_url}/api/routes"

e2e_stop_run

# ------------------------------------------------ no secret in any log ---

# Stopped first, so that every log is complete. Each secret whole and, for
# cookie and tokens, the random part alone (kid and token id are not secret).
cookie_token="${cookie#*.}"
cookie_token="${cookie_token%.*}"
cookie_mac="${cookie##*.}"
secrets=(
  "admin password:${admin_password}"
  "viewer password:${viewer_password}"
  "session cookie:${cookie}"
  "session cookie's token:${cookie_token}"
  "session cookie's MAC:${cookie_mac}"
  "viewer token:${viewer_token}"
  "viewer token's secret part:${viewer_token##*.}"
  "admin token:${admin_token}"
  "admin token's secret part:${admin_token##*.}"
)
mapfile -t log_files < <(find "$data_dir" -type f -name '*.log'; echo "$run_log")
(( ${#log_files[@]} >= 5 )) || fail "expected scripts/run's output and 4 log files, found: ${log_files[*]}"
grep -q 'path=/api/auth/login' "${data_dir}/logs/proxyos-auth.log" \
  || fail "proxyos-auth.log has no access line for the login: the leak check would prove nothing"
for entry in "${secrets[@]}"; do
  name="${entry%%:*}"
  value="${entry#*:}"
  (( ${#value} >= 12 )) || fail "${name} is too short (${#value}) to look for"
  if leaked="$(grep -lF -- "$value" "${log_files[@]}")"; then
    fail "the ${name} appears in: ${leaked}"
  fi
done
echo "ok: no password, token secret or cookie in scripts/run's output or in ${#log_files[@]} log files"
echo "PASS"
