#!/usr/bin/env python3
"""What the network layer's management calls cost: imports (each in a fresh interpreter,
against `python -c pass`), and firewall/bridges calls in one process, on a scratch nft
table and bridge of the benchmark's own (removed at the end).  Medians of -n runs.

    sudo .venv/bin/python benchmarks/network.py [-n 20]
"""

import argparse
import os
import statistics
import subprocess
import sys
import time

IMPORTS = {
    "python -c pass": "pass",
    "import pyroute2": "import pyroute2",
    "import pyctr.network.firewall": "import pyctr.network.firewall",
    "... + a first command (ctypes, libnftables)": "from pyctr.network import firewall; firewall.tables()",
    "import pyctr.network.bridges": "import pyctr.network.bridges",
    "... + a first call (pyroute2)": "from pyctr.network import bridges; bridges.our_links()",
}


def median_ms(fn, n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def imports(n: int) -> None:
    for label, code in IMPORTS.items():
        ms = median_ms(lambda: subprocess.run([sys.executable, "-c", code], check=True), n)
        print(f"{label:48} {ms:8.1f} ms (whole interpreter)")


def calls(n: int) -> None:
    from pyctr.network import bridges, firewall, flows
    from pyctr.network.firewall import Port

    tag = os.urandom(3).hex()
    table, bridge = f"pyctr-b{tag}", f"ptbench{tag}"
    results = {}
    try:
        def setup():
            firewall.drop(table)
            firewall.ensure(table)
            firewall.add_network(table, bridge, "10.213.250.0/24")
        results["ensure + add_network (new table)"] = median_ms(setup, n)
        results["ensure + add_network (again)"] = median_ms(
            lambda: (firewall.ensure(table), firewall.add_network(table, bridge, "10.213.250.0/24")), n)
        ports = [Port("tcp", "", 20000, "10.213.250.2", 80)]
        results["publish 1 port + unpublish"] = median_ms(
            lambda: (firewall.publish(table, "c1", ports), firewall.unpublish(table, "c1")), n)
        for i in range(100):
            firewall.publish(table, f"other{i}", [Port("tcp", "", 30000 + i, "10.213.250.3", 80)])
        results["publish 1 port + unpublish (100 published)"] = median_ms(
            lambda: (firewall.publish(table, "c1", ports), firewall.unpublish(table, "c1")), n)
        results["published() (101 ports)"] = median_ms(lambda: firewall.published(table), n)
        results["remove_network + add_network"] = median_ms(
            lambda: (firewall.remove_network(table, bridge), firewall.add_network(table, bridge, "10.213.250.0/24")), n)
        bridges.our_links()  # pyroute2 imported once, as in a management command
        results["bridges.create + delete"] = median_ms(
            lambda: (bridges.create(bridge, "10.213.250.1", 24), bridges.delete(bridge)), n)
        results["bridges.host_routes()"] = median_ms(bridges.host_routes, n)
        results["flows.forget() (nothing to forget)"] = median_ms(lambda: flows.forget("10.213.250.2"), n)
    finally:
        firewall.drop(table)
        if bridges.exists(bridge):
            bridges.delete(bridge)
    for label, ms in results.items():
        print(f"{label:48} {ms:8.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20)
    args = parser.parse_args()
    imports(args.n)
    calls(args.n)


if __name__ == "__main__":
    main()
