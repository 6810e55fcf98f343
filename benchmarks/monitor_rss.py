#!/usr/bin/env python3
"""RSS of pyctr-monitor, the parent of each detached container (issue 4's target: at most
podman's conmon, about 2 MB).

    sudo .venv/bin/python benchmarks/monitor_rss.py [-n 10]
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

PYCTR = os.path.join(os.path.dirname(sys.executable), "pyctr")


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    return int(stat[stat.rindex(b")") + 2:].split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10, help="detached containers to measure")
    args = parser.parse_args()
    monitors: list[int] = []
    with tempfile.TemporaryDirectory(prefix="pyctr-rss-") as root:
        env = {**os.environ, "PYCTR_ROOT": root}
        ids = [subprocess.run([PYCTR, "run", "-d", "busybox", "sleep", "60"], env=env, check=True,
                              capture_output=True, text=True).stdout.strip() for _ in range(args.n)]
        try:
            import json
            state = json.loads(subprocess.run([PYCTR, "inspect", *ids], env=env, check=True,
                                              capture_output=True, text=True).stdout)
            monitors = [parent(c["State"]["Pid"]) for c in state]
            sizes = [rss_kib(m) for m in monitors]
        finally:
            subprocess.run([PYCTR, "rm", "-f", *ids], env=env, capture_output=True)
            while any(os.path.exists(f"/proc/{m}") for m in monitors):  # their cleanup runs last
                time.sleep(0.05)
    print(f"pyctr-monitor RSS over {len(sizes)} detached containers: median {statistics.median(sizes) / 1024:.2f} MiB, "
          f"max {max(sizes) / 1024:.2f} MiB (podman's conmon: about 2 MiB)")


if __name__ == "__main__":
    main()
