#!/usr/bin/env bash
# Validates deploy/systemd/ offline:
#   - `systemd-analyze verify` on every unit (works without a running systemd;
#     it reports unknown keys and bad values as FILE:LINE). The units'
#     ExecStart binaries live in /usr/local/bin only once installed, so the
#     one complaint "Command /usr/local/bin/proxyos-<service> is not
#     executable" is expected here and filtered out; anything else fails.
#   - the keys issue #9 asks for: a shared EnvironmentFile, a non-root user,
#     NoNewPrivileges, ProtectSystem=strict, StateDirectory=proxyos,
#     Restart=on-failure, and CAP_NET_BIND_SERVICE for the edge only.
# Without systemd-analyze (not a systemd system) only the key checks run.
set -euo pipefail

here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
repo="$(cd -- "${here}/../.." && pwd -P)"
dir="${repo}/deploy/systemd"
services=(auth route-registry sso-provider edge)
status=0

fail() { printf '%s\n' "$*" >&2; status=1; }

units=()
for s in "${services[@]}"; do
  u="${dir}/proxyos-${s}.service"
  [[ -r "$u" ]] || { fail "deploy/systemd/proxyos-${s}.service: missing"; continue; }
  units+=("$u")
done
[[ -r "${dir}/proxyos.target" ]] && units+=("${dir}/proxyos.target")

if command -v systemd-analyze >/dev/null 2>&1; then
  out="$(cd "$dir" && systemd-analyze verify --man=no "${units[@]}" 2>&1)" || true
  unexpected="$(grep -vE '^proxyos-[a-z-]+\.service: Command /usr/local/bin/proxyos-[a-z-]+ is not executable: No such file or directory$' <<<"$out" | grep -v '^$' || true)"
  if [[ -n "$unexpected" ]]; then
    fail "systemd-analyze verify deploy/systemd/*:"$'\n'"${unexpected}"
  else
    echo "ok: systemd-analyze verify (${#units[@]} units)"
  fi
else
  echo "note: systemd-analyze not found; key checks only"
fi

key() { # file regex what
  local f="$1" re="$2" what="$3" n
  n="$(grep -nE "$re" "$f" | head -n1 | cut -d: -f1 || true)"
  [[ -n "$n" ]] || fail "${f#"$repo"/}:1: missing ${what} (${re})"
}
nokey() {
  local f="$1" re="$2" what="$3" n
  n="$(grep -nE "$re" "$f" | head -n1 | cut -d: -f1 || true)"
  [[ -z "$n" ]] || fail "${f#"$repo"/}:${n}: ${what}"
}
for s in "${services[@]}"; do
  f="${dir}/proxyos-${s}.service"
  [[ -r "$f" ]] || continue
  key "$f" '^ExecStart=/usr/local/bin/proxyos-'"${s}"'$' "ExecStart of proxyos-${s}"
  key "$f" '^EnvironmentFile=/etc/proxyos/proxyos\.env$' "the shared EnvironmentFile"
  key "$f" '^(User=proxyos|DynamicUser=yes)$' "a non-root user"
  nokey "$f" '^User=(root|0)$' "runs as root"
  key "$f" '^NoNewPrivileges=yes$' "NoNewPrivileges=yes"
  key "$f" '^ProtectSystem=strict$' "ProtectSystem=strict"
  key "$f" '^StateDirectory=proxyos$' "StateDirectory=proxyos"
  key "$f" '^Restart=on-failure$' "Restart=on-failure"
  if [[ "$s" == edge ]]; then
    key "$f" '^AmbientCapabilities=CAP_NET_BIND_SERVICE$' "AmbientCapabilities=CAP_NET_BIND_SERVICE (ports 80/443)"
    key "$f" '^CapabilityBoundingSet=CAP_NET_BIND_SERVICE$' "CapabilityBoundingSet=CAP_NET_BIND_SERVICE"
  else
    nokey "$f" 'CAP_NET_BIND_SERVICE' "a control-plane service does not need CAP_NET_BIND_SERVICE"
    key "$f" '^Environment=PROXYOS_LISTEN=127\.0\.0\.1:700[123]$' "its own PROXYOS_LISTEN"
  fi
done
[[ -r "${dir}/proxyos.env.example" ]] || fail "deploy/systemd/proxyos.env.example: missing"
if [[ -r "${dir}/proxyos.env.example" ]]; then
  nokey "${dir}/proxyos.env.example" '^PROXYOS_LISTEN=' "PROXYOS_LISTEN in the shared file would override every unit's own"
fi

(( status == 0 )) && echo "systemd_units: OK"
exit "$status"
