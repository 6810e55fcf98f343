#!/usr/bin/env python3
"""pyctr next to runc and crun: start-up, start-up with cgroup limits, exec, throughput
and the monitor's memory, on the same busybox rootfs, in alternation (A B C A B C ...).

    sudo .venv/bin/python benchmarks/bench.py [-n 30] [--only start,limits,exec,seccomp,throughput,monitor]
                                              [--baseline OTHER/.venv/bin/pyctr]

"pyctr" is the `pyctr` command with its warm process running (started and waited for
before the timing); "pyctr-cold" the same command with PYCTR_NO_SERVER=1: the Python CLI
from scratch, as every command ran before the warm process.  `--only cli` times ps,
images and inspect; `--only first` a command that finds no warm process (and starts one).

It runs itself in a private mount namespace with /sys/fs/cgroup/unified unmounted there:
crun 1.8 refuses this machine's hybrid layout otherwise.  All three runtimes see the same
namespace, and the host's mounts are untouched.  A runtime that is not installed is
skipped, and the table says so.  --baseline adds another build of pyctr (say, a worktree
of an earlier commit with a venv of its own) as "pyctr-base", taking turns with the rest,
so that a change is measured against what it changed in one sitting.
"""

import argparse
import concurrent.futures
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PYCTR = os.path.join(os.path.dirname(sys.executable), "pyctr")
PYCTR_RUNTIME = os.path.join(os.path.dirname(sys.executable), "pyctr-runtime")
# runc's command line, each on the same bundle: pyctr's runtime next to runc and crun
OCI_CLIS = {"pyctr-runtime": PYCTR_RUNTIME, "runc": "runc", "crun": "crun"}
RUNTIMES = ("pyctr", "runc", "crun")
LIMITS = {"memory": {"limit": 64 << 20}, "cpu": {"cpus": "0"}}  # = pyctr's -m 64m --cpuset-cpus 0
SCENARIOS = ("start", "limits", "exec", "seccomp", "throughput", "monitor", "network", "oci", "podman", "cli",
             "first")
COLD_ENV = {"PYCTR_NO_SERVER": "1"}


class Command(list):
    """An argv, and what it adds to the environment (None: nothing)."""

    env: dict | None = None

    @classmethod
    def with_env(cls, argv: list[str], env: dict | None) -> "Command":
        command = cls(argv)
        command.env = env
        return command


def environment(argv: list[str]) -> dict | None:
    extra = getattr(argv, "env", None)
    return {**os.environ, **extra} if extra else None


def private_namespace() -> None:
    """Re-executes under `unshare -m` once, then drops the cgroup2 mount crun trips on."""
    if os.environ.get("PYCTR_BENCH_NS") != "1":
        os.environ["PYCTR_BENCH_NS"] = "1"
        os.execvp("unshare", ["unshare", "-m", "--propagation", "private", sys.executable, *sys.argv])
    if os.path.ismount("/sys/fs/cgroup/unified"):
        subprocess.run(["umount", "/sys/fs/cgroup/unified"], check=True)


class Bench:
    """The work directory: pyctr's root with the busybox image (and the baseline's root),
    and OCI bundles over one copy of the same layer for runc and crun."""

    def __init__(self, work: str, baseline: str | None = None):
        self.work = work
        self.commands = {"pyctr": PYCTR, "pyctr-cold": PYCTR,
                         **({"pyctr-base": os.path.abspath(baseline)} if baseline else {})}
        self.counter = iter(range(10**9))
        for name in self.commands:
            run(self.pyctr("run", "--rm", "--net", "none", "busybox", "true", which=name))
        self.start_server()
        layers = os.path.join(self.root("pyctr"), "layers")
        [layer] = os.listdir(layers)
        self.rootfs = os.path.join(work, "rootfs")
        shutil.copytree(os.path.join(layers, layer, "diff"), self.rootfs, symlinks=True)
        self.installed = [*self.commands, *(r for r in RUNTIMES if r != "pyctr" and shutil.which(r))]
        # pyctr's engine on runc and crun (--runtime): its monitor, store and overlay, their create/start
        self.engine_on = [f"pyctr/{r}" for r in RUNTIMES if r != "pyctr" and shutil.which(r)]
        for r in RUNTIMES:
            if r not in self.installed:
                print(f"{r}: not installed, skipped", file=sys.stderr)

    def start_server(self) -> None:
        """pyctr's warm process, started by a command and waited for (it imports at idle
        priority): the timed commands find it ready."""
        run(self.pyctr("ps"))
        self.wait_for_server()
        run(self.pyctr("ps"))

    def wait_for_server(self) -> None:
        sock = os.path.join(self.root("pyctr"), "run", "server", "sock")
        deadline = time.monotonic() + 60
        while not os.path.exists(sock):
            if time.monotonic() > deadline:
                raise SystemExit("pyctr's warm process did not start")
            time.sleep(0.05)

    def stop_server(self) -> None:
        run(self.pyctr("system", "server", "--stop"))
        reap_orphans()

    def close(self) -> None:
        """The default networks the roots made (a bridge and an nftables table each), and
        the warm process."""
        for name in self.commands:
            subprocess.run(self.pyctr("network", "rm", "pyctr0", which=name), capture_output=True,
                           env=environment(self.pyctr(which=name)))
        subprocess.run(self.pyctr("system", "server", "--stop"), capture_output=True)

    def root(self, which: str) -> str:
        return os.path.join(self.work, which)

    def bundle(self, name: str, args: list[str], resources: dict | None = None) -> str:
        """runc's default spec running `args`, its root the shared rootfs."""
        path = os.path.join(self.work, name)
        if os.path.exists(path):
            return path
        os.makedirs(path)
        run(["runc", "spec", "--bundle", path] if shutil.which("runc") else ["crun", "spec", "--bundle", path])
        with open(os.path.join(path, "config.json")) as f:
            config = json.load(f)
        config["root"]["path"] = self.rootfs
        config["process"].update(args=args, terminal=False)
        if resources:
            config["linux"]["resources"] = {**config["linux"].get("resources", {}), **resources}
        with open(os.path.join(path, "config.json"), "w") as f:
            json.dump(config, f)
        return path

    def pyctr(self, *args: str, which: str = "pyctr") -> Command:
        """A command of pyctr's (or of the baseline's, `which` "pyctr-base"; of the cold
        CLI, "pyctr-cold")."""
        return Command.with_env([self.commands[which], "--root", self.root(which), *args],
                                COLD_ENV if which == "pyctr-cold" else None)

    def oci(self, runtime: str, *args: str) -> list[str]:
        return [runtime, "--root", os.path.join(self.work, f"{runtime}-state"), *args]

    def new_id(self) -> str:
        return f"bench{next(self.counter)}"

    def run_true(self, runtime: str, limits: bool = False) -> list[str]:
        flags = ["-m", "64m", "--cpuset-cpus", "0"] if limits else []
        if runtime in self.commands:
            return self.pyctr("run", "--rm", "--net", "none", *flags, "busybox", "true", which=runtime)
        if runtime.startswith("pyctr/"):
            return self.pyctr("run", "--rm", "--net", "none", "--runtime", runtime[len("pyctr/"):], *flags,
                              "busybox", "true")
        bundle = self.bundle("limits" if limits else "true", ["/bin/true"], LIMITS if limits else None)
        return self.oci(runtime, "run", "--bundle", bundle, self.new_id())


def run(argv: list[str], detached: bool = False) -> str:
    """Runs a command to its end; `detached`: its stdio is /dev/null, since what it leaves
    running (runc run -d) would hold our pipes open."""
    out = subprocess.DEVNULL if detached else subprocess.PIPE
    r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, text=True, env=environment(argv))
    if r.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({r.returncode}): {(r.stderr or '').strip()}")
    return r.stdout or ""


def reap_orphans() -> None:
    """runc's and crun's detached containers are reparented to us (a subreaper): reap them."""
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def become_subreaper() -> None:
    import ctypes
    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one command and what it waited for."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=environment(argv))
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode()
    proc.stderr.close()
    if code != 0:
        raise SystemExit(f"{argv[0]} failed ({code}): {err}")
    return wall, usage.ru_utime + usage.ru_stime


def peak_rss_kib(argv: list[str]) -> int | None:
    """The largest RSS of the command's process tree, by GNU time: wait4's own figure would
    include the pages of this Python process, which the command is forked from."""
    if not os.access("/usr/bin/time", os.X_OK):
        return None
    r = subprocess.run(["/usr/bin/time", "-f", "%M", *argv], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True, env=environment(argv))
    return int(r.stderr.strip().splitlines()[-1])


def alternate(makers: dict, runs: int, warmup: int) -> dict:
    """Each maker's command, timed `runs` times, the runtimes taking turns."""
    for _ in range(warmup):
        for make in makers.values():
            timed(make())
    samples = {name: [] for name in makers}
    for _ in range(runs):  # drift over the run hits every runtime alike
        for name, make in makers.items():
            samples[name].append(timed(make()))
    rss = {name: max((peak_rss_kib(make()) or 0) for _ in range(3)) for name, make in makers.items()}
    return {name: (s, rss[name]) for name, s in samples.items()}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def latency_table(samples: dict) -> str:
    medians = {n: statistics.median(w for w, _ in s) for n, (s, _) in samples.items()}
    against = [r for r in ("runc", "crun", "pyctr-cold", "pyctr-base", "unconfined", "podman/runc", "podman/crun")
               if r in medians]
    lines = ["| runtime | median ms | p90 ms | CPU ms (median) | peak RSS MiB | " + " | ".join(f"vs {r}" for r in against) + " |",
             "|---|---|---|---|---|" + "---|" * len(against)]
    for name, (s, rss) in samples.items():
        walls = [w for w, _ in s]
        ratios = " | ".join(f"{medians[name] / medians[other]:.2f}x" for other in against)
        lines.append(f"| {name} | {medians[name] * 1e3:.1f} | {percentile(walls, 0.9) * 1e3:.1f} | "
                     f"{statistics.median(c for _, c in s) * 1e3:.1f} | {rss / 1024:.1f} | {ratios} |")
    return "\n".join(lines)


def start(bench: Bench, args) -> str:
    samples = alternate({r: (lambda r=r: bench.run_true(r)) for r in bench.installed + bench.engine_on},
                        args.runs, args.warmup)
    return "`run --rm --net none busybox true` (runc, crun: their spec's network namespace, lo only; " \
        "pyctr/runc, pyctr/crun: `pyctr run --runtime runc|crun`)\n\n" + \
        latency_table(samples)


def limits(bench: Bench, args) -> str:
    samples = alternate({r: (lambda r=r: bench.run_true(r, limits=True)) for r in bench.installed + bench.engine_on},
                        args.runs, args.warmup)
    return "`run --rm -m 64m --cpuset-cpus 0 busybox true` (runc, crun: the same limits in config.json)\n\n" \
        + latency_table(samples)


def exec_(bench: Bench, args) -> str:
    """`exec true` into a running `sleep`, one per runtime."""
    targets = {}
    try:
        for r in bench.installed:
            if r in bench.commands:
                targets[r] = run(bench.pyctr("run", "-d", "--net", "none", "busybox", "sleep", "600", which=r)).strip()
            else:
                targets[r] = bench.new_id()
                run(bench.oci(r, "run", "-d", "--bundle", bench.bundle("sleep", ["/bin/sleep", "600"]), targets[r]),
                    detached=True)
        makers = {r: (lambda r=r: bench.pyctr("exec", targets[r], "true", which=r) if r in bench.commands
                      else bench.oci(r, "exec", targets[r], "/bin/true")) for r in targets}
        samples = alternate(makers, args.runs, args.warmup)
    finally:
        for r, target in targets.items():
            subprocess.run(bench.pyctr("rm", "-f", target, which=r) if r in bench.commands
                           else bench.oci(r, "delete", "-f", target), capture_output=True)
        time.sleep(0.1)
        reap_orphans()
    return "`exec CTR true` into a running container\n\n" + latency_table(samples)


def seccomp(bench: Bench, args) -> str:
    """What docker's default seccomp profile costs a run once its filter is compiled (the
    warm-up runs compile it): the same run with it and unconfined, taking turns."""
    plain = ["run", "--rm", "--net", "none", "busybox", "true"]
    makers = {"pyctr": lambda: bench.pyctr(*plain),
              "unconfined": lambda: bench.pyctr("run", "--rm", "--security-opt", "seccomp=unconfined", *plain[2:])}
    samples = alternate(makers, args.runs, args.warmup)
    return "`run --rm busybox true`: the default seccomp profile (pyctr) against none (unconfined)\n\n" \
        + latency_table(samples)


def throughput(bench: Bench, args) -> str:
    """50 containers one after another, and 2 x 25 side by side: containers per second."""
    lines = ["| runtime | 50 in sequence: s | per s | 2 x 25 in parallel: s | per s | vs runc (parallel) |",
             "|---|---|---|---|---|---|"]
    rates, rows = {}, []
    for r in bench.installed:
        began = time.perf_counter()
        for _ in range(50):
            timed(bench.run_true(r))
        sequential = time.perf_counter() - began
        began = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda _: [timed(bench.run_true(r)) for _ in range(25)], range(2)))
        parallel = time.perf_counter() - began
        rates[r] = 50 / parallel
        rows.append((r, sequential, parallel))
    for r, sequential, parallel in rows:  # once all are in: runc may come after the row
        lines.append(f"| {r} | {sequential:.2f} | {50 / sequential:.0f} | {parallel:.2f} | {50 / parallel:.0f} | "
                     + (f"{rates[r] / rates['runc']:.2f}x |" if "runc" in rates else "- |"))
    return "Throughput\n\n" + "\n".join(lines)


def oci(bench: Bench, args) -> str:
    """The OCI runtime command line alone, on one bundle: `run` (create and start in one,
    waiting for the exit) and create + start + delete as separate commands (as podman and
    containerd drive a runtime), for pyctr-runtime, runc and crun."""
    clis = {name: path for name, path in OCI_CLIS.items() if shutil.which(path)}
    bundle = bench.bundle("true", ["/bin/true"])

    def run_(name):
        return [clis[name], "--root", os.path.join(bench.work, f"{name}-state"), "run", "--bundle", bundle,
                bench.new_id()]

    def split(name):
        state = os.path.join(bench.work, f"{name}-state")
        cid = bench.new_id()
        steps = [[clis[name], "--root", state, "create", "--bundle", bundle, cid],
                 [clis[name], "--root", state, "start", cid],
                 [clis[name], "--root", state, "delete", "--force", cid]]
        script = " && ".join(" ".join(step) + (" >/dev/null 2>&1 </dev/null" if i == 0 else "")
                             for i, step in enumerate(steps))
        return ["sh", "-c", script]
    text = "`RUNTIME run --bundle B ID` on one bundle (busybox `true`, runc's default spec)\n\n" + \
        latency_table(alternate({n: (lambda n=n: run_(n)) for n in clis}, args.runs, args.warmup))
    samples = alternate({n: (lambda n=n: split(n)) for n in clis}, args.runs, args.warmup)
    reap_orphans()
    return text + "\n\n`create`, `start`, `delete --force` as three commands (through one `sh -c`)\n\n" + \
        latency_table(samples)


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


def monitor(bench: Bench, args) -> str:
    """RSS of pyctr-monitor under 10 detached containers (podman's conmon: about 2 MiB)."""
    ids = [run(bench.pyctr("run", "-d", "--net", "none", "busybox", "sleep", "600")).strip() for _ in range(10)]
    monitors = []
    try:
        state = json.loads(run(bench.pyctr("inspect", *ids)))
        monitors = [parent(c["State"]["Pid"]) for c in state]
        sizes = [rss_kib(m) for m in monitors]
    finally:
        subprocess.run(bench.pyctr("rm", "-f", *ids), capture_output=True)
        while any(os.path.exists(f"/proc/{m}") for m in monitors):  # their cleanup runs last
            time.sleep(0.05)
            reap_orphans()  # they are ours to reap: we are a subreaper
    conmon = "conmon: not installed here; podman's own figure is about 2 MiB" if not shutil.which("conmon") \
        else "conmon: installed, but not measured (it needs podman to drive it)"
    return (f"pyctr-monitor RSS over {len(sizes)} detached containers: median {statistics.median(sizes) / 1024:.2f} MiB, "
            f"max {max(sizes) / 1024:.2f} MiB ({conmon})")


class Podman:
    """podman 4.3 on a busybox image of pyctr's (saved and loaded), in a store of its own:
    runc under it, cgroupfs, and this machine's needs (--ulimit: root here cannot raise
    its limits; a runroot under 50 characters)."""

    def __init__(self, work: str, pyctr_argv: list[str]):
        self.base = tempfile.mkdtemp(prefix="pd", dir="/tmp")
        self.argv = ["podman", "--root", f"{self.base}/root", "--runroot", f"{self.base}/run",
                     "--tmpdir", f"{self.base}/tmp", "--storage-driver", "overlay", "--events-backend", "none",
                     "--cgroup-manager", "cgroupfs"]
        archive = os.path.join(work, "busybox.tar")
        run([*pyctr_argv, "save", "-o", archive, "busybox"])
        run([*self.argv, "load", "-i", archive])

    def run_true(self, network: str, runtime: str = "runc") -> list[str]:
        return [*self.argv, "--runtime", runtime, "run", "--rm", "--network", network, "--ulimit",
                "nofile=1024:1024", "--ulimit", "nproc=1024:1024", "busybox", "true"]

    def close(self) -> None:
        subprocess.run([*self.argv, "system", "reset", "--force"], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


def podman(bench: Bench, args) -> str:
    """podman's `run --rm --network none busybox true` on each runtime (conmon, its store and
    its overlay around each): what a podman user sees of the runtime underneath."""
    if not shutil.which("podman"):
        return "podman: not installed, skipped"
    runtimes = {name: path for name, path in OCI_CLIS.items() if shutil.which(path)}
    pod = Podman(bench.work, bench.pyctr())
    try:
        samples = alternate({f"podman/{name}": (lambda path=path: pod.run_true("none", path))
                             for name, path in runtimes.items()}, args.runs, args.warmup)
    finally:
        pod.close()
    return "`podman --runtime RUNTIME run --rm --network none busybox true`\n\n" + latency_table(samples)


def network(bench: Bench, args) -> str:
    """A container on the default bridge against one with lo only: what the network costs
    pyctr (a veth pair, an address, a route, a lease), beside what it costs podman
    (netavark).  The issue's budget: pyctr's bridge at most 10 ms over its none."""
    makers = {"pyctr none": lambda: bench.pyctr("run", "--rm", "--net", "none", "busybox", "true"),
              "pyctr bridge": lambda: bench.pyctr("run", "--rm", "busybox", "true")}
    podman = Podman(bench.work, bench.pyctr()) if shutil.which("podman") else None
    try:
        if podman:
            makers.update({"podman none": lambda: podman.run_true("none"),
                           "podman bridge": lambda: podman.run_true("bridge")})
        samples = alternate(makers, args.runs, args.warmup)
    finally:
        if podman:
            podman.close()
    medians = {n: statistics.median(w for w, _ in s) for n, (s, _) in samples.items()}
    lines = ["`run --rm busybox true` on the default bridge and with --network none\n",
             "| command | median ms | p90 ms | bridge - none, ms |", "|---|---|---|---|"]
    for name, (s, _) in samples.items():
        tool, mode = name.split()
        extra = f"{(medians[name] - medians[tool + ' none']) * 1e3:+.1f}" if mode == "bridge" else ""
        lines.append(f"| {name} | {medians[name] * 1e3:.1f} | {percentile([w for w, _ in s], 0.9) * 1e3:.1f} | {extra} |")
    return "\n".join(lines)


def cli(bench: Bench, args) -> str:
    """`ps -a`, `images` and `inspect CTR` (a running one), warm and cold."""
    names = {}
    try:
        for which in ("pyctr", "pyctr-cold"):
            names[which] = run(bench.pyctr("run", "-d", "--net", "none", "busybox", "sleep", "600", which=which)).strip()
        text = []
        for title, argv in (("ps -a", ["ps", "-a"]), ("images", ["images"]), ("inspect CTR", ["inspect", None])):
            makers = {w: (lambda w=w, argv=argv: bench.pyctr(*[a or names[w] for a in argv], which=w)) for w in names}
            text.append(f"`{title}`\n\n" + latency_table(alternate(makers, args.runs, args.warmup)))
    finally:
        for which, name in names.items():
            subprocess.run(bench.pyctr("rm", "-f", name, which=which), capture_output=True,
                           env=environment(bench.pyctr(which=which)))
    return "\n\n".join(text)


def first(bench: Bench, args) -> str:
    """The first command after the warm process has gone: the client finds none, runs the
    command cold and starts one (at idle priority) for the next; against the cold CLI
    alone (PYCTR_NO_SERVER=1), which is how every command ran before."""
    def first_call():
        bench.stop_server()  # untimed: each sample finds none
        return bench.run_true("pyctr")

    def cold_call():  # the one a first call started has done its importing (untimed)
        bench.wait_for_server()
        return bench.run_true("pyctr-cold")
    try:
        samples = alternate({"pyctr (none running)": first_call, "pyctr-cold": cold_call}, args.runs, args.warmup)
    finally:
        bench.start_server()
    return "`run --rm --net none busybox true` with no warm process running\n\n" + latency_table(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=30, help="timed runs per runtime (default 30)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs per runtime first")
    parser.add_argument("--only", default=",".join(SCENARIOS), help=f"some of {','.join(SCENARIOS)}")
    parser.add_argument("--baseline", help="another build's pyctr command, measured beside this one as pyctr-base")
    args = parser.parse_args()
    chosen = args.only.split(",")
    if set(chosen) - set(SCENARIOS):
        parser.error(f"--only takes {','.join(SCENARIOS)}")
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    private_namespace()
    become_subreaper()
    functions = {"start": start, "limits": limits, "exec": exec_, "seccomp": seccomp, "throughput": throughput,
                 "monitor": monitor, "network": network, "oci": oci, "podman": podman, "cli": cli, "first": first}
    print(f"{time.strftime('%Y-%m-%d')}, {os.cpu_count()} CPUs, kernel {os.uname().release}, "
          f"{args.runs} timed runs per runtime after {args.warmup} untimed\n", flush=True)
    with tempfile.TemporaryDirectory(prefix="pyctr-bench-") as work:
        bench = Bench(work, args.baseline)
        try:
            for name in chosen:
                print(functions[name](bench, args) + "\n", flush=True)
        finally:
            bench.close()


if __name__ == "__main__":
    main()
