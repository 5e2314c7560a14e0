#!/usr/bin/env bash
# The dashboard's browser tests (issue #8): starts the whole suite with
# scripts/run on free ports and an echo upstream, then drives headless Debian
# Chromium through dashboard.spec.mjs (playwright-core, installed by
# scripts/bootstrap into tests/browser/node_modules).
#
#   tests/browser/run.sh main | secure-cookie-over-http | host-mismatch
#
# Hosts: the dashboard is dash.browser.test and routes are <name>.browser.test;
# the spec maps *.browser.test to 127.0.0.1 inside Chromium
# (--host-resolver-rules), so the browser sends real host names and cookies
# behave as on a real site (localhost would be a secure context, where a
# Secure cookie survives plain HTTP).
#
# Screenshots go to $BUILD_DIR/browser-screenshots/<scenario>/; with
# PROXYOS_UPDATE_SCREENSHOTS=1 a passing run also copies them to
# docs/screenshots/. E2E_KEEP=1 keeps the temp dir (logs, data).
set -euo pipefail
source "$(dirname -- "${BASH_SOURCE[0]}")/../e2e/lib.sh"

scenario="${1:-}"
case "$scenario" in
  main | secure-cookie-over-http | host-mismatch) ;;
  *) echo "usage: $0 main|secure-cookie-over-http|host-mismatch" >&2; exit 2 ;;
esac

e2e_require_bins proxyos-auth proxyos-route-registry proxyos-sso-provider proxyos-edge
browser_dir="${repo_root}/tests/browser"
command -v node >/dev/null 2>&1 || { echo "FAIL: node not found: run scripts/bootstrap"; exit 1; }
[[ -x /usr/bin/chromium ]] || { echo "FAIL: /usr/bin/chromium not found: run scripts/bootstrap"; exit 1; }
[[ -d "${browser_dir}/node_modules/playwright-core" ]] ||
  { echo "FAIL: ${browser_dir}/node_modules/playwright-core is missing: run scripts/bootstrap"; exit 1; }

e2e_setup "browser-${scenario}"
e2e_pick_ports
free_port upstream_port

domain=browser.test
case "$scenario" in
  main)
    public_url="http://dash.${domain}:${edge_http_port}"
    open_url="$public_url" ;;
  secure-cookie-over-http)
    # PROXYOS_URL is https (the cookie is Secure) but the page is opened over http.
    public_url="https://dash.${domain}:${edge_https_port}"
    open_url="http://dash.${domain}:${edge_http_port}" ;;
  host-mismatch)
    # Opened by IP address: the cookie is set for 127.0.0.1, not for PROXYOS_URL's host.
    public_url="http://dash.${domain}:${edge_http_port}"
    open_url="http://127.0.0.1:${edge_http_port}" ;;
esac

admin_password="browser-$(openssl rand -hex 12)"
# The dashboard's files: scripts/run's default, services/dashboard.
e2e_start_run PROXYOS_URL="$public_url" PROXYOS_ADMIN_USER=admin PROXYOS_ADMIN_PASSWORD="$admin_password"
e2e_wait_banner

upstream_log="${tmp_dir}/upstream.log"
node "${browser_dir}/echo_upstream.mjs" "$upstream_port" >"$upstream_log" 2>&1 &
upstream_pid=$!
# (The status goes to e2e_cleanup as an argument: with set -e, a trap that
# re-raised it by `(exit "$st")` stopped right there on a failure and left
# the whole suite running.)
trap 'st=$?; kill "$upstream_pid" 2>/dev/null || true; e2e_cleanup "$st"' EXIT
for (( i = 0; i < 100; i++ )); do
  grep -q '^listening' "$upstream_log" 2>/dev/null && break
  kill -0 "$upstream_pid" 2>/dev/null || fail "echo upstream exited: $(cat "$upstream_log")"
  sleep 0.1
done
grep -q '^listening' "$upstream_log" || fail "echo upstream did not start"

screenshot_dir="${build_dir}/browser-screenshots/${scenario}"
rm -rf -- "$screenshot_dir"
mkdir -p -- "$screenshot_dir"

echo "spec ${scenario}: PROXYOS_URL=${public_url}, browser opens ${open_url}"
status=0
SCENARIO="$scenario" DASHBOARD_URL="$open_url" PROXYOS_URL="$public_url" \
  ADMIN_USER=admin ADMIN_PASSWORD="$admin_password" \
  UPSTREAM_URL="http://127.0.0.1:${upstream_port}" ROUTE_HOST_SUFFIX="$domain" \
  EDGE_HTTP_PORT="$edge_http_port" EDGE_HTTPS_PORT="$edge_https_port" \
  SCREENSHOT_DIR="$screenshot_dir" BROWSER_HOST_RULES="MAP *.${domain} 127.0.0.1" \
  timeout -k 5 240 node "${BROWSER_SPEC:-${browser_dir}/dashboard.spec.mjs}" || status=$?
(( status == 0 )) || fail "dashboard.spec.mjs ${scenario} exited ${status} (screenshots in ${screenshot_dir})"

if [[ "${PROXYOS_UPDATE_SCREENSHOTS:-0}" == 1 ]]; then
  mkdir -p -- "${repo_root}/docs/screenshots"
  cp -- "$screenshot_dir"/*.png "${repo_root}/docs/screenshots/" 2>/dev/null || true
  echo "copied $(ls "$screenshot_dir" | wc -l) screenshot(s) to docs/screenshots/"
fi
echo "PASS: browser ${scenario}"
