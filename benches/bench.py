#!/usr/bin/env python3
"""play vs Ansible vs pyinfra on the same lab hosts (issue 7's benchmark). Run through run.sh.

For each size N: a fresh lab of N hosts per tool (`play lab up N`), then
  - the floor: N parallel OpenSSH logins running `true`;
  - first apply on the fresh lab, then the no-op apply REPS times (median reported);
  - wall (driver clock), CPU (user+sys of the tool's whole process tree: a cgroup per tool, so
    ssh ControlPersist masters that leave the tree are counted too; /usr/bin/time otherwise),
    peak RSS of the largest process (/usr/bin/time %M) and the tree's peak memory (cgroup);
  - checks, from each tool's own output, that the no-op runs changed nothing; checks on the hosts
    that the three tools left the same files and the programs running, and that no-op runs did
    not restart them.
Writes the table to RESULTS.md (with the machine) and prints it.

Every address used is checked to be in 127.0.0.0/8 before anything connects to it.
"""

import argparse
import concurrent.futures
import datetime
import ipaddress
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
LAB = BENCH / ".lab"
WORK = BENCH / ".work"
VENV = BENCH / ".venv"
TOOLS = ("play", "ansible", "pyinfra")
PROGRAMS = ("bench-web", "bench-worker")
# The deploy case (--case deploy, play alone): packages, a venv, a release; its one program.
DEPLOY_PROGRAMS = ("benchapp",)
DEPLOY_SECTION = ("<!-- deploy case: written by bench.py --case deploy -->",
                  "<!-- end of the deploy case -->")
# Resources of the scenario per host: 3 dirs + 20 confs + site + link + 2 programs (+ 2 restarts).
PYINFRA_OPS = 3 + 20 + 1 + 1 + 2 * 2

SSH_OPTS = [
    "-F", "none",
    "-o", "BatchMode=yes",
    "-o", "IdentitiesOnly=yes",
    "-o", "StrictHostKeyChecking=yes",
    "-o", "ControlMaster=no",
    "-o", "ControlPath=none",
    "-o", "ConnectTimeout=20",
]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---- cgroups: CPU of a process tree, including daemonized children; peak memory of a run ------


def _own_v1_path(controller):
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        if controller in ctrls.split(","):
            return path
    return None


class Cgroups:
    """One CPU cgroup per tool series (ssh masters outlive a run but stay in it) and one memory
    cgroup per run (its peak is that run's). cgroup v1 (cpuacct + memory) or v2; None if
    neither can be used (then CPU comes from /usr/bin/time and tree memory is not reported)."""

    def __init__(self):
        self.kind = None
        self.cpu_root = self.mem_root = None
        try:
            if Path("/sys/fs/cgroup/cgroup.controllers").exists():
                own = _own_v1_path("") or "/"
                root = Path("/sys/fs/cgroup") / own.lstrip("/") / "play-bench"
                root.mkdir(exist_ok=True)
                self.kind, self.cpu_root, self.mem_root = "v2", root, root
                # memory.peak needs the memory controller enabled for children (may fail).
                try:
                    (root / "cgroup.subtree_control").write_text("+memory")
                except OSError:
                    pass
            elif Path("/sys/fs/cgroup/cpuacct/cgroup.procs").exists():
                cpu = Path("/sys/fs/cgroup/cpuacct") / (_own_v1_path("cpuacct") or "/").lstrip("/")
                mem_own = _own_v1_path("memory")
                cpu_root = cpu / "play-bench"
                cpu_root.mkdir(exist_ok=True)
                mem_root = None
                if mem_own is not None and Path("/sys/fs/cgroup/memory").exists():
                    mem_root = Path("/sys/fs/cgroup/memory") / mem_own.lstrip("/") / "play-bench"
                    mem_root.mkdir(exist_ok=True)
                self.kind, self.cpu_root, self.mem_root = "v1", cpu_root, mem_root
        except OSError as e:
            log(f"bench: no cgroups ({e}); CPU from /usr/bin/time, no tree memory")
            self.kind = None

    def series(self, name):
        if not self.kind:
            return None
        p = self.cpu_root / name
        p.mkdir(exist_ok=True)
        return p

    def run_mem(self, series, i):
        if not self.kind or self.mem_root is None:
            return None
        if self.kind == "v2":
            p = series / f"run{i}"
        else:
            p = self.mem_root / f"{series.name}-run{i}"
        try:
            p.mkdir(exist_ok=True)
        except OSError:
            return None
        return p

    def cpu_ns(self, series):
        if series is None:
            return None
        if self.kind == "v1":
            return int((series / "cpuacct.usage").read_text())
        total = 0  # v2: the series and its run children (cpu.stat is recursive)
        for line in (series / "cpu.stat").read_text().splitlines():
            k, v = line.split()
            if k == "usage_usec":
                total = int(v) * 1000
        return total

    def peak_bytes(self, mem):
        if mem is None:
            return None
        for f in ("memory.max_usage_in_bytes", "memory.peak"):
            if (mem / f).exists():
                try:
                    return int((mem / f).read_text())
                except (OSError, ValueError):
                    return None
        return None

    def enter_paths(self, series, mem):
        """Files a child writes its pid to (in preexec) to join the cgroups."""
        out = []
        if self.kind == "v1":
            if series is not None:
                out.append(series / "cgroup.procs")
            if mem is not None:
                out.append(mem / "cgroup.procs")
        elif self.kind == "v2":
            out.append((mem if mem is not None else series) / "cgroup.procs")
        return out

    def _procs(self, p):
        pids = []
        for f in p.rglob("cgroup.procs"):
            try:
                pids += [int(x) for x in f.read_text().split()]
            except OSError:
                pass
        return pids

    def end_series(self, series):
        """Stops what the series left running (ssh masters: processes the tools started, found
        by their cgroup, ended by pid), then removes its cgroups."""
        if series is None:
            return
        mems = []
        if self.kind == "v1" and self.mem_root is not None:
            mems = [p for p in self.mem_root.iterdir() if p.is_dir() and p.name.startswith(series.name + "-")]
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = set(self._procs(series))
            for m in mems:
                pids |= set(self._procs(m))
            pids.discard(os.getpid())
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)
        for p in sorted([*series.rglob("*/"), *mems], key=lambda x: -len(str(x))):
            if p.is_dir() and p != series:
                try:
                    p.rmdir()
                except OSError:
                    pass
        try:
            series.rmdir()
        except OSError:
            pass

    def close(self):
        for root in {self.cpu_root, self.mem_root}:
            if root is not None:
                try:
                    root.rmdir()
                except OSError:
                    pass


# ---- lab -------------------------------------------------------------------------------------


class Lab:
    def __init__(self, play, base):
        self.play = play
        self.base = base
        self.hosts = []  # [(name, addr)]

    def down(self):
        subprocess.run([self.play, "lab", "down", "--dir", str(LAB)], capture_output=True)

    def up(self, n):
        self.down()
        t = time.perf_counter()
        r = subprocess.run(
            [self.play, "lab", "up", str(n), "--dir", str(LAB), "--base", self.base, "--timeout", "600"],
            capture_output=True, text=True,
        )
        if r.returncode != 0:
            raise RuntimeError(f"play lab up {n} failed: {(r.stderr + r.stdout).strip()[-300:]}")
        inv = (LAB / "inventory.yml").read_text()
        self.hosts = re.findall(r"^\s+(h\d+):\n\s+ssh_host: (\S+)$", inv, re.M)
        if len(self.hosts) != n:
            raise RuntimeError(f"lab inventory has {len(self.hosts)} hosts, want {n}")
        for _, addr in self.hosts:
            if ipaddress.ip_address(addr) not in ipaddress.ip_network("127.0.0.0/8"):
                raise SystemExit(f"bench: lab address {addr} is not loopback: refusing")
        log(f"  lab: {n} hosts up in {time.perf_counter() - t:.1f}s ({self.hosts[0][1]}..{self.hosts[-1][1]})")

    @property
    def key(self):
        return LAB / "id_ed25519"

    @property
    def known_hosts(self):
        return LAB / "known_hosts"

    def ssh_cmd(self, addr, *cmd):
        return ["ssh", *SSH_OPTS, "-i", str(self.key), "-o", f"UserKnownHostsFile={self.known_hosts}",
                f"root@{addr}", *cmd]

    def write_inventories(self):
        WORK.mkdir(exist_ok=True)
        lines = ["[lab]"] + [f"{n} ansible_host={a}" for n, a in self.hosts]
        lines += [
            "[lab:vars]",
            "ansible_user=root",
            f"ansible_ssh_private_key_file={self.key}",
            f"ansible_ssh_common_args=-o UserKnownHostsFile={self.known_hosts} -o StrictHostKeyChecking=yes",
        ]
        (WORK / "ansible-hosts.ini").write_text("\n".join(lines) + "\n")
        py = ["# Written by benches/bench.py from the lab's inventory.", "lab = ("]
        py.append("    [")
        py += [f"        ({n!r}, {{'ssh_hostname': {a!r}}})," for n, a in self.hosts]
        py.append("    ],")
        py.append("    {")
        py.append("        'ssh_user': 'root',")
        py.append(f"        'ssh_key': {str(self.key)!r},")
        py.append(f"        'ssh_known_hosts_file': {str(self.known_hosts)!r},")
        py.append("        'ssh_strict_host_key_checking': 'yes',")
        py.append("    },")
        py.append(")")
        (WORK / "pyinfra_inventory.py").write_text("\n".join(py) + "\n")


# ---- one measured run ------------------------------------------------------------------------


def measure(cmd, cwd, env, cg, series, idx, logfile, timeout):
    """Runs cmd under /usr/bin/time in the series' cgroups. Returns a dict of measurements and
    the output text."""
    mem = cg.run_mem(series, idx) if series is not None else None
    enter = cg.enter_paths(series, mem)
    tfile = WORK / "time.out"
    full = ["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(tfile), *cmd]

    def pre():
        pid = str(os.getpid())
        for f in enter:
            with open(f, "w") as fh:
                fh.write(pid)

    cpu0 = cg.cpu_ns(series)
    t0 = time.perf_counter()
    with open(logfile, "w") as out:
        p = subprocess.Popen(full, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, preexec_fn=pre, start_new_session=True)
        try:
            rc = p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
            rc = "timeout"
    wall = time.perf_counter() - t0
    cpu1 = cg.cpu_ns(series)
    _, u, s, m = tfile.read_text().split()[-4:]
    r = {
        "wall": wall,
        "cpu_time": float(u) + float(s),
        "maxrss_mb": int(m) / 1024,
        "rc": rc,
    }
    r["cpu"] = (cpu1 - cpu0) / 1e9 if cpu0 is not None else r["cpu_time"]
    pk = cg.peak_bytes(mem)
    r["tree_mb"] = pk / 2**20 if pk is not None else None
    return r, Path(logfile).read_text(errors="replace")


# ---- what each tool says it did ---------------------------------------------------------------


def changes_play(text, n):
    m = re.search(r"(\d+) hosts?, (\d+) changes? applied, (\d+) failed, (\d+) unreachable", text)
    if not m:
        return None, "no recap line"
    hosts, changed, failed, unreach = map(int, m.groups())
    if hosts != n or failed or unreach:
        return None, m.group(0)
    return changed, m.group(0)


def changes_ansible(text, n):
    rows = re.findall(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", text, re.M)
    if len(rows) != n:
        return None, f"PLAY RECAP has {len(rows)} hosts, want {n}"
    bad = [r[0] for r in rows if int(r[3]) or int(r[4])]
    changed = sum(int(r[2]) for r in rows)
    summary = f"PLAY RECAP: {n} hosts, changed={changed} in total"
    if bad:
        return None, f"unreachable/failed: {' '.join(bad)}"
    return changed, summary


def changes_pyinfra(text, n):
    m = re.search(r"Grand total\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)", text)
    if not m:
        return None, "no 'Grand total' line"
    hosts, success, error, nochange = m.groups()
    num = lambda s: 0 if s == "-" else int(s)  # noqa: E731
    summary = f"Grand total: {hosts} host-ops, success (changed) {success}, error {error}, no change {nochange}"
    if int(hosts) != PYINFRA_OPS * n or num(error):
        return None, summary
    return num(success), summary


CHANGES = {"play": changes_play, "ansible": changes_ansible, "pyinfra": changes_pyinfra}


# ---- the hosts' state after a run -------------------------------------------------------------

STATE_SCRIPT = r"""
cd /
for p in /srv/bench /srv/bench/conf /srv/bench/www /srv/bench/conf/c*.ini /srv/bench/www/index.html /srv/bench/current; do
  stat -c 'F %n %F %a %U:%G' "$p" 2>&1
done
sha256sum /srv/bench/conf/c*.ini /srv/bench/www/index.html 2>&1 | sed 's/^/H /'
echo "L $(readlink /srv/bench/current)"
for c in /etc/supervisor/conf.d/bench-web.conf /etc/supervisor/conf.d/bench-worker.conf; do
  [ -f "$c" ] && echo "C $c" || echo "C $c missing"
done
i=0
while :; do
  s=$(supervisorctl status @PROGRAMS@ 2>&1)
  case "$s" in *STARTING*|*BACKOFF*) [ $i -lt 40 ] || break; i=$((i+1)); sleep 0.25 ;; *) break ;; esac
done
echo "$s" | sed 's/^/P /'
"""


def host_states(lab):
    """{host: (files_digest_lines, {program: (state, pid)})}, checked on every host over ssh."""

    def one(h):
        name, addr = h
        script = STATE_SCRIPT.replace("@PROGRAMS@", " ".join(PROGRAMS))
        r = subprocess.run(lab.ssh_cmd(addr, "sh", "-s"), input=script, capture_output=True,
                           text=True, timeout=120)
        files = [ln for ln in r.stdout.splitlines() if ln[:2] in ("F ", "H ", "L ", "C ")]
        progs = {}
        for ln in r.stdout.splitlines():
            if ln.startswith("P "):
                parts = ln[2:].split()
                if len(parts) >= 2 and parts[0] in PROGRAMS:
                    pid = re.search(r"pid (\d+)", ln)
                    progs[parts[0]] = (parts[1], pid.group(1) if pid else None)
        return name, ("\n".join(files), progs)

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as ex:
        return dict(ex.map(one, lab.hosts))


# ---- the floor --------------------------------------------------------------------------------


def ssh_floor(lab):
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    procs = [subprocess.Popen(lab.ssh_cmd(a, "true"), stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for _, a in lab.hosts]
    rcs = [p.wait(timeout=120) for p in procs]
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if any(rcs):
        err = next(p.stderr.read() for p, rc in zip(procs, rcs) if rc)
        raise RuntimeError(f"ssh floor: {sum(1 for r in rcs if r)} logins failed: {err!r}")
    for p in procs:
        p.stderr.close()
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {"wall": wall, "cpu": cpu}


# ---- tools ------------------------------------------------------------------------------------


def tool_command(tool, n, play, play_book):
    base_env = dict(os.environ)
    if tool == "play":
        # --timeout 60: with forks = hosts, 200 handshakes at once on 2 cores (lab sshds on the same
        # cores) take longer than the default 10 s connect timeout; Ansible and pyinfra are given
        # no tighter limit than that either.
        # Above 200 hosts the logins queue longer still: 0.3 s of budget per host (150 s at 500).
        timeout = max(60, int(0.3 * n))
        return [play, "apply", "-i", str(LAB / "inventory.yml"), "--forks", str(n), "--timeout", str(timeout),
                str(play_book)], BENCH, base_env
    if tool == "ansible":
        env = dict(base_env)
        env.update({
            "ANSIBLE_CONFIG": str(BENCH / "ansible" / "ansible.cfg"),
            "ANSIBLE_HOME": str(WORK / "ansible-home"),
            "ANSIBLE_NOCOLOR": "1",
            "PATH": f"{VENV / 'bin'}:{base_env.get('PATH', '')}",
        })
        return [str(VENV / "bin" / "ansible-playbook"), "-i", str(WORK / "ansible-hosts.ini"), "-f", str(n),
                "site.yml"], BENCH / "ansible", env
    if tool == "pyinfra":
        env = dict(base_env)
        env["PATH"] = f"{VENV / 'bin'}:{base_env.get('PATH', '')}"
        return [str(VENV / "bin" / "pyinfra"), "-y", str(WORK / "pyinfra_inventory.py"), "deploy.py"], \
            BENCH / "pyinfra", env
    raise ValueError(tool)


def run_tool(tool, n, lab, cg, args, play_book, floor_rows):
    """Fresh lab, floor, first apply, checks, no-op x reps. Returns the result dict."""
    lab.up(n)
    lab.write_inventories()
    res = {"tool": tool, "n": n, "notes": []}
    fl = [ssh_floor(lab) for _ in range(args.floor_reps)]
    floor_rows.append(fl)
    cmd, cwd, env = tool_command(tool, n, args.play, play_book)
    series = cg.series(f"{tool}-{n}")
    logdir = WORK / "logs"
    logdir.mkdir(parents=True, exist_ok=True)
    try:
        log(f"  {tool}: first apply on {n} hosts")
        first, text = measure(cmd, cwd, env, cg, series, 0, logdir / f"{tool}-{n}-first.log", args.timeout)
        changed, summary = CHANGES[tool](text, n)
        log(f"    {first['wall']:.2f}s wall, {first['cpu']:.2f}s CPU; {summary}")
        if first["rc"] != 0 or changed is None or changed == 0:
            raise RuntimeError(f"{tool} first apply failed (rc {first['rc']}, {summary}); "
                               f"see {logdir / f'{tool}-{n}-first.log'}")
        res["first"] = first
        res["states"] = host_states(lab)
        budget = args.peer_budget if tool != "play" else 0
        reps = args.reps
        if budget and first["wall"] * reps > budget:
            reps = max(1, int(budget // max(first["wall"], 1)))
            res["notes"].append(f"no-op runs cut to {reps} (time budget {budget:.0f}s)")
        noops = []
        for i in range(reps):
            r, text = measure(cmd, cwd, env, cg, series, i + 1, logdir / f"{tool}-{n}-noop{i + 1}.log", args.timeout)
            changed, summary = CHANGES[tool](text, n)
            log(f"    no-op {i + 1}/{reps}: {r['wall']:.2f}s wall, {r['cpu']:.2f}s CPU; {summary}")
            if r["rc"] != 0 or changed is None:
                raise RuntimeError(f"{tool} no-op run failed (rc {r['rc']}, {summary})")
            if changed != 0:
                raise RuntimeError(f"{tool} no-op run {i + 1} reported {changed} changes: {summary}")
            noops.append(r)
        res["noop"] = noops
        res["noop_summary"] = summary
        if tool == "play" and n > args.fixed_forks:
            # Linear growth at fixed forks: the same no-op with --forks FIXED.
            fcmd = [*cmd]
            fcmd[fcmd.index("--forks") + 1] = str(args.fixed_forks)
            fixed = []
            for i in range(reps):
                r, text = measure(fcmd, cwd, env, cg, series, 100 + i, logdir / f"{tool}-{n}-noop-f{args.fixed_forks}-{i + 1}.log",
                                  args.timeout)
                changed, summary = CHANGES[tool](text, n)
                log(f"    no-op --forks {args.fixed_forks} {i + 1}/{reps}: {r['wall']:.2f}s wall, {r['cpu']:.2f}s CPU; {summary}")
                if r["rc"] != 0 or changed != 0:
                    raise RuntimeError(f"play --forks {args.fixed_forks} no-op run failed: {summary}")
                fixed.append(r)
            res["noop_fixed"] = fixed
        after = host_states(lab)
        restarted = [h for h in after if after[h][1] != res["states"][h][1]]
        res["restarted_by_noop"] = restarted
    finally:
        cg.end_series(series)
    return res


def median(rs, k):
    vals = [r[k] for r in rs if r.get(k) is not None]
    return statistics.median(vals) if vals else None


# ---- machine and table ------------------------------------------------------------------------


def machine():
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    mem = "?"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            mem = f"{int(line.split()[1]) / 2**20:.0f} GiB"
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return {
        "nproc": os.cpu_count(),
        "model": model,
        "memory": mem,
        "kernel": platform.release(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load": load,
        "openssh": subprocess.run(["ssh", "-V"], capture_output=True, text=True).stderr.strip(),
    }


def fmt(v, unit="", nd=2):
    if v is None:
        return "–"
    return f"{v:.{nd}f}{unit}"


def ratio(a, b):
    if a is None or b is None or b <= 0:
        return "–"
    return f"{a / b:.0f}×" if a / b >= 10 else f"{a / b:.1f}×"


def table(results, floors, args_fixed_forks=50):
    out = []
    head = ("| hosts | tool | first apply wall | first CPU | no-op wall (median) | no-op CPU | "
            "max RSS | tree peak mem | first wall ÷ play | no-op wall ÷ play | no-op CPU ÷ play |")
    out.append(head)
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in sorted({r["n"] for r in results}):
        rows = [r for r in results if r["n"] == n]
        play = next((r for r in rows if r["tool"] == "play" and "noop" in r), None)
        fl = [f for f in floors.get(n, [])]
        fw = statistics.median([f["wall"] for f in fl]) if fl else None
        fc = statistics.median([f["cpu"] for f in fl]) if fl else None
        out.append(f"| {n} | OpenSSH `ssh true` ×{n} (floor) | – | – | {fmt(fw, ' s')} | {fmt(fc, ' s')} | – | – | – | "
                   f"{ratio(fw, median(play['noop'], 'wall')) if play else '–'} | – |")
        for r in rows:
            if "noop" not in r:
                out.append(f"| {n} | {r['tool']} | failed: {r.get('error', '?')} |  |  |  |  |  |  |  |  |")
                continue
            nw, nc = median(r["noop"], "wall"), median(r["noop"], "cpu")
            rss = max([r["first"]["maxrss_mb"]] + [x["maxrss_mb"] for x in r["noop"]])
            trees = [x["tree_mb"] for x in [r["first"], *r["noop"]] if x["tree_mb"] is not None]
            tree = max(trees) if trees else None
            k = len(r["noop"])
            if play is None or r is play:
                rf = rn = rc = "1×" if r is play else "–"
            else:
                rf = ratio(r["first"]["wall"], play["first"]["wall"])
                rn = ratio(nw, median(play["noop"], "wall"))
                rc = ratio(nc, median(play["noop"], "cpu"))
            name = r["tool"] + (" (no restart step)" if r.get("no_programs") else "")
            out.append(f"| {n} | {name} | {fmt(r['first']['wall'], ' s')} | {fmt(r['first']['cpu'], ' s')} | "
                       f"{fmt(nw, ' s')} (n={k}) | {fmt(nc, ' s')} | {fmt(rss, ' MB', 1)} | {fmt(tree, ' MB', 1)} | "
                       f"{rf} | {rn} | {rc} |")
            if r.get("noop_fixed"):
                fx = r["noop_fixed"]
                out.append(f"| {n} | play --forks {args_fixed_forks} | – | – | {fmt(median(fx, 'wall'), ' s')} (n={len(fx)}) | "
                           f"{fmt(median(fx, 'cpu'), ' s')} | {fmt(max(x['maxrss_mb'] for x in fx), ' MB', 1)} | – | – | – | – |")
    return "\n".join(out)


def targets(results, floors, fixed_forks=50):
    """Issue 7's and issue 16's targets, measured."""
    lines = []
    for n in sorted({r["n"] for r in results}):
        by = {r["tool"]: r for r in results if r["n"] == n and "noop" in r}
        p = by.get("play")
        if not p:
            continue
        pn, pf = median(p["noop"], "wall"), p["first"]["wall"]
        pc = median(p["noop"], "cpu")
        fl = floors.get(n)
        fw = statistics.median([f["wall"] for f in fl]) if fl else None

        def mark(ok):
            return "holds" if ok else "MISSED"

        if fw:
            lines.append(f"- {n} hosts: play no-op {pn:.2f} s vs floor {fw:.2f} s = {pn / fw:.1f}× the floor "
                         f"(target ≤ 2×: {mark(pn <= 2 * fw)})")
        lines.append(f"- {n} hosts: play controller CPU per host per no-op run {1000 * pc / n:.1f} ms "
                     f"(target < 10 ms: {mark(1000 * pc / n < 10)})")
        rss = max([p["first"]["maxrss_mb"]] + [x["maxrss_mb"] for x in p["noop"]])
        lines.append(f"- {n} hosts: play peak RSS {rss:.1f} MB = {rss / n:.2f} MB per host"
                     + (f" (target < 2 MB/host at 200: {mark(rss / n < 2)})" if n >= 200 else ""))
        for peer, tf, tn in (("ansible", 30, 100), ("pyinfra", 5, 10)):
            q = by.get(peer)
            if not q:
                continue
            rf = q["first"]["wall"] / pf
            rn = median(q["noop"], "wall") / pn
            lines.append(f"- {n} hosts vs {peer}: first apply {rf:.1f}× faster (target ≥ {tf}×: {mark(rf >= tf)}), "
                         f"no-op {rn:.1f}× faster (target ≥ {tn}×: {mark(rn >= tn)})")
    # Issue 16 (scale): no-op no slower than N parallel `ssh true`, ≤ 0.5 MB of controller memory
    # per host, first apply linear in hosts.
    for r in sorted((r for r in results if r["tool"] == "play" and "noop" in r), key=lambda r: r["n"]):
        n = r["n"]
        fl = floors.get(n)
        pn = median(r["noop"], "wall")
        if fl:
            fw = statistics.median([f["wall"] for f in fl])
            lines.append(f"- issue 16, {n} hosts: play no-op {pn:.2f} s vs {n} parallel `ssh true` {fw:.2f} s "
                         f"(target ≤ 1×: {'holds' if pn <= fw else 'MISSED'}, {pn / fw:.2f}×)")
        rss = max([r["first"]["maxrss_mb"]] + [x["maxrss_mb"] for x in r["noop"]])
        lines.append(f"- issue 16, {n} hosts: controller max RSS {rss:.1f} MB = {rss / n:.2f} MB per host "
                     f"(target ≤ 0.5: {'holds' if rss / n <= 0.5 else 'MISSED'})")
    rss = sorted((r["n"], max([r["first"]["maxrss_mb"]] + [x["maxrss_mb"] for x in r["noop"]]))
                 for r in results if r["tool"] == "play" and "noop" in r)
    if len(rss) >= 2:
        (n0, m0), (nl, ml) = rss[0], rss[-1]
        lines.append(f"- issue 16, controller memory per added host: {(ml - m0) / (nl - n0):.2f} MB "
                     f"({m0:.1f} MB at {n0} hosts, {ml:.1f} MB at {nl}; the rest is fixed)")
    firsts = sorted((r["n"], r["first"]["wall"]) for r in results if r["tool"] == "play" and "first" in r)
    if len(firsts) >= 2:
        n0, w0 = firsts[0]
        per = ", ".join(f"{w:.1f} s at {n} ({1000 * w / n:.0f} ms/host)" for n, w in firsts)
        nl, wl = firsts[-1]
        lines.append(f"- issue 16, first apply vs hosts: {per}; {wl / w0:.1f}× the time for {nl / n0:.1f}× the "
                     f"hosts (linear: ≤ {nl / n0:.1f}× +15%: {'holds' if wl / w0 <= 1.15 * nl / n0 else 'MISSED'})")
    plays = sorted((r["n"], median(r["noop"], "wall")) for r in results if r["tool"] == "play" and "noop" in r)
    if len(plays) >= 2:
        per = ", ".join(f"{1000 * w / n:.1f} ms at {n}" for n, w in plays)
        lines.append(f"- play no-op wall per host with forks = hosts: {per}")
    fixed = sorted((r["n"], median(r["noop_fixed"], "wall")) for r in results if r.get("noop_fixed"))
    ref = [(n, w) for n, w in plays if n == fixed_forks]
    if fixed and ref:
        n0, w0 = ref[0]
        for n, w in fixed:
            lines.append(f"- play no-op at fixed forks {fixed_forks}: {w:.2f} s at {n} hosts vs {w0:.2f} s at {n0} hosts: "
                         f"{w / w0:.1f}× the time for {n / n0:.0f}× the hosts (linear: ≤ {n / n0:.0f}×: "
                         f"{'holds' if w / w0 <= 1.15 * n / n0 else 'MISSED'})")
    return "\n".join(lines)


def play_has_programs(play):
    """Whether this play binary knows `program:`: a playbook with one, for an empty inventory (it
    is validated before any host would be contacted)."""
    WORK.mkdir(exist_ok=True)
    inv, pb = WORK / "empty-inventory.yml", WORK / "program-check.yml"
    inv.write_text("all:\n  hosts: {}\n")
    pb.write_text("- hosts: nomatch\n  state:\n    - program: x\n      command: /bin/true\n")
    r = subprocess.run([play, "diff", "-i", str(inv), str(pb)], capture_output=True, text=True, timeout=60)
    return "program" not in r.stderr


def report(results, floors, args, has_programs, mach, elapsed):
    """Writes RESULTS.md and results.json; returns the text."""
    # Same effect: every tool left the same files on every host, programs running (peers).
    checks = []
    for n in sorted({r["n"] for r in results}):
        ok = {r["tool"]: r for r in results if r["n"] == n and "states" in r}
        ref = ok.get("play")
        for tool, r in ok.items():
            running = sum(1 for h, (_, pr) in r["states"].items()
                          if all(pr.get(p, ("?",))[0] == "RUNNING" for p in PROGRAMS))
            msg = f"{n} hosts, {tool}: programs RUNNING on {running}/{n} hosts after the first apply"
            if r.get("restarted_by_noop"):
                msg += f"; RESTARTED by no-op runs on {len(r['restarted_by_noop'])} hosts"
            elif running and "restarted_by_noop" in r:
                msg += "; not restarted by the no-op runs"
            if ref is not None and r is not ref:
                same = sum(1 for h in r["states"] if r["states"][h][0] == ref["states"].get(h, ("",))[0])
                msg += f"; files identical to play's on {same}/{n} hosts"
            checks.append(msg)
            if ref is not None and r is not ref:
                diff = [h for h in r["states"] if r["states"][h][0] != ref["states"].get(h, ("",))[0]]
                if diff:
                    h = diff[0]
                    a, b = ref["states"][h][0].splitlines(), r["states"][h][0].splitlines()
                    checks.append(f"  first difference on {h}: play {sorted(set(a) - set(b))[:2]} vs "
                                  f"{tool} {sorted(set(b) - set(a))[:2]}")
    notes = [f"{r['n']} hosts, {r['tool']}: {x}" for r in results for x in r.get("notes", [])]
    noop_said = [f"{r['n']} hosts, {r['tool']}: \"{r['noop_summary']}\"" for r in results if "noop_summary" in r]

    tab = table(results, floors, args.fixed_forks)
    tgt = targets(results, floors, args.fixed_forks)
    mode = "scale (--scale: play alone)" if args.scale else "quick (--quick)" if args.quick else "full"
    text = [
        "# Benchmark results",
        "",
        "Written by `benches/run.sh` (see `benches/README.md`); numbers from one run, ratios are within that run.",
        "",
        f"- machine: {mach['nproc']} CPUs ({mach['model']}), {mach['memory']}, Linux {mach['kernel']}, {mach['openssh']}",
        f"- date: {mach['date']}; load average at start {mach['load']} (other work shares these 2 cores: noisy)",
        f"- mode: {mode}; no-op runs per tool: {args.reps} (median), floor runs: {args.floor_reps} per lab; "
        f"bench took {elapsed / 60:.1f} min",
        f"- peers: ansible-core and pyinfra as pinned in `benches/requirements.txt`; play: {args.play_desc}",
        "- wall: the tool's run, driver clock. CPU: user+sys of the tool's whole process tree (cgroup; includes "
        "Ansible's ssh ControlPersist masters). The lab hosts' sshd and modules run on the same cores and are not "
        "counted in CPU. max RSS: largest single process (/usr/bin/time %M). tree peak mem: memory charged to the "
        "whole tree during the run (cgroup: anonymous + page cache it brought in; pages already cached are not "
        "counted, so it can be below max RSS). Ratios: peer ÷ play, higher = play faster.",
    ]
    if not has_programs:
        text.append("- **play's side lacks the restart step**: this play has no `program:` resource yet, so it writes "
                    "the two programs' conf files only (`benches/play/site-noprogram.yml`); the peers also start "
                    "the programs (`supervisorctl update NAME` on change). Re-run when `program:` lands "
                    "(`benches/play/site.yml` is then picked automatically).")
    text += ["", tab, "", "## Issue 7 targets, as measured here", "", tgt or "- (no play results)", "",
             "## Checks", "", *[f"- {c}" for c in checks], *[f"- no-op output: {c}" for c in noop_said],
             *[f"- {x}" for x in notes], ""]
    out = "\n".join(text)
    Path(args.results).write_text(out)
    (WORK / "results.json").write_text(json.dumps({"results": [
        {k: v for k, v in r.items() if k != "states"} for r in results], "floors": floors, "machine": mach},
        indent=1, default=str))
    return out


def deploy_project():
    """benches/.work/deploy/: the deploy case's playbook with files/ from the example app (its
    code and its wheel folder). Returns the playbook's path."""
    d = WORK / "deploy"
    shutil.rmtree(d, ignore_errors=True)
    (d / "files").mkdir(parents=True)
    shutil.copy(BENCH / "play" / "deploy.yml", d / "deploy.yml")
    for sub in ("app", "wheels"):
        shutil.copytree(REPO / "roles" / "app" / "files" / sub, d / "files" / sub)
    return d / "deploy.yml"


def deploy_report(results, floors, args, mach, elapsed):
    """The deploy case's section of RESULTS.md (replaced in place, the rest kept); returns it."""
    rows = ["| hosts | first apply wall | first CPU | no-op wall (median) | no-op CPU | no-op wall per host | "
            "no-op CPU per host | max RSS | floor (`ssh true` ×N) |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    checks = []
    for r in results:
        n = r["n"]
        fl = floors.get(n, [])
        fw = statistics.median([f["wall"] for f in fl]) if fl else None
        if "noop" not in r:
            rows.append(f"| {n} | failed: {r.get('error', '?')} |  |  |  |  |  |  |  |")
            continue
        nw, nc = median(r["noop"], "wall"), median(r["noop"], "cpu")
        rss = max([r["first"]["maxrss_mb"]] + [x["maxrss_mb"] for x in r["noop"]])
        rows.append(f"| {n} | {fmt(r['first']['wall'], ' s')} | {fmt(r['first']['cpu'], ' s')} | "
                    f"{fmt(nw, ' s')} (n={len(r['noop'])}) | {fmt(nc, ' s')} | {fmt(1000 * nw / n, ' ms', 1)} | "
                    f"{fmt(1000 * nc / n, ' ms', 1)} | {fmt(rss, ' MB', 1)} | {fmt(fw, ' s')} |")
        running = sum(1 for _, (_, pr) in r["states"].items()
                      if all(pr.get(p, ("?",))[0] == "RUNNING" for p in PROGRAMS))
        restarted = len(r.get("restarted_by_noop", []))
        checks.append(f"{n} hosts: `benchapp` RUNNING on {running}/{n} hosts after the first apply; "
                      f"restarted by the no-op runs on {restarted}; the no-op runs said \"{r.get('noop_summary', '')}\"")
    section = [
        DEPLOY_SECTION[0],
        "## Deploy case: packages, a venv and a release (play alone)",
        "",
        "`benches/run.sh --case deploy --sizes 10` (`bench.py --case deploy`): `benches/play/deploy.yml` on fresh "
        "lab hosts — 5 installed packages, a user, a folder, a wheel folder (`sync:`), a `venv:` with one pinned "
        "package from it, a `release:` with `shared: [data]` and a byte-compiling `build:`, a program watching the "
        "release and the venv. The no-op is what a deploy that changes nothing costs per host: one probe round "
        "trip (dpkg-query for the packages, the venv's pyvenv.cfg and dist-info names, the release's history), "
        "no pip, no apt-cache, no build.",
        "",
        f"- machine: {mach['nproc']} CPUs ({mach['model']}), {mach['memory']}, Linux {mach['kernel']}; "
        f"date: {mach['date']}; load average at start {mach['load']} (shared, noisy cores)",
        f"- play: {args.play_desc}; no-op runs: {args.reps} (median); bench took {elapsed / 60:.1f} min",
        "",
        *rows,
        "",
        *[f"- {c}" for c in checks],
        DEPLOY_SECTION[1],
    ]
    text = "\n".join(section)
    path = Path(args.results)
    old = path.read_text() if path.exists() else ""
    start, end = old.find(DEPLOY_SECTION[0]), old.find(DEPLOY_SECTION[1])
    if start >= 0 and end > start:
        new = old[:start] + text + old[end + len(DEPLOY_SECTION[1]):]
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    path.write_text(new)
    return text


def main():
    global PROGRAMS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10 hosts, 3 no-op runs (a few minutes)")
    ap.add_argument("--scale", action="store_true",
                    help="issue 16's scale run: play alone at 100, 250, 500 hosts (or --sizes), 3 no-op runs, "
                         "3 floors; writes RESULTS-scale.md unless --results")
    ap.add_argument("--sizes", help="host counts, comma-separated (default 10,50 for all + 200 for play)")
    ap.add_argument("--play-only-sizes", help="sizes run for play alone (default 200)")
    ap.add_argument("--tools", default=",".join(TOOLS))
    ap.add_argument("--reps", type=int, help="no-op runs per tool and size (median reported; default 5)")
    ap.add_argument("--floor-reps", type=int, default=5)
    ap.add_argument("--peer-budget", type=float, default=0,
                    help="seconds of no-op runs per peer and size; fewer runs (at least 1) when the first "
                         "apply says they would take longer (0: no limit). Noted in the table")
    ap.add_argument("--fixed-forks", type=int, default=50,
                    help="play at sizes above this also runs its no-op with --forks FIXED (linear growth check)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per tool run")
    ap.add_argument("--base", default=os.environ.get("BENCH_BASE", "127.1.0.10"),
                    help="lab base address, 127.0.0.0/8 only (host i is base + i)")
    ap.add_argument("--play", default=str(REPO / "target" / "release" / "play"))
    ap.add_argument("--play-programs", choices=("auto", "yes", "no"), default="auto",
                    help="use play's program: resource (site.yml) or conf files only (site-noprogram.yml)")
    ap.add_argument("--play-desc", help="how the play binary was built (for RESULTS.md)")
    ap.add_argument("--results", default=str(BENCH / "RESULTS.md"))
    ap.add_argument("--case", choices=("files", "deploy"), default="files",
                    help="files: the three-tool scenario (default); deploy: play alone on "
                         "benches/play/deploy.yml (packages, a venv, a release), written to its own "
                         "section of RESULTS.md")
    args = ap.parse_args()
    if args.case == "deploy":
        PROGRAMS = DEPLOY_PROGRAMS
        args.tools = "play"
        if args.play_only_sizes is None:
            args.play_only_sizes = ""

    if ipaddress.ip_address(args.base) not in ipaddress.ip_network("127.0.0.0/8"):
        raise SystemExit("bench: --base must be in 127.0.0.0/8")
    if args.scale:
        sizes = [int(x) for x in (args.sizes or "100,250,500").split(",") if x]
        play_only = []
        args.tools = "play"
        args.reps = args.reps or 3
        args.floor_reps = min(args.floor_reps, 3)
        if args.results == str(BENCH / "RESULTS.md"):
            args.results = str(BENCH / "RESULTS-scale.md")
    elif args.quick:
        sizes, play_only = [10], []
        args.reps = args.reps or 3
        args.floor_reps = min(args.floor_reps, 3)
    else:
        sizes = [int(x) for x in (args.sizes or "10,50").split(",") if x]
        play_only = [int(x) for x in (args.play_only_sizes if args.play_only_sizes is not None else "200").split(",") if x]
        args.reps = args.reps or 5
    tools = [t for t in args.tools.split(",") if t]
    args.play_desc = args.play_desc or args.play
    # Room for the largest lab: `play lab up` spills past .254 into the next /24 blocks (from
    # .11), checked again by it; every address the lab writes is checked to be loopback.
    last = max(sizes + play_only)
    o = [int(x) for x in args.base.split(".")]
    blocks = 0 if o[3] + last <= 254 else 1 + (last - (254 - o[3]) - 1) // 244
    if o[3] >= 254 or o[2] + blocks > 255:
        raise SystemExit(f"bench: base {args.base} leaves no room for {last} hosts")
    # N parallel ssh (the floor) and a play with --forks N hold N sockets and pipes at once.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if want < 4 * last + 64:
        raise SystemExit(f"bench: {last} hosts need about {4 * last + 64} open files; the hard limit is {hard} "
                         "(raise it: ulimit -Hn)")

    has_programs = {"yes": True, "no": False}.get(args.play_programs) if args.play_programs != "auto" \
        else play_has_programs(args.play)
    play_book = BENCH / "play" / ("site.yml" if has_programs else "site-noprogram.yml")
    if args.case == "deploy":
        WORK.mkdir(exist_ok=True)
        play_book = deploy_project()
    elif not has_programs:
        log("bench: NOTE play has no `program:` resource yet: play's side writes the two programs' conf files "
            "only (no restart step) — benches/play/site-noprogram.yml")

    WORK.mkdir(exist_ok=True)
    cg = Cgroups()
    lab = Lab(args.play, args.base)
    results, floors = [], {}
    mach = machine()
    t_start = time.perf_counter()
    try:
        plan = [(n, tools) for n in sizes] + [(n, ["play"]) for n in play_only if "play" in tools]
        for n, ts in plan:
            log(f"bench: {n} hosts: {', '.join(ts)}")
            for tool in ts:
                fl = []
                try:
                    r = run_tool(tool, n, lab, cg, args, play_book, fl)
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    log(f"    FAILED: {e}")
                    r = {"tool": tool, "n": n, "error": str(e).splitlines()[0][:120], "notes": []}
                if tool == "play" and not has_programs:
                    r["no_programs"] = True
                for f in fl:
                    floors.setdefault(n, []).extend(f)
                results.append(r)
                if args.case == "files":
                    report(results, floors, args, has_programs, mach, time.perf_counter() - t_start)
    finally:
        lab.down()
        cg.close()

    if args.case == "deploy":
        out = deploy_report(results, floors, args, mach, time.perf_counter() - t_start)
    else:
        out = report(results, floors, args, has_programs, mach, time.perf_counter() - t_start)
    print(out)
    return 0 if all("noop" in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
