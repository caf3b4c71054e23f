#!/usr/bin/env python3
"""No-op A/B of play builds on ONE lab (benches/README.md, "Comparing two builds' no-op").

    python3 benches/noop_ab.py N ROUNDS PLAY_A PLAY_B [PLAY_C ...]

Starts N lab hosts (`PLAY_A lab up`, addresses from --base, 127.0.0.0/8 only), applies
benches/play/site.yml once with PLAY_A, then runs the no-op apply of each build in turn, ROUNDS
times (the order reversed every other round), on the same hosts: wall (driver clock) and the
CPU of the play process (user+sys, rusage). Every run must say "0 changes applied, 0 failed".
Prints each round, the medians and, for each build, the median of its per-round ratio to
PLAY_A: on a shared, noisy machine the ratios within a round are what means something.
"""
import argparse
import ipaddress
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def run(play, lab, n, book):
    cmd = [play, "apply", "-i", str(lab / "inventory.yml"), "--forks", str(n), "--timeout", "60", str(book)]
    t = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=str(BENCH), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    return time.perf_counter() - t, ru.ru_utime + ru.ru_stime, status, out.decode(errors="replace")


def load():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("hosts", type=int)
    ap.add_argument("rounds", type=int)
    ap.add_argument("plays", nargs="+", help="play binaries; the first is the reference")
    ap.add_argument("--base", default="127.1.6.10", help="first lab address - 1 (127.0.0.0/8 only)")
    ap.add_argument("--lab", default=str(BENCH / ".work" / "ab-lab"))
    ap.add_argument("--book", default=str(BENCH / "play" / "site.yml"))
    a = ap.parse_args()
    if ipaddress.ip_address(a.base) not in ipaddress.ip_network("127.0.0.0/8"):
        sys.exit("noop_ab: --base must be in 127.0.0.0/8")
    plays = [str(Path(p).resolve()) for p in a.plays]
    lab = Path(a.lab)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    subprocess.run([plays[0], "lab", "down", "--dir", str(lab)], capture_output=True)
    r = subprocess.run([plays[0], "lab", "up", str(a.hosts), "--dir", str(lab), "--base", a.base,
                        "--timeout", "600"], capture_output=True, text=True)
    if r.returncode:
        sys.exit(f"noop_ab: lab up failed: {(r.stderr + r.stdout)[-500:]}")
    try:
        w, c, st, out = run(plays[0], lab, a.hosts, a.book)
        print(f"first apply ({Path(plays[0]).name}): {w:.2f}s wall, {c:.2f}s CPU", flush=True)
        if st:
            sys.exit(f"noop_ab: first apply failed:\n{out[-2000:]}")
        res = {p: [] for p in plays}
        print(f"load at start {load()}", flush=True)
        for i in range(a.rounds):
            for p in (plays if i % 2 == 0 else plays[::-1]):
                w, c, st, out = run(p, lab, a.hosts, a.book)
                if st or not re.search(r"\b0 changes applied, 0 failed", out):
                    sys.exit(f"noop_ab: {p}: not a no-op:\n{out[-1500:]}")
                res[p].append((w, c))
            print(f"round {i + 1}: " + "  ".join(
                f"{Path(p).name} {res[p][-1][0]:.3f}s/{res[p][-1][1]:.3f}s CPU" for p in plays) + f"  load {load()}",
                flush=True)
        print(f"load at end {load()}")
        ref = res[plays[0]]
        for p in plays:
            ws, cs = [x[0] for x in res[p]], [x[1] for x in res[p]]
            rw = statistics.median(res[p][i][0] / ref[i][0] for i in range(a.rounds))
            rc = statistics.median(res[p][i][1] / ref[i][1] for i in range(a.rounds))
            print(f"{Path(p).name:24} wall median {statistics.median(ws):.3f}s  CPU median {statistics.median(cs):.3f}s"
                  f"  per-round ratio to {Path(plays[0]).name}: wall {rw:.3f}, CPU {rc:.3f}")
    finally:
        subprocess.run([plays[0], "lab", "down", "--dir", str(lab)], capture_output=True)


if __name__ == "__main__":
    main()
