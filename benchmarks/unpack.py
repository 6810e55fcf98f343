#!/usr/bin/env python3
"""Unpacking a gzip layer: pyctr's unpack against `zcat | tar -x` (zcat+tar), taking turns.

    sudo .venv/bin/python benchmarks/unpack.py LAYER.tar.gz [-n 5] [--dir /dev/shm]

LAYER.tar.gz: a big real layer, say the Debian rootfs of `mmdebstrap --variant=minbase
bookworm debian.tar` gzipped.  Each run unpacks into a fresh directory beside the layer
(or in --dir: /dev/shm takes the disk out, leaving the CPU's share) after a `sync`, so one run's writeback does not land on the
next; the directory is removed untimed.  Ways of pyctr's: `inline` inflates in the
unpacking thread, `thread` in a ReadAhead thread, `zcat` reads from a zcat process.
"""

import argparse
import gzip
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from pyctr.images.readahead import ReadAhead
from pyctr.images.unpack import unpack


def tar(layer: str, target: str) -> None:
    subprocess.run(f"zcat '{layer}' | tar -x -C '{target}'", shell=True, check=True)


def inline(layer: str, target: str) -> None:
    with gzip.open(layer) as stream:
        unpack(stream, target)


def thread(layer: str, target: str) -> None:
    with open(layer, "rb") as raw, ReadAhead(gzip.GzipFile(fileobj=raw)) as stream:
        unpack(stream, target)


def zcat(layer: str, target: str) -> None:
    with subprocess.Popen(["zcat", layer], stdout=subprocess.PIPE) as proc:
        unpack(proc.stdout, target)
    if proc.returncode:
        raise SystemExit(f"zcat failed ({proc.returncode})")


WAYS = {"zcat+tar": tar, "inline": inline, "thread": thread, "zcat": zcat}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("layer")
    parser.add_argument("-n", "--runs", type=int, default=5)
    parser.add_argument("--dir", help="where the targets go (default: beside the layer)")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="unpack-bench-", dir=args.dir or os.path.dirname(os.path.abspath(args.layer)))
    samples = {name: [] for name in WAYS}
    try:
        for _ in range(args.runs):
            for name, way in WAYS.items():
                target = os.path.join(work, "t")
                os.mkdir(target)
                os.sync()
                began = time.perf_counter()
                way(args.layer, target)
                samples[name].append(time.perf_counter() - began)
                shutil.rmtree(target)
    finally:
        shutil.rmtree(work)
    base = statistics.median(samples["zcat+tar"])
    print(f"{os.path.basename(args.layer)} ({os.path.getsize(args.layer) >> 20} MiB) into {os.path.dirname(work)}, "
          f"{args.runs} runs each, "
          f"{os.cpu_count()} CPUs\n\n| way | median s | min s | max s | vs zcat+tar |\n|---|---|---|---|---|")
    for name, s in samples.items():
        print(f"| {name} | {statistics.median(s):.2f} | {min(s):.2f} | {max(s):.2f} | {statistics.median(s) / base:.2f}x |")


if __name__ == "__main__":
    sys.exit(main())
