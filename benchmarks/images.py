#!/usr/bin/env python3
"""Images: pyctr next to podman (and to `zcat | tar -x`, the floor) on the Debian image of
the tests (mmdebstrap's minbase bookworm made an OCI image by umoci, two layers), from a
registry on loopback (Debian's docker-registry), taking turns (A B C A B C ...).

    sudo .venv/bin/python benchmarks/images.py [-n 5] [--only pull,load,commit,run] [--cache DIR]

- pull: `pyctr pull` and `podman pull` into fresh stores, and `zcat LAYER | tar -x` of the
  big layer's blob (no network, no digest: what unpacking alone costs on this disk);
- load: `pyctr load` and `podman load` of the same docker archive (made by `skopeo copy`);
- commit: a container on the Debian image that copied /usr/share (about 40 MB of files),
  committed by each;
- run: `pyctr run --rm IMAGE true` on the pulled Debian image and on busybox.
Each timed run starts after a `sync`, so one run's writeback does not land on the next.
--cache keeps the Debian tarball and layout across runs (tests/material.py makes them).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import material  # noqa: E402 - the tests' own material, made the same way

PYCTR = os.path.join(os.path.dirname(sys.executable), "pyctr")
SCENARIOS = ("pull", "load", "commit", "run")
PODMAN_RUN = ["--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "--network", "none"]


def sh(argv: list[str], **kwargs) -> str:
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, **kwargs)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv[:4])}... failed ({r.returncode}): {r.stderr.strip()[-500:]}")
    return r.stdout


class Stores:
    """Fresh stores for each timed run: a pyctr root, a podman root (overlay driver, as a
    podman user has it), removed untimed afterwards."""

    def __init__(self, work: str):
        self.work = work
        self.n = 0

    def pyctr(self) -> list[str]:
        self.n += 1
        return [PYCTR, "--root", os.path.join(self.work, f"pyctr-{self.n}")]

    def podman(self) -> list[str]:
        self.n += 1
        base = tempfile.mkdtemp(prefix="pd", dir="/tmp")  # podman takes a runroot of 50 characters at most
        return ["podman", "--root", f"{base}/root", "--runroot", f"{base}/run", "--tmpdir", f"{base}/tmp",
                "--storage-driver", "overlay", "--events-backend", "none", "--cgroup-manager", "cgroupfs"]

    @staticmethod
    def drop(argv: list[str]) -> None:
        if argv[0] == "podman":
            subprocess.run([*argv, "system", "reset", "--force"], capture_output=True)
            shutil.rmtree(os.path.dirname(argv[argv.index("--root") + 1]), ignore_errors=True)
        else:
            root = argv[argv.index("--root") + 1]
            subprocess.run([*argv, "rm", "-f", *sh([*argv, "ps", "-aq"]).split()], capture_output=True)
            shutil.rmtree(root, ignore_errors=True)


def timed(prepare, measure, cleanup=None) -> float:
    """Seconds of `measure(state)` after `prepare()` and a sync; `cleanup(state)` after."""
    state = prepare()
    subprocess.run(["sync"])
    start = time.perf_counter()
    measure(state)
    seconds = time.perf_counter() - start
    if cleanup:
        cleanup(state)
    return seconds


def alternate(ways: dict, runs: int) -> dict:
    samples = {name: [] for name in ways}
    for _ in range(runs):
        for name, (prepare, measure, cleanup) in ways.items():
            samples[name].append(timed(prepare, measure, cleanup))
    return samples


def table(title: str, samples: dict, against: list[str], unit: str = "s") -> str:
    scale = 1000 if unit == "ms" else 1
    medians = {n: statistics.median(s) for n, s in samples.items()}
    lines = [f"### {title}", "", f"| | median {unit} | min {unit} | max {unit} | " +
             " | ".join(f"vs {a}" for a in against) + " |", "|---|---|---|---|" + "---|" * len(against)]
    for name, s in samples.items():
        ratios = " | ".join(f"{medians[name] / medians[a]:.2f}x" for a in against)
        lines.append(f"| {name} | {medians[name] * scale:.2f} | {min(s) * scale:.2f} | {max(s) * scale:.2f} | {ratios} |")
    return "\n".join(lines)


class Bench:
    LOADED = f"localhost/debian:{material.DEBIAN_TAG}"  # the archive's name: the same in podman and pyctr

    def __init__(self, work: str, cache: str):
        self.work = work
        self.stores = Stores(work)
        layout, self.manifest = material.debian_image(cache)
        self.layout = layout
        self.registry = material.start_registry(os.path.join(work, "registry"))
        material.push(layout, material.DEBIAN_TAG, self.registry, f"library/debian:{material.DEBIAN_TAG}")
        self.ref = f"{self.registry.addr}/library/debian:{material.DEBIAN_TAG}"
        import json
        manifest = json.loads(material.layout_blob(layout, self.manifest.digest))
        self.big_layer = os.path.join(layout, "blobs", "sha256", manifest["layers"][0]["digest"][7:])
        self.archive = os.path.join(work, "debian-docker.tar")
        sh(["skopeo", "copy", "--quiet", f"oci:{layout}:{material.DEBIAN_TAG}",
            f"docker-archive:{self.archive}:{self.LOADED}"])

    def close(self) -> None:
        self.registry.stop()

    def pull(self, runs: int) -> str:
        def unpack_dir():
            d = tempfile.mkdtemp(dir=self.work)
            return d
        ways = {
            "pyctr pull": (self.stores.pyctr, lambda p: sh([*p, "pull", "-q", self.ref]), Stores.drop),
            "podman pull": (self.stores.podman, lambda p: sh([*p, "pull", "-q", "--tls-verify=false", self.ref]),
                            Stores.drop),
            "zcat+tar -x": (unpack_dir, lambda d: sh(["sh", "-c", f"zcat '{self.big_layer}' | tar -x -C '{d}'"]),
                              lambda d: shutil.rmtree(d)),
        }
        return table(f"pull {self.ref.split('/', 1)[1]} (63 MB compressed, 2 layers)", alternate(ways, runs),
                     ["podman pull", "zcat+tar -x"])

    def load(self, runs: int) -> str:
        ways = {
            "pyctr load": (self.stores.pyctr, lambda p: sh([*p, "load", "-q", "-i", self.archive]), Stores.drop),
            "podman load": (self.stores.podman, lambda p: sh([*p, "load", "-q", "-i", self.archive]), Stores.drop),
        }
        return table("load of the same docker archive", alternate(ways, runs), ["podman load"])

    def commit(self, runs: int) -> str:
        script = "cp -a /usr/share /usr/share2"

        def pyctr_ready():
            p = self.stores.pyctr()
            sh([*p, "load", "-q", "-i", self.archive])
            sh([*p, "run", "--name", "c", "--net", "none", self.LOADED, "sh", "-c", script])
            return p

        def podman_ready():
            p = self.stores.podman()
            sh([*p, "load", "-q", "-i", self.archive])
            sh([*p, "run", "--name", "c", *PODMAN_RUN, self.LOADED, "sh", "-c", script])
            return p

        ways = {
            "pyctr commit": (pyctr_ready, lambda p: sh([*p, "commit", "c", "mine:1"]), Stores.drop),
            "podman commit": (podman_ready, lambda p: sh([*p, "commit", "-q", "c", "mine:1"]), Stores.drop),
        }
        return table("commit of a container that copied /usr/share", alternate(ways, runs), ["podman commit"])

    def run(self, runs: int) -> str:
        p = self.stores.pyctr()
        sh([*p, "pull", "-q", self.ref])
        sh([*p, "run", "--rm", "--net", "none", "busybox", "true"])
        ways = {name: ((lambda: None), (lambda _, image=image: sh([*p, "run", "--rm", "--net", "none", image, "true"])), None)
                for name, image in (("busybox (1 layer)", "busybox"), ("debian (2 layers)", self.ref))}
        out = table("run --rm IMAGE true", alternate(ways, runs * 6), ["busybox (1 layer)"], unit="ms")
        Stores.drop(p)
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=5, help="timed runs per way (default 5; run: 30)")
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"some of {','.join(SCENARIOS)}")
    parser.add_argument("--cache", help="keep the Debian material here across runs")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    chosen = args.only.split(",")
    if set(chosen) - set(SCENARIOS):
        parser.error(f"--only takes {','.join(SCENARIOS)}")
    print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, kernel {os.uname().release}, {args.runs} timed runs"
          " per way, taking turns\n", flush=True)
    with tempfile.TemporaryDirectory(prefix="pyctr-images-", dir="/var/tmp") as work:
        cache = args.cache or os.path.join(work, "cache")
        os.makedirs(cache, exist_ok=True)
        bench = Bench(work, cache)
        try:
            for name in chosen:
                print(getattr(bench, name)(args.runs) + "\n", flush=True)
        finally:
            bench.close()


if __name__ == "__main__":
    main()
