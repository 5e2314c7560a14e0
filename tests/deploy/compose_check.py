#!/usr/bin/env python3
"""Structural checks on the resolved compose files (the YAML that
`docker-compose -f FILE --env-file ENV config` prints), beyond what
`config -q` validates. Called by compose_config_test.sh:

  compose_check.py single|scale RESOLVED_YAML COMPOSE_FILE REPO_ROOT

Errors name the compose file (and the service); exit 1 if any.
"""
import ipaddress
import os
import re
import sys

try:
    import yaml  # python3-yaml: a dependency of Debian's docker-compose
except ImportError:
    print("note: python3-yaml missing; structural compose checks skipped")
    sys.exit(0)

kind, resolved, compose_file, repo = sys.argv[1:5]
cfg = yaml.safe_load(open(resolved, encoding="utf-8"))
services = cfg.get("services", {})
errors = []
rel = os.path.relpath(compose_file, repo)


def line_of(service, needle=None):
    """Line of `  service:` (or of needle after it) in the compose file, for messages."""
    lines = open(compose_file, encoding="utf-8").read().split("\n")
    start = next((i for i, l in enumerate(lines) if re.match(rf"^  {re.escape(service)}:\s*$", l)), None)
    if start is None:
        return 1
    if needle:
        for i in range(start + 1, len(lines)):
            if re.match(r"^  \S", lines[i]):
                break
            if needle in lines[i]:
                return i + 1
    return start + 1


def err(service, msg, needle=None):
    errors.append(f"{rel}:{line_of(service, needle) if service else 1}: {service or 'file'}: {msg}")


def env(svc):
    e = services.get(svc, {}).get("environment", {}) or {}
    if isinstance(e, list):
        e = dict(x.split("=", 1) if "=" in x else (x, "") for x in e)
    return {k: ("" if v is None else str(v)) for k, v in e.items()}


def ports(svc):
    out = []
    for p in services.get(svc, {}).get("ports", []) or []:
        if isinstance(p, dict):
            out.append((str(p.get("published")), str(p.get("target"))))
        else:
            parts = str(p).split(":")
            out.append((parts[-2], parts[-1]))
    return out


def cmd(svc):
    c = services.get(svc, {}).get("command", [])
    return c if isinstance(c, list) else str(c).split()


def dockerfile_stages(path):
    text = open(path, encoding="utf-8").read()
    return set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", text, re.M | re.I))


# Builds: context is the repository root, the Dockerfile and target exist,
# and the image has a name.
built_by_us = set()
for name, s in services.items():
    b = s.get("build")
    if not b:
        continue
    ctx = b.get("context") if isinstance(b, dict) else b
    if os.path.realpath(ctx) != os.path.realpath(repo):
        err(name, f"build context {ctx} is not the repository root")
    df = os.path.join(ctx, b.get("dockerfile", "Dockerfile")) if isinstance(b, dict) else os.path.join(ctx, "Dockerfile")
    if not os.path.exists(df):
        err(name, f"Dockerfile {df} does not exist", "dockerfile")
        continue
    tgt = b.get("target") if isinstance(b, dict) else None
    if tgt and tgt not in dockerfile_stages(df):
        err(name, f"target {tgt} is not a stage of {os.path.relpath(df, repo)}", "target")
    if "HEALTHCHECK" in open(df, encoding="utf-8").read():
        built_by_us.add(name)
    if not s.get("image"):
        err(name, "builds an image but names none (image:)")

# depends_on: health conditions, on services that have a healthcheck.
for name, s in services.items():
    deps = s.get("depends_on") or {}
    if isinstance(deps, list):
        err(name, "depends_on without conditions (use condition: service_healthy)", "depends_on")
        continue
    for dep, spec in deps.items():
        if dep not in services:
            err(name, f"depends on unknown service {dep}", "depends_on")
        elif (spec or {}).get("condition") != "service_healthy":
            err(name, f"depends_on {dep} is not condition: service_healthy", "depends_on")
        elif not services[dep].get("healthcheck") and dep not in built_by_us:
            err(dep, f"{name} waits for it to be healthy, but it has no healthcheck")

# Every ProxyOS service gets the secret; control-plane listeners and URLs agree.
proxyos = [n for n in services if "PROXYOS_SECRET" in env(n)]
for n in ("auth", "route-registry", "sso-provider", "edge"):
    if n not in services:
        err(None, f"no service named {n}")
    elif n not in proxyos:
        err(n, "does not get PROXYOS_SECRET")
listen_ports = {"auth": "7001", "route-registry": "7002", "sso-provider": "7003"}
for n, port in listen_ports.items():
    if n in services:
        listen = env(n).get("PROXYOS_LISTEN", "")
        if not listen.endswith(":" + port) or listen.startswith("127."):
            err(n, f"PROXYOS_LISTEN={listen!r}: expected 0.0.0.0:{port}", "PROXYOS_LISTEN")
for n in proxyos:
    e = env(n)
    for var, svc in (("PROXYOS_AUTH_URL", "auth"), ("PROXYOS_REGISTRY_URL", "route-registry"),
                     ("PROXYOS_SSO_URL", "sso-provider")):
        if e.get(var) != f"http://{svc}:{listen_ports[svc]}":
            err(n, f"{var}={e.get(var)!r}: expected http://{svc}:{listen_ports[svc]}", var)

# PROXYOS_TRUSTED_PROXIES covers the network's subnet (where the edges are).
subnets = []
for net in (cfg.get("networks") or {}).values():
    for c in ((net or {}).get("ipam") or {}).get("config") or []:
        if c.get("subnet"):
            subnets.append(ipaddress.ip_network(c["subnet"]))
if not subnets:
    err(None, "the network has no fixed subnet (networks: ... ipam: config: - subnet:)")
for n in proxyos:
    trusted = [ipaddress.ip_network(x.strip(), strict=False)
               for x in env(n).get("PROXYOS_TRUSTED_PROXIES", "").split(",") if x.strip()]
    for sn in subnets:
        if not any(sn.subnet_of(t) for t in trusted if t.version == sn.version):
            err(n, f"PROXYOS_TRUSTED_PROXIES does not cover the network's subnet {sn}", "PROXYOS_TRUSTED_PROXIES")

edge_env = env("edge")
if kind == "single":
    got = set(ports("edge"))
    for want in (("80", "8080"), ("443", "8443")):
        if want not in got:
            err("edge", f"does not publish {want[0]}:{want[1]} (has {sorted(got)})", "ports")
    if "--appendonly" not in cmd("redis") or cmd("redis")[cmd("redis").index("--appendonly") + 1] != "yes":
        err("redis", "AOF is not on (--appendonly yes)", "command")
    if not services.get("redis", {}).get("volumes"):
        err("redis", "has no volume for /data")
    if "-js" not in cmd("nats") and "--jetstream" not in cmd("nats"):
        err("nats", "JetStream is not on (-js)", "command")
    if not services.get("nats", {}).get("volumes"):
        err("nats", "has no volume for its store dir")
    for n in ("redis", "nats"):
        if not services.get(n, {}).get("healthcheck"):
            err(n, "has no healthcheck")
else:
    if ports("edge"):
        err("edge", "publishes host ports: `--scale edge=N` would collide; haproxy publishes them", "ports")
    got = set(ports("haproxy"))
    for want in (("80", "8080"), ("443", "8443")):
        if want not in got:
            err("haproxy", f"does not publish {want[0]}:{want[1]}", "ports")
    nats = sorted(n for n in services if re.fullmatch(r"nats-\d+", n))
    if len(nats) != 3:
        err(None, f"expected three NATS services nats-1..3, found {nats}")
    for n in nats:
        c = cmd(n)
        if "-js" not in c:
            err(n, "JetStream is not on (-js)", "command")
        routes = c[c.index("--routes") + 1] if "--routes" in c else ""
        for other in nats:
            if f"nats://{other}:6222" not in routes:
                err(n, f"--routes does not list {other}", "--routes")
        if "--cluster_name" not in c or "-n" not in c:
            err(n, "a JetStream cluster needs --cluster_name and a server name (-n)", "command")
    for n in proxyos:
        e = env(n)
        if sorted(re.findall(r"nats://([^:,]+):4222", e.get("PROXYOS_NATS_URL", ""))) != nats:
            err(n, f"PROXYOS_NATS_URL={e.get('PROXYOS_NATS_URL')!r} does not list every NATS server", "PROXYOS_NATS_URL")
        if e.get("PROXYOS_NATS_REPLICAS") != "3":
            err(n, "PROXYOS_NATS_REPLICAS is not 3", "PROXYOS_NATS_REPLICAS")
        sentinels = [x.split(":")[0] for x in e.get("PROXYOS_REDIS_SENTINEL", "").split(",") if x]
        if not sentinels or any(s not in services for s in sentinels):
            err(n, f"PROXYOS_REDIS_SENTINEL={e.get('PROXYOS_REDIS_SENTINEL')!r} names no sentinel service", "PROXYOS_REDIS_SENTINEL")
        if not e.get("PROXYOS_REDIS_MASTER"):
            err(n, "PROXYOS_REDIS_MASTER is empty", "PROXYOS_REDIS_MASTER")
    replica = [c for c in cmd("redis-replica")]
    if "--replicaof" not in replica:
        err("redis-replica", "is not a replica (--replicaof redis-primary 6379)", "command")
    for n in ("auth", "route-registry", "sso-provider"):
        if ((services.get(n, {}).get("deploy") or {}).get("replicas") or services.get(n, {}).get("scale") or 1) < 2:
            err(n, "runs fewer than two replicas (deploy: replicas: 2)")
    # haproxy.cfg sends to the edge service's listeners and checks its admin port.
    hcfg_path = os.path.join(repo, "deploy", "haproxy", "haproxy.cfg")
    hcfg = open(hcfg_path, encoding="utf-8").read()
    targets = re.findall(r"^\s*server-template\s+\S+\s+\d+\s+(\S+):(\d+)", hcfg, re.M)
    if sorted(targets) != [("edge", "8080"), ("edge", "8443")]:
        errors.append(f"deploy/haproxy/haproxy.cfg:1: server-template targets {targets}, expected edge:8080 and edge:8443")
    m = re.search(r"check port (\d+)", hcfg)
    admin = edge_env.get("PROXYOS_EDGE_ADMIN_LISTEN", "")
    if m and (not admin.endswith(":" + m.group(1)) or admin.startswith("127.")):
        err("edge", f"haproxy checks port {m.group(1)} but PROXYOS_EDGE_ADMIN_LISTEN={admin!r}", "PROXYOS_EDGE_ADMIN_LISTEN")
    if "127.0.0.11" not in hcfg:
        errors.append("deploy/haproxy/haproxy.cfg:1: no resolvers section with Docker's DNS (127.0.0.11)")

for e in errors:
    print(e, file=sys.stderr)
sys.exit(1 if errors else 0)
