#!/usr/bin/env python3
"""Start-up latency: `pyctr run --rm busybox true` next to `runc run` and `crun run` on the
same busybox rootfs, run in alternation, with median, p90, CPU time and peak RSS.

    sudo .venv/bin/python benchmarks/startup.py [-n 30]

It runs itself in a private mount namespace with /sys/fs/cgroup/unified unmounted there:
crun 1.8 refuses this machine's hybrid layout otherwise.  All three runtimes see the same
namespace, and the host's mounts are untouched.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYCTR = os.path.join(os.path.dirname(sys.executable), "pyctr")


def private_namespace() -> None:
    """Re-executes under `unshare -m` once, then drops the cgroup2 mount crun trips on."""
    if os.environ.get("PYCTR_BENCH_NS") != "1":
        os.environ["PYCTR_BENCH_NS"] = "1"
        os.execvp("unshare", ["unshare", "-m", "--propagation", "private", sys.executable, *sys.argv])
    if os.path.ismount("/sys/fs/cgroup/unified"):
        subprocess.run(["umount", "/sys/fs/cgroup/unified"], check=True)


def make_bundle(work: str, rootfs_src: str) -> str:
    """An OCI bundle (runc's default spec, running /bin/true) over a copy of pyctr's
    busybox layer, so every runtime starts the same files."""
    bundle = os.path.join(work, "bundle")
    shutil.copytree(rootfs_src, os.path.join(bundle, "rootfs"), symlinks=True)
    subprocess.run(["runc", "spec", "--bundle", bundle], check=True)
    with open(os.path.join(bundle, "config.json")) as f:
        config = json.load(f)
    config["process"]["args"] = ["/bin/true"]
    config["process"]["terminal"] = False
    with open(os.path.join(bundle, "config.json"), "w") as f:
        json.dump(config, f)
    return bundle


def timed(argv: list[str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak RSS KiB) of one command and what it waited for."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {proc.stderr.read().decode()}")
    proc.stderr.close()
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def runners(work: str, bundle: str, pyctr_root: str) -> dict:
    counter = iter(range(10**9))
    found = {"pyctr": lambda: [PYCTR, "--root", pyctr_root, "run", "--rm", "busybox", "true"]}
    for name in ("runc", "crun"):
        if shutil.which(name):
            state = os.path.join(work, f"{name}-state")
            found[name] = (lambda n=name, s=state: [n, "--root", s, "run", "--bundle", bundle, f"bench{next(counter)}"])
        else:
            print(f"{name}: not installed, skipped", file=sys.stderr)
    return found


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def report(samples: dict) -> str:
    medians = {n: statistics.median(w for w, _, _ in s) for n, s in samples.items()}
    lines = ["| runtime | median ms | p90 ms | CPU ms (median) | peak RSS MiB | vs runc | vs crun |",
             "|---|---|---|---|---|---|---|"]
    for name, s in samples.items():
        walls = [w for w, _, _ in s]
        ratio = lambda other: f"{medians[name] / medians[other]:.2f}x" if other in medians else "-"
        lines.append(f"| {name} | {medians[name] * 1e3:.1f} | {percentile(walls, 0.9) * 1e3:.1f} | "
                     f"{statistics.median(c for _, c, _ in s) * 1e3:.1f} | {max(r for _, _, r in s) / 1024:.1f} | "
                     f"{ratio('runc')} | {ratio('crun')} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=30, help="runs per runtime (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs per runtime first")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    private_namespace()
    with tempfile.TemporaryDirectory(prefix="pyctr-bench-") as work:
        pyctr_root = os.path.join(work, "pyctr")
        subprocess.run([PYCTR, "--root", pyctr_root, "run", "--rm", "busybox", "true"], check=True)
        [layer] = os.listdir(os.path.join(pyctr_root, "layers"))
        bundle = make_bundle(work, os.path.join(pyctr_root, "layers", layer, "diff"))
        commands = runners(work, bundle, pyctr_root)
        for _ in range(args.warmup):
            for make in commands.values():
                timed(make())
        samples = {name: [] for name in commands}
        for _ in range(args.runs):  # A B C A B C ...: drift hits every runtime alike
            for name, make in commands.items():
                samples[name].append(timed(make()))
    print(f"{args.runs} runs each of `true` in a busybox container, {time.strftime('%Y-%m-%d')}, "
          f"{os.cpu_count()} CPUs, kernel {os.uname().release}\n")
    print(report(samples))


if __name__ == "__main__":
    main()
