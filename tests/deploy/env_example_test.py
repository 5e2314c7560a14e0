#!/usr/bin/env python3
"""compose/.env.example documents every variable the services and compose read.

  1. Every variable that a service binary's --help lists ($BUILD_DIR/bin/proxyos-*),
     plus PROXYOS_REDIS_SENTINEL, PROXYOS_REDIS_MASTER and PROXYOS_NATS_REPLICAS,
     appears in compose/.env.example (as VAR=... or #VAR=...) right under a
     comment block that names it.
  2. Every ${VAR} interpolated in compose/docker-compose*.yml is in .env.example.
  3. Every variable in .env.example is read by a service or by a compose file
     (no stale entries); COMPOSE_* variables are Compose's own.
  4. Every variable set in deploy/systemd/proxyos.env.example is one a service reads.

Without built binaries (no $BUILD_DIR/bin/proxyos-*), the variables are taken
from the sources' --help tables instead (shared/core/config.cpp and the
services' *config*.cpp / *_app.cpp), and a note says so.

Errors are printed as FILE:LINE: message; exit 1 if any.
"""
import glob
import os
import re
import subprocess
import sys

REPO = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.environ.get("BUILD_DIR", "")
ENV_EXAMPLE = os.path.join(REPO, "compose", ".env.example")
COMPOSE_FILES = sorted(glob.glob(os.path.join(REPO, "compose", "docker-compose*.yml")))
SYSTEMD_ENV = os.path.join(REPO, "deploy", "systemd", "proxyos.env.example")
# Issue #9: read by every service once the Sentinel client and replica count land.
ALWAYS = ["PROXYOS_REDIS_SENTINEL", "PROXYOS_REDIS_MASTER", "PROXYOS_NATS_REPLICAS"]

errors = []


def rel(p):
    return os.path.relpath(p, REPO)


def service_vars():
    """{variable: [where it was found]}."""
    found = {}
    binaries = sorted(glob.glob(os.path.join(BUILD_DIR, "bin", "proxyos-*"))) if BUILD_DIR else []
    binaries = [b for b in binaries if os.access(b, os.X_OK)]
    if binaries:
        for b in binaries:
            r = subprocess.run([b, "--help"], capture_output=True, text=True, timeout=30,
                               env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
            if r.returncode != 0:
                errors.append(f"{b}: --help exited {r.returncode}: {r.stderr.strip()[:200]}")
            names = re.findall(r"^\s+(PROXYOS_[A-Z0-9_]+)\s", r.stdout, re.M)
            if not names:
                errors.append(f"{b}: --help lists no PROXYOS_* variable")
            for n in names:
                found.setdefault(n, []).append(f"{os.path.basename(b)} --help")
    else:
        print(f"note: no built binaries in {BUILD_DIR or '$BUILD_DIR'}/bin; "
              "reading the --help tables from the sources")
        srcs = [os.path.join(REPO, "shared", "core", "config.cpp")]
        srcs += glob.glob(os.path.join(REPO, "services", "*", "*config*.cpp"))
        srcs += glob.glob(os.path.join(REPO, "services", "*", "*_app.cpp"))
        for s in srcs:
            text = open(s, encoding="utf-8").read()
            for n in re.findall(r'\{\s*"(PROXYOS_[A-Z0-9_]+)"\s*,', text):
                found.setdefault(n, []).append(rel(s))
    for n in ALWAYS:
        found.setdefault(n, []).append("issue #9")
    return found


def parse_env_example(path, unique=True):
    """{VAR: (line number, comment block above it)} for VAR=... and #VAR=... lines."""
    out = {}
    lines = open(path, encoding="utf-8").read().split("\n")
    assign = re.compile(r"^#?\s?([A-Z_][A-Z0-9_]*)=")
    for i, line in enumerate(lines):
        m = assign.match(line)
        if not m:
            continue
        var = m.group(1)
        # The comment block directly above (contiguous '#' lines that are not assignments).
        block = []
        j = i - 1
        while j >= 0 and lines[j].startswith("#"):
            if not assign.match(lines[j]):
                block.append(lines[j])
            j -= 1
        if var in out:
            if not unique:
                continue
            errors.append(f"{rel(path)}:{i + 1}: {var} appears twice (first at line {out[var][0]})")
            continue
        out[var] = (i + 1, "\n".join(reversed(block)))
    return out


def compose_vars():
    """{VAR: [(file, line)]} for every ${VAR...} / $VAR interpolation."""
    out = {}
    pat = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")
    for f in COMPOSE_FILES:
        for n, line in enumerate(open(f, encoding="utf-8"), 1):
            if line.lstrip().startswith("#"):
                continue
            for m in pat.finditer(line.replace("$$", "")):
                out.setdefault(m.group(1) or m.group(2), []).append((f, n))
    return out


def main():
    if not os.path.exists(ENV_EXAMPLE):
        print(f"{rel(ENV_EXAMPLE)}: missing", file=sys.stderr)
        return 1
    if not COMPOSE_FILES:
        print("compose/docker-compose*.yml: none found", file=sys.stderr)
        return 1
    documented = parse_env_example(ENV_EXAMPLE)
    services = service_vars()
    used = compose_vars()

    for var, where in sorted(services.items()):
        if var not in documented:
            errors.append(f"{rel(ENV_EXAMPLE)}:1: {var} (read by: {', '.join(sorted(set(where)))}) "
                          "is not documented: add a comment block naming it and a #"
                          f"{var}=<example> line")
    for var, (line, block) in sorted(documented.items()):
        if not block.strip():
            errors.append(f"{rel(ENV_EXAMPLE)}:{line}: {var} has no comment line above it")
        elif var not in block:
            errors.append(f"{rel(ENV_EXAMPLE)}:{line}: the comment above {var} does not name it "
                          "(each variable gets its own comment block)")
    for var, places in sorted(used.items()):
        if var not in documented:
            f, n = places[0]
            errors.append(f"{rel(f)}:{n}: ${{{var}}} is not in {rel(ENV_EXAMPLE)}")
    for var, (line, _) in sorted(documented.items()):
        if var not in services and var not in used and not var.startswith("COMPOSE_"):
            errors.append(f"{rel(ENV_EXAMPLE)}:{line}: {var} is read by no service and no compose file (stale?)")

    if os.path.exists(SYSTEMD_ENV):
        for var, (line, _) in sorted(parse_env_example(SYSTEMD_ENV, unique=False).items()):
            if var not in services:
                errors.append(f"{rel(SYSTEMD_ENV)}:{line}: {var} is read by no service (typo?)")

    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        print(f"env_example_complete: {len(errors)} problem(s)", file=sys.stderr)
        return 1
    print(f"env_example_complete: OK ({len(services)} service variables, "
          f"{len(used)} compose variables, all in {rel(ENV_EXAMPLE)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
