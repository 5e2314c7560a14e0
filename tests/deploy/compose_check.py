#!/usr/bin/env python3
"""Structural checks on the resolved compose files (the YAML that
`docker-compose -f FILE --env-file ENV config` prints), beyond what
`config -q` validates. Called by compose_config_test.sh:

  compose_check.py single|scale RESOLVED_YAML COMPOSE_FILE REPO_ROOT [BASELINE_YAML]

With BASELINE_YAML (the same file resolved with compose/.env.example as
shipped), RESOLVED_YAML is the file resolved with every example value of
.env.example uncommented: the stores' addresses must come out the same, since
each compose file names its own NATS and Redis services and one .env serves
both files.

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
baseline = sys.argv[5] if len(sys.argv) > 5 else None
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


def volumes(svc):
    """[(source, target, mode)] of a service's volumes, short or long syntax."""
    out = []
    for v in services.get(svc, {}).get("volumes", []) or []:
        if isinstance(v, dict):
            out.append((str(v.get("source", "")), str(v.get("target", "")), "ro" if v.get("read_only") else "rw"))
        else:
            parts = str(v).split(":")
            out.append((parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else "rw"))
    return out


def conf_lines(path):
    """The directives of a redis.conf / sentinel.conf, comments dropped."""
    return [l.strip() for l in open(path, encoding="utf-8") if l.strip() and not l.lstrip().startswith("#")]


def copied_config(svc, conf, template_name=None):
    """Checks that svc runs on /data/<conf>, copied from a template in
    deploy/redis/ (mounted at /etc/proxyos/<conf>) only when the volume has
    none yet; returns the template's path, or None."""
    c = cmd(svc)
    line = c[2] if len(c) == 3 and c[:2] == ["sh", "-c"] else " ".join(c)
    if not re.search(rf"\[ -f /data/{re.escape(conf)} \] \|\|", line) or f"/etc/proxyos/{conf}" not in line:
        err(svc, f"does not copy /etc/proxyos/{conf} to /data/{conf} on first start only "
                 f"([ -f /data/{conf} ] || ...): a later start would undo what Sentinel rewrote", "command")
    if not re.search(rf"\bexec docker-entrypoint\.sh redis-server /data/{re.escape(conf)}\b", line):
        err(svc, f"does not run redis-server on /data/{conf} (through docker-entrypoint.sh)", "command")
    vols = volumes(svc)
    if not any(t == "/data" and not s_.startswith(("/", ".")) for s_, t, _ in vols):
        err(svc, "has no named volume at /data (its config file must survive the container)", "volumes")
    tmpl = [(s_, m) for s_, t, m in vols if t == f"/etc/proxyos/{conf}"]
    if len(tmpl) != 1:
        err(svc, f"mounts no template at /etc/proxyos/{conf}", "volumes")
        return None
    src, mode = tmpl[0]
    if mode != "ro":
        err(svc, f"mounts its template {src} writable (:ro)", "volumes")
    path = src if os.path.isabs(src) else os.path.join(os.path.dirname(compose_file), src)
    if os.path.dirname(os.path.realpath(path)) != os.path.realpath(os.path.join(repo, "deploy", "redis")):
        err(svc, f"its template {src} is not in deploy/redis/", "volumes")
    if template_name and os.path.basename(path) != template_name:
        err(svc, f"its template is {os.path.basename(path)}, expected {template_name}", "volumes")
    if not os.path.exists(path):
        err(svc, f"its template {src} does not exist", "volumes")
        return None
    return path


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
    # Redis: each instance runs on a config file in its volume, from a
    # template; roles only in the templates, never on a command line (Sentinel
    # could not persist a failover over a command-line --replicaof).
    for n, s_ in services.items():
        for w in cmd(n):
            if re.search(r"--(replicaof|slaveof)\b", w):
                err(n, "sets --replicaof on its command line: after a failover a restart would undo "
                       "Sentinel's choice (put replicaof in the replica's template instead)", "command")
    for n in ("redis-primary", "redis-replica"):
        if n not in services:
            err(None, f"no service named {n}")
            continue
        if not services[n].get("healthcheck"):
            err(n, "has no healthcheck")
        path = copied_config(n, "redis.conf", f"{n}.conf")
        if not path:
            continue
        lines = conf_lines(path)
        relp = os.path.relpath(path, repo)
        if "appendonly yes" not in lines:
            errors.append(f"{relp}:1: AOF is not on (appendonly yes)")
        if "dir /data" not in lines:
            errors.append(f"{relp}:1: no 'dir /data' (the volume)")
        if f"replica-announce-ip {n}" not in lines:
            errors.append(f"{relp}:1: no 'replica-announce-ip {n}' (Sentinel would hand out a container address)")
        replicaof = [l for l in lines if re.match(r"(replicaof|slaveof)\s", l)]
        if n == "redis-replica" and replicaof != ["replicaof redis-primary 6379"]:
            errors.append(f"{relp}:1: the replica's first configuration must say 'replicaof redis-primary 6379' (has {replicaof})")
        if n == "redis-primary" and replicaof:
            errors.append(f"{relp}:1: the primary's template says {replicaof[0]!r}")
    # Sentinels: same pattern; they start without Redis and are healthy only
    # when they name a primary that answers as one.
    sentinels_svc = sorted(n for n in services if re.fullmatch(r"sentinel-\d+", n))
    if len(sentinels_svc) != 3:
        err(None, f"expected three Sentinels sentinel-1..3, found {sentinels_svc}")
    monitored = None
    for n in sentinels_svc:
        path = copied_config(n, "sentinel.conf", "sentinel.conf")
        if path:
            m = [l.split() for l in conf_lines(path) if l.startswith("sentinel monitor ")]
            monitored = m[0][2] if m and len(m[0]) >= 4 else None
            if not m or m[0][3:5] != ["redis-primary", "6379"]:
                errors.append(f"{os.path.relpath(path, repo)}:1: no 'sentinel monitor <name> redis-primary 6379 <quorum>'")
        if "--sentinel" not in cmd(n)[-1]:
            err(n, "does not run redis-server --sentinel", "command")
        for dep in (services[n].get("depends_on") or {}):
            if dep.startswith("redis-"):
                err(n, f"depends on {dep}: with that instance lost the Sentinels (and everything after them) would never start", "depends_on")
        test = " ".join(((services[n].get("healthcheck") or {}).get("test")) or [])
        if "get-master-addr-by-name" not in test or "role" not in test:
            err(n, "its healthcheck does not check that it names a primary that answers ROLE as one "
                   "(sentinel get-master-addr-by-name, then role)", "healthcheck")
        elif monitored and f"get-master-addr-by-name {monitored}" not in test:
            err(n, f"its healthcheck asks for another master than {monitored}", "healthcheck")
    for n in proxyos:
        deps = services[n].get("depends_on") or {}
        for r in ("redis-primary", "redis-replica"):
            if r in deps:
                err(n, f"depends on {r}: `up` would wait for ever when that instance is lost; "
                       "depend on the Sentinels being healthy", "depends_on")
        for sn in sentinels_svc:
            if sn not in deps:
                err(n, f"does not wait for {sn} to be healthy", "depends_on")
        if monitored and env(n).get("PROXYOS_REDIS_MASTER") != monitored:
            err(n, f"PROXYOS_REDIS_MASTER={env(n).get('PROXYOS_REDIS_MASTER')!r}, but the Sentinels monitor {monitored!r}",
                "PROXYOS_REDIS_MASTER")
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

# One .env for both files: the stores' addresses must not follow it.
STORE_VARS = ("PROXYOS_NATS_URL", "PROXYOS_NATS_REPLICAS", "PROXYOS_REDIS_URL",
              "PROXYOS_REDIS_SENTINEL", "PROXYOS_REDIS_MASTER")
if baseline:
    base = yaml.safe_load(open(baseline, encoding="utf-8")).get("services", {})
    for n in proxyos:
        be = base.get(n, {}).get("environment", {}) or {}
        if isinstance(be, list):
            be = dict(x.split("=", 1) if "=" in x else (x, "") for x in be)
        for var in STORE_VARS:
            want = "" if be.get(var) is None else str(be.get(var))
            got = env(n).get(var, "")
            if got != want:
                err(n, f"{var} follows compose/.env: {want!r} becomes {got!r} with .env.example's example "
                       "values uncommented; this file must set it itself (one .env serves both compose files)", var)

for e in errors:
    print(e, file=sys.stderr)
sys.exit(1 if errors else 0)
