#!/usr/bin/env python3
"""Lints the Dockerfiles under deploy/ for the mistakes a reviewer would catch.

For every final stage (a stage no other stage builds FROM or copies from):
  - its base chain ends at debian:bookworm or debian:bookworm-slim;
  - it runs as a non-root USER and has a HEALTHCHECK (own or inherited);
  - every binary it copies from a build stage is one the CMake project
    produces (proxyos_service BINARY / add_executable in services/), that the
    build stage builds (its --target list), and, when $BUILD_DIR/bin holds it,
    that exists there;
  - the runtime packages it installs cover that binary's needs: each
    DT_NEEDED library of $BUILD_DIR/bin/<binary> (readelf -d), resolved with
    ldd and mapped to its Debian package with dpkg -S, is installed by the
    stage chain or is part of debian:bookworm-slim itself;
  - a control-plane stage EXPOSEs the port of its ENV PROXYOS_LISTEN, and the
    HEALTHCHECK's variable is set by ENV (or given a default);
  - the edge stage copies services/dashboard/ and points PROXYOS_DASHBOARD_DIR
    at it.
For every build stage: its apt packages include everything
scripts/packages.txt lists under "Libraries", and it copies every service
folder that services/CMakeLists.txt adds.
For every COPY from the build context: the source exists and .dockerignore
does not exclude it.

Usage: dockerfile_lint.py [REPO_ROOT]   (BUILD_DIR from the environment)
Errors are printed as FILE:LINE: message; exit 1 if any.
"""
import fnmatch
import os
import re
import shlex
import shutil
import subprocess
import sys

REPO = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD_DIR = os.environ.get("BUILD_DIR", "")

# Packages every debian:bookworm-slim image already has (Essential or
# required by apt/dpkg): libc6 (libc, libm, libpthread), libgcc-s1,
# libstdc++6 (apt depends on it) and zlib1g (dpkg pre-depends on it).
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6", "zlib1g"}
ALLOWED_BASES = re.compile(r"^debian:bookworm(-slim)?(@sha256:[0-9a-f]{64})?$")

errors = []
notes = []
APT_KNOWN = {}  # package -> apt-cache knows it
DPKG_OWNER = {}  # library path -> its package


def rel(path):
    return os.path.relpath(path, REPO)


def error(path, line, msg):
    errors.append(f"{rel(path)}:{line}: {msg}")


class Instr:
    def __init__(self, path, line, cmd, args):
        self.path, self.line, self.cmd, self.args = path, line, cmd, args


class Stage:
    def __init__(self, index, base, name, instr):
        self.index, self.base, self.name, self.instr = index, base, name, instr
        self.body = []
        self.parent = None  # Stage when FROM names an earlier stage

    def label(self):
        return self.name or f"stage #{self.index}"


def parse_dockerfile(path):
    """Returns the instructions, with continuation lines joined."""
    out = []
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        raw = lines[i]
        start = i + 1
        i += 1
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        text = raw
        continued = text.rstrip().endswith("\\")
        while continued and i < len(lines):
            nxt = lines[i]
            i += 1
            if nxt.lstrip().startswith("#") or not nxt.strip():
                continue  # comment and empty lines inside a continuation are dropped
            text = text.rstrip()[:-1] + " " + nxt
            continued = text.rstrip().endswith("\\")
        if continued:
            text = text.rstrip()[:-1]
        parts = text.strip().split(None, 1)
        out.append(Instr(path, start, parts[0].upper(), parts[1] if len(parts) > 1 else ""))
    return out


def stages_of(path):
    stages = []
    by_name = {}
    for ins in parse_dockerfile(path):
        if ins.cmd == "FROM":
            words = [w for w in ins.args.split() if not w.startswith("--platform")]
            base = words[0]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            st = Stage(len(stages), base, name, ins)
            if base in by_name:
                st.parent = by_name[base]
            stages.append(st)
            if name:
                by_name[name] = st
        elif stages:
            stages[-1].body.append(ins)
        elif ins.cmd != "ARG":
            error(path, ins.line, f"{ins.cmd} before the first FROM")
    return stages, by_name


def chain(stage):
    out = []
    while stage is not None:
        out.append(stage)
        stage = stage.parent
    return out  # the stage first, its root last


def copy_from(ins):
    m = re.search(r"--from=(\S+)", ins.args)
    return m.group(1) if m else None


def copy_paths(ins):
    words = [w for w in shlex.split(ins.args) if not w.startswith("--")]
    if ins.args.lstrip().startswith("["):
        import json
        words = json.loads(ins.args)
    return words[:-1], words[-1] if words else None


def env_of(stages_chain):
    env = {}
    for st in reversed(stages_chain):
        for ins in st.body:
            if ins.cmd == "ENV":
                # ENV A=1 B=2 (the form these Dockerfiles use) or ENV A 1
                try:
                    words = shlex.split(ins.args)
                except ValueError:
                    words = ins.args.split()
                if words and "=" not in words[0]:
                    env[words[0]] = (" ".join(words[1:]), ins)
                else:
                    for w in words:
                        k, _, v = w.partition("=")
                        env[k] = (v, ins)
    return env


def apt_packages(stage_list):
    """(package, Instr) for every `apt-get install` in the given stages."""
    out = []
    for st in stage_list:
        for ins in st.body:
            if ins.cmd != "RUN":
                continue
            for m in re.finditer(r"apt-get\s+install\s+(.*?)(?:&&|;|\||$)", ins.args):
                for w in m.group(1).split():
                    if not w.startswith("-"):
                        out.append((w.split("=")[0], ins))
    return out


def cmake_binaries():
    """Executable names the CMake project produces under services/."""
    names = set()
    for root, _, files in os.walk(os.path.join(REPO, "services")):
        if "CMakeLists.txt" not in files:
            continue
        text = open(os.path.join(root, "CMakeLists.txt"), encoding="utf-8").read()
        names.update(re.findall(r"\bBINARY\s+([A-Za-z0-9_.+-]+)", text))
        names.update(re.findall(r"add_executable\(\s*([A-Za-z0-9_.+-]+)", text))
        names.update(re.findall(r"OUTPUT_NAME\s+([A-Za-z0-9_.+-]+)", text))
    return names


def service_folders():
    path = os.path.join(REPO, "services", "CMakeLists.txt")
    text = open(path, encoding="utf-8").read()
    return re.findall(r"add_subdirectory\(\s*([A-Za-z0-9_.-]+)\s*\)", text)


def library_packages():
    """Packages listed under the "# Libraries" heading of scripts/packages.txt."""
    path = os.path.join(REPO, "scripts", "packages.txt")
    section, out, prev_blank = None, [], True
    for n, line in enumerate(open(path, encoding="utf-8"), 1):
        s = line.strip()
        if not s:
            prev_blank = True
            continue
        if s.startswith("#"):
            if prev_blank:
                section = s.lstrip("#").strip()
            prev_blank = False
            continue
        prev_blank = False
        if section and section.startswith("Libraries"):
            out.append((s.split("#")[0].split()[0], n))
    return path, out


def dockerignore_patterns():
    path = os.path.join(REPO, ".dockerignore")
    pats = []
    if os.path.exists(path):
        for n, line in enumerate(open(path, encoding="utf-8"), 1):
            s = line.strip()
            if s and not s.startswith("#"):
                pats.append((s, n))
    return path, pats


def ignored_by(path_in_context, pats):
    """The .dockerignore line that excludes the path (or one of its parents), else None."""
    parts = path_in_context.strip("/").split("/")
    prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
    verdict = None
    for pat, n in pats:
        neg = pat.startswith("!")
        p = pat[1:] if neg else pat
        p = os.path.normpath(p.lstrip("/")).rstrip("/")
        cands = [p]
        if p.startswith("**/"):
            cands.append(p[3:])
        hit = False
        for pre in prefixes:
            for c in cands:
                if fnmatch.fnmatchcase(pre, c):
                    hit = True
                elif c.startswith("**/") or "/**/" in c:
                    tail = c.split("**/")[-1]
                    if fnmatch.fnmatchcase(pre.split("/")[-1], tail):
                        hit = True
        if hit:
            verdict = None if neg else n
    return verdict


def needed_packages(binary):
    """{package: [sonames]} for the DT_NEEDED libraries of binary."""
    out = {}
    try:
        rd = subprocess.run(["readelf", "-d", binary], capture_output=True, text=True, check=True).stdout
        ld = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        notes.append(f"cannot inspect {binary}: {e}")
        return None
    resolved = {}
    for line in ld.splitlines():
        m = re.match(r"\s*(\S+)\s+=>\s+(\S+)", line)
        if m:
            resolved[m.group(1)] = m.group(2)
    for soname in re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", rd):
        lib = resolved.get(soname)
        if not lib or lib == "not":
            errors.append(f"{binary}: {soname} does not resolve (ldd)")
            continue
        pkg = DPKG_OWNER.get(lib)
        for cand in (lib, os.path.realpath(lib)):
            if pkg is not None:
                break
            r = subprocess.run(["dpkg", "-S", cand], capture_output=True, text=True)
            if r.returncode == 0 and r.stdout:
                pkg = DPKG_OWNER[lib] = r.stdout.split(":")[0].strip()
        if pkg is None:
            errors.append(f"{binary}: no Debian package owns {lib} ({soname}); dpkg -S found nothing")
            continue
        out.setdefault(pkg, []).append(soname)
    return out


def apt_knows_any():
    if not shutil.which("apt-cache"):
        return False
    return subprocess.run(["apt-cache", "show", "libc6"], capture_output=True).returncode == 0


def lint(path):
    stages, by_name = stages_of(path)
    if not stages:
        error(path, 1, "no FROM")
        return
    copied_from = {}
    for st in stages:
        for ins in st.body:
            if ins.cmd == "COPY" and copy_from(ins):
                copied_from.setdefault(copy_from(ins), []).append((st, ins))
    bases = {st.parent.name for st in stages if st.parent}
    finals = [st for st in stages if st.name not in bases and st.name not in copied_from
              and str(st.index) not in copied_from]
    build_stages = [by_name[n] if n in by_name else (stages[int(n)] if n.isdigit() else None)
                    for n in copied_from]
    build_stages = [b for b in build_stages if b is not None]

    produced = cmake_binaries()
    bin_dir = os.path.join(BUILD_DIR, "bin") if BUILD_DIR else ""
    have_bin = bool(bin_dir) and os.path.isdir(bin_dir)
    check_apt = apt_knows_any()
    ignore_path, ignore_pats = dockerignore_patterns()

    # COPY from the build context: exists and not .dockerignore'd.
    for st in stages:
        for ins in st.body:
            if ins.cmd in ("COPY", "ADD") and not copy_from(ins):
                srcs, _ = copy_paths(ins)
                for s in srcs:
                    if re.match(r"^[a-z]+://", s):
                        continue
                    if not os.path.exists(os.path.join(REPO, s)):
                        error(path, ins.line, f"COPY source {s} does not exist in the build context (the repository root)")
                    n = ignored_by(s, ignore_pats)
                    if n:
                        error(path, ins.line, f"COPY source {s} is excluded by {rel(ignore_path)}:{n}")

    # Build stages: library packages and service folders.
    lib_path, libs = library_packages()
    for b in build_stages:
        pkgs = {p for p, _ in apt_packages(chain(b))}
        for pkg, n in libs:
            if pkg not in pkgs:
                error(path, b.instr.line, f"build stage '{b.label()}' does not install {pkg} "
                      f"({rel(lib_path)}:{n} lists it under Libraries)")
        copied = set()
        for ins in b.body:
            if ins.cmd == "COPY" and not copy_from(ins):
                srcs, _ = copy_paths(ins)
                copied.update(os.path.normpath(s) for s in srcs)
        if "services" not in copied:
            for folder in service_folders():
                if os.path.normpath(f"services/{folder}") not in copied:
                    error(path, b.instr.line, f"build stage '{b.label()}' does not COPY services/{folder}/ "
                          "(services/CMakeLists.txt adds it, so CMake configure fails without it)")

    for st in finals:
        ch = chain(st)
        root = ch[-1]
        if not ALLOWED_BASES.match(root.base):
            error(path, st.instr.line, f"final stage '{st.label()}' is based on {root.base}, "
                  "not debian:bookworm or debian:bookworm-slim")
        users = [ins for s in reversed(ch) for ins in s.body if ins.cmd == "USER"]
        if not users:
            error(path, st.instr.line, f"final stage '{st.label()}' has no USER: it would run as root")
        else:
            u = users[-1].args.strip().split(":")[0]
            if u in ("root", "0"):
                error(path, users[-1].line, f"final stage '{st.label()}' runs as root (USER {users[-1].args})")
        hcs = [ins for s in reversed(ch) for ins in s.body if ins.cmd == "HEALTHCHECK"]
        if not hcs or hcs[-1].args.strip().upper() == "NONE":
            error(path, st.instr.line, f"final stage '{st.label()}' has no HEALTHCHECK")
        env = env_of(ch)
        if hcs:
            m = re.search(r'proxyos-healthcheck"?\s*,?\s*"?([A-Z_][A-Z0-9_]*)"?(?:\s*,\s*"([^"]*)")?', hcs[-1].args)
            if m and m.group(1) not in env and not m.group(2):
                error(path, hcs[-1].line, f"HEALTHCHECK reads {m.group(1)}, which no ENV sets, and gives no default")
        if "PROXYOS_LISTEN" in env:
            port = env["PROXYOS_LISTEN"][0].rsplit(":", 1)[-1]
            exposed = " ".join(ins.args for s in ch for ins in s.body if ins.cmd == "EXPOSE").split()
            if port not in [e.split("/")[0] for e in exposed]:
                error(path, env["PROXYOS_LISTEN"][1].line,
                      f"final stage '{st.label()}' listens on port {port} (PROXYOS_LISTEN) but does not EXPOSE it")

        installed = {p: ins for p, ins in apt_packages(ch)}
        if check_apt:
            for pkg, ins in installed.items():
                if pkg not in APT_KNOWN:
                    APT_KNOWN[pkg] = subprocess.run(["apt-cache", "show", pkg],
                                                    capture_output=True).returncode == 0
                if not APT_KNOWN[pkg]:
                    error(path, ins.line, f"package {pkg} is unknown to apt-cache (not a Debian 12 package?)")

        binaries = []
        for ins in st.body:
            src_stage = copy_from(ins) if ins.cmd == "COPY" else None
            if not src_stage:
                continue
            srcs, _ = copy_paths(ins)
            for s in srcs:
                name = os.path.basename(s.rstrip("/"))
                binaries.append(name)
                if name not in produced:
                    error(path, ins.line, f"copies {s} from '{src_stage}', but no services/*/CMakeLists.txt "
                          f"produces a binary named {name} (known: {', '.join(sorted(produced))})")
                    continue
                src = by_name.get(src_stage)
                if src is not None:
                    runs = " ".join(i.args for i in src.body if i.cmd == "RUN")
                    targets = " ".join(re.findall(r"--target\s+(.*?)(?:&&|;|$)", runs))
                    if "--target" in runs and not re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", targets):
                        error(path, ins.line, f"copies {name}, but stage '{src_stage}' does not build it "
                              "(missing from its cmake --build --target list)")
                if have_bin:
                    binary = os.path.join(bin_dir, name)
                    if not os.path.exists(binary):
                        error(path, ins.line, f"{name} is not in {bin_dir} (the build does not produce it)")
                        continue
                    needs = needed_packages(binary)
                    if needs is None:
                        continue
                    for pkg, sonames in sorted(needs.items()):
                        if pkg not in installed and pkg not in BASE_IMAGE_PACKAGES:
                            error(path, ins.line, f"{name} needs {', '.join(sonames)} from package {pkg}, "
                                  f"which final stage '{st.label()}' does not install")
        if not have_bin and binaries and not any("not cross-checked" in n for n in notes):
            notes.append(f"{rel(path)}: {BUILD_DIR or '$BUILD_DIR'}/bin not found: "
                         "runtime libraries not cross-checked with ldd")

        if "proxyos-edge" in binaries:
            dest = None
            for ins in st.body:
                if ins.cmd == "COPY" and not copy_from(ins):
                    srcs, d = copy_paths(ins)
                    if any(os.path.normpath(s) == "services/dashboard" for s in srcs):
                        dest = d
            if dest is None:
                error(path, st.instr.line, f"edge stage '{st.label()}' does not COPY services/dashboard/")
            else:
                dd = env.get("PROXYOS_DASHBOARD_DIR")
                if not dd or os.path.normpath(dd[0]) != os.path.normpath(dest):
                    error(path, st.instr.line, f"edge stage '{st.label()}' copies the dashboard to {dest} "
                          f"but PROXYOS_DASHBOARD_DIR is {dd[0] if dd else 'unset'}")


def main():
    files = []
    for root, _, names in os.walk(os.path.join(REPO, "deploy")):
        files += [os.path.join(root, n) for n in names if n == "Dockerfile" or n.endswith(".Dockerfile")]
    if not files:
        print("dockerfile_lint: no Dockerfile under deploy/", file=sys.stderr)
        return 1
    for f in sorted(files):
        lint(f)
    for n in notes:
        print(f"note: {n}")
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        print(f"dockerfile_lint: {len(errors)} problem(s)", file=sys.stderr)
        return 1
    print(f"dockerfile_lint: OK ({', '.join(rel(f) for f in sorted(files))})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
