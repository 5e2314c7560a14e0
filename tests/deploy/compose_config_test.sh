#!/usr/bin/env bash
# Validates compose/docker-compose.yml and compose/docker-compose.scale.yml
# offline with Debian's docker-compose (no Docker engine needed):
#   - `config -q` passes with compose/.env.example plus a secret (and the
#     scaled-out file's admin password);
#   - without PROXYOS_SECRET (compose/.env.example as shipped) both fail with
#     the message that says how to set it; the scaled-out file also insists on
#     PROXYOS_ADMIN_PASSWORD;
#   - compose_check.py checks the resolved files' structure (health
#     conditions, published ports, NATS routes, Sentinel, haproxy targets...);
#   - one .env serves both files: with every example value of .env.example
#     uncommented (single-node and scaled-out examples alike) each file still
#     passes those checks and keeps its own stores' addresses.
# The calls run with an empty environment so that a PROXYOS_* variable of the
# caller cannot hide a missing setting.
set -euo pipefail

here="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd -P)"
repo="$(cd -- "${here}/../.." && pwd -P)"
example="${repo}/compose/.env.example"
files=("${repo}/compose/docker-compose.yml" "${repo}/compose/docker-compose.scale.yml")

fail() { printf 'compose_config: FAIL: %s\n' "$*" >&2; exit 1; }

command -v docker-compose >/dev/null 2>&1 \
  || fail "docker-compose is not installed (scripts/packages.txt lists it; run scripts/bootstrap)"
[[ -r "$example" ]] || fail "${example#"$repo"/}: missing"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/proxyos-compose.XXXXXX")"
trap 'rm -rf -- "$tmp"' EXIT

compose() { # env-file compose-file args...
  local envfile="$1" file="$2"
  shift 2
  (cd "$tmp" && env -i PATH="$PATH" HOME="$tmp" \
    docker-compose -f "$file" --env-file "$envfile" "$@")
}

# .env.example as a user fills it in: the secret set, everything else as shipped.
secret="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
sed "s/^PROXYOS_SECRET=.*/PROXYOS_SECRET=${secret}/" "$example" >"$tmp/with-secret.env"
grep -q "^PROXYOS_SECRET=${secret}\$" "$tmp/with-secret.env" \
  || fail "${example#"$repo"/}: no 'PROXYOS_SECRET=' line to fill in"
cp "$tmp/with-secret.env" "$tmp/full.env"
printf 'PROXYOS_ADMIN_PASSWORD=compose-config-test-pw\n' >>"$tmp/full.env"
# ...and a user who uncommented every example line (last assignment wins).
{ cat "$tmp/full.env"; sed -n 's/^#\(PROXYOS_[A-Z0-9_]*=\)/\1/p' "$example"; } >"$tmp/examples.env"
grep -q '^PROXYOS_NATS_URL=' "$tmp/examples.env" \
  || fail "${example#"$repo"/}: no '#PROXYOS_NATS_URL=' example line"

for f in "${files[@]}"; do
  name="${f#"$repo"/}"
  [[ -r "$f" ]] || fail "$name: missing"

  if ! out="$(compose "$tmp/full.env" "$f" config -q 2>&1)"; then
    fail "$name: docker-compose config -q failed:"$'\n'"$out"
  fi
  echo "ok: $name passes docker-compose config -q"

  compose "$tmp/full.env" "$f" config >"$tmp/resolved.yml" 2>"$tmp/resolved.err" \
    || fail "$name: docker-compose config failed: $(cat "$tmp/resolved.err")"
  kind=single
  [[ "$name" == *scale* ]] && kind=scale
  python3 "${here}/compose_check.py" "$kind" "$tmp/resolved.yml" "$f" "$repo" \
    || fail "$name: structural checks failed (above)"
  echo "ok: $name structure ($kind)"

  compose "$tmp/examples.env" "$f" config >"$tmp/examples.yml" 2>"$tmp/examples.err" \
    || fail "$name: docker-compose config failed with .env.example's example values uncommented: $(cat "$tmp/examples.err")"
  python3 "${here}/compose_check.py" "$kind" "$tmp/examples.yml" "$f" "$repo" "$tmp/resolved.yml" \
    || fail "$name: with .env.example's example values uncommented (above)"
  echo "ok: $name keeps its own stores with every example value of .env.example set"

  # Missing secret: .env.example as shipped has an empty PROXYOS_SECRET.
  if out="$(compose "$example" "$f" config -q 2>&1)"; then
    fail "$name: config passed without PROXYOS_SECRET; it must refuse (\${PROXYOS_SECRET:?...})"
  fi
  grep -q 'PROXYOS_SECRET is not set' <<<"$out" \
    || fail "$name: without PROXYOS_SECRET the error does not explain it; got:"$'\n'"$out"
  grep -q 'openssl rand -hex 32' <<<"$out" \
    || fail "$name: the missing-secret message does not say how to generate one; got:"$'\n'"$out"
  echo "ok: $name refuses to start without PROXYOS_SECRET"
done

# The scaled-out file needs the first admin's password (two auth replicas).
scale="${repo}/compose/docker-compose.scale.yml"
if out="$(compose "$tmp/with-secret.env" "$scale" config -q 2>&1)"; then
  fail "compose/docker-compose.scale.yml: config passed without PROXYOS_ADMIN_PASSWORD"
fi
grep -q 'PROXYOS_ADMIN_PASSWORD is not set' <<<"$out" \
  || fail "compose/docker-compose.scale.yml: without PROXYOS_ADMIN_PASSWORD the error does not explain it; got:"$'\n'"$out"
echo "ok: compose/docker-compose.scale.yml refuses to start without PROXYOS_ADMIN_PASSWORD"
echo "compose_config: OK"
