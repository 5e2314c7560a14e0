#!/usr/bin/env python3
"""docs/install.md names only what the deployment files really have.

A reader follows install.md without guessing (issue #9), so every name its
commands use is checked against the files:
  - repository paths (compose/…, deploy/…, scripts/…, services/…, docs/…) exist;
  - `docker compose -f FILE … stop|start|logs|restart|up … SERVICE`,
    `… exec|run [options] SERVICE …` and `--scale SERVICE=N` name services of
    FILE (docker-compose config --services), in shell blocks and inline code;
  - Docker volumes (`-v NAME:/…`, `proxyos-…-data`) are volumes the compose
    files name;
  - systemd units (`proxyos-…` in systemctl/journalctl lines, `.service`,
    `.target`) are files in deploy/systemd/;
  - build targets (`--target …`) and `build-release/bin/…` binaries are
    executables the build defines (BINARY in services/*/CMakeLists.txt);
  - `PROXYOS_…` variables it mentions are documented in compose/.env.example
    or deploy/systemd/proxyos.env.example;
  - the Sentinel master name in `sentinel get-master-addr-by-name|replicas|
    failover NAME` is the one deploy/redis/sentinel.conf monitors;
  - `KV_<bucket>` stream names are buckets the services create (a
    "proxyos-…" string in services/ or shared/).
Exits 1 with one line per mismatch.
"""
import glob
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from env_example_test import parse_env_example  # noqa: E402  (the .env examples' one parser)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOC = os.path.join(ROOT, "docs", "install.md")


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def compose_services(path, cache={}):
    if path not in cache:
        env = dict(os.environ, PROXYOS_SECRET="install-doc-test-secret-0123456789abcdef")
        # The scaled-out file requires the admin password (two auth replicas).
        env.setdefault("PROXYOS_ADMIN_PASSWORD", "install-doc-test-password")
        out = subprocess.run(
            ["docker-compose", "-f", os.path.join(ROOT, path), "--env-file", os.path.join(ROOT, "compose/.env.example"),
             "config", "--services"],
            capture_output=True, text=True, env=env, cwd=ROOT)
        if out.returncode != 0:
            sys.exit(f"install_doc_test: docker-compose config --services on {path} failed: {out.stderr.strip()}")
        cache[path] = set(out.stdout.split())
    return cache[path]


def main():
    doc = read("docs/install.md")
    errors = []
    # Shell blocks, joined over backslash-newlines, plus inline code spans.
    blocks = re.findall(r"```sh\n(.*?)```", doc, re.S)
    lines = [l for b in blocks for l in b.replace("\\\n", " ").splitlines()]
    spans = re.findall(r"`([^`\n]+)`", doc)
    text = "\n".join(lines + spans)

    # 1. Repository paths, except those the doc's own commands create
    # (cp compose/.env.example compose/.env).
    created = {m.group(1) for l in lines for m in [re.search(r"\bcp (?:-\w+ )*\S+ (\S+)", l)] if m}
    paths = set(re.findall(r"(?<![\w/.-])((?:compose|deploy|scripts|services|docs)/[\w./-]*[\w/])", doc))
    for path in sorted(paths - created):
        if not os.path.exists(os.path.join(ROOT, path)):
            errors.append(f"path {path} does not exist")
    checked_paths = len(paths - created)

    # 2. Compose services.
    compose_files = ("compose/docker-compose.yml", "compose/docker-compose.scale.yml")
    checked_services = 0
    # Options of exec/run/up that take a value (the next word is not a service).
    with_value = {"-v", "--volume", "-e", "--env", "-w", "--workdir", "-u", "--user", "--entrypoint",
                  "--name", "-p", "--publish", "-l", "--label", "--index", "--scale", "--env-file"}
    for line in lines + spans:
        m = re.search(r"docker[ -]compose -f (\S+)(.*)", line)
        if not m:
            continue
        path, rest = m.group(1), m.group(2)
        if path in ("…", "..."):  # prose: `docker-compose -f …`
            continue
        if path not in compose_files:
            errors.append(f"`{line.strip()}` uses {path}, not one of {', '.join(compose_files)}")
            continue
        services = compose_services(path)
        words = rest.split()
        for i, w in enumerate(words):
            if w == "--scale" and i + 1 < len(words):
                name = words[i + 1].split("=")[0]
                checked_services += 1
                if name not in services:
                    errors.append(f"--scale {name}: {path} has no service {name}")
        # The compose verb is the first word after the global options.
        i = 0
        while i < len(words) and words[i].startswith("-"):
            i += 2 if words[i] in ("--env-file", "-f", "-p", "--project-name", "--profile") else 1
        verb = words[i] if i < len(words) else ""
        rest_words = words[i + 1:]
        names = []
        j = 0
        while j < len(rest_words):
            w = rest_words[j]
            if w in with_value:
                j += 2
                continue
            if w.startswith("-"):
                j += 1
                continue
            if w in ("|", "||", "&&", ";", ">", "grep") or w.startswith(("'", '"$', "$", "#", "(")):
                break
            names.append(w)
            if verb in ("exec", "run"):
                break  # then the command run in it
            j += 1
        if verb in ("stop", "start", "logs", "restart", "up", "exec", "run"):
            for name in names:
                checked_services += 1
                if name not in services:
                    errors.append(f"`{verb} {name}`: {path} has no service {name}")

    # 3. Volumes.
    volumes = set()
    for path in compose_files:
        volumes |= set(re.findall(r"^\s+name:\s*(proxyos-[\w-]+)\s*$", read(path), re.M))
    named = set(re.findall(r"-v (proxyos-[\w-]+):", text)) | set(re.findall(r"\b(proxyos-[\w-]*-data)\b", doc))
    for v in sorted(named):
        if "-N-" in v:  # a pattern in prose (proxyos-scale-nats-N-data)
            v_re = re.compile("^" + re.escape(v).replace("N", r"\d") + "$")
            if not any(v_re.match(x) for x in volumes):
                errors.append(f"volume pattern {v} matches no compose volume")
        elif v not in volumes:
            errors.append(f"volume {v} is not a volume of the compose files")

    # 4. systemd units.
    units = {os.path.basename(p) for p in glob.glob(os.path.join(ROOT, "deploy/systemd/*"))}
    unit_names = set()
    for line in lines:
        if re.search(r"\b(systemctl|journalctl)\b", line):
            unit_names |= set(re.findall(r"\b(proxyos(?:-[\w-]+)?(?:\.service|\.target)?)\b", line))
    unit_names |= set(re.findall(r"\b(proxyos[\w-]*\.(?:service|target))\b", doc))
    for u in sorted(unit_names):
        if u == "proxyos" or u.startswith("proxyos-nats") or u.endswith("-data"):
            continue
        file = u if "." in u else u + ".service"
        if file not in units:
            errors.append(f"systemd unit {u} has no file deploy/systemd/{file}")

    # 5. Build targets and binaries.
    binaries = set()
    for cm in glob.glob(os.path.join(ROOT, "services/*/CMakeLists.txt")):
        binaries |= set(re.findall(r"BINARY\s+([\w-]+)", open(cm, encoding="utf-8").read()))
    for line in lines:
        m = re.search(r"--target ((?:[\w-]+ ?)+)", line)
        for t in (m.group(1).split() if m else []):
            if t not in binaries:
                errors.append(f"--target {t} is not a binary the build defines ({', '.join(sorted(binaries))})")
    for b in set(re.findall(r"build-release/bin/([\w-]+)", text)):
        if b not in binaries:
            errors.append(f"build-release/bin/{b} is not a binary the build defines")

    # 6. Variables.
    documented = set()
    for example in ("compose/.env.example", "deploy/systemd/proxyos.env.example"):
        documented |= set(parse_env_example(os.path.join(ROOT, example), unique=False))
    for v in sorted(set(re.findall(r"\b(PROXYOS_[A-Z0-9_]+)\b", doc))):
        if v not in documented:
            errors.append(f"{v} is in install.md but in neither .env example")

    # 7. The Sentinel master name.
    monitor = re.search(r"^sentinel monitor (\S+) ", read("deploy/redis/sentinel.conf"), re.M)
    for name in set(re.findall(r"sentinel (?:get-master-addr-by-name|replicas|failover) (\S+)", text)):
        if not monitor or name != monitor.group(1):
            errors.append(f"Sentinel master name {name} is not the one deploy/redis/sentinel.conf monitors "
                          f"({monitor.group(1) if monitor else 'none'})")

    # 8. Buckets (KV_<bucket> streams).
    sources = glob.glob(os.path.join(ROOT, "services", "**", "*.[ch]*"), recursive=True)
    sources += glob.glob(os.path.join(ROOT, "shared", "**", "*.[ch]*"), recursive=True)
    literals = set()
    for src in sources:
        literals |= set(re.findall(r'"(proxyos-[a-z0-9-]+)"', open(src, encoding="utf-8", errors="replace").read()))
    for bucket in sorted(set(re.findall(r"\bKV_(proxyos-[a-z0-9-]+)", doc))):
        if bucket not in literals:
            errors.append(f"stream KV_{bucket}: no bucket {bucket} in services/ or shared/")

    if errors:
        for e in dict.fromkeys(errors):
            print(f"docs/install.md: {e}")
        return 1
    print(f"install_doc_test: OK ({checked_paths} paths, {checked_services} compose service names, "
          f"{len(named)} volumes, {len(unit_names)} unit names, {len(documented)} documented variables)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
