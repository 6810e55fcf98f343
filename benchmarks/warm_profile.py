#!/usr/bin/env python3
"""The warm `pyctr run`, as issue 16's warm process will run it, next to the cold one and
to runc and crun: a process that has imported everything a command needs forks, and the
child runs `pyctr --root R run --rm --net none busybox true` (pyctr.cli.main.main) and
_exits with its code; the parent waits and times it.

    sudo .venv/bin/python benchmarks/warm_profile.py [-n 30] [--only warm,cold,runc,crun,warm-no-warm.c]
    sudo .venv/bin/python benchmarks/warm_profile.py --marks /tmp/marks [-n 30]
    sudo .venv/bin/python benchmarks/warm_profile.py --strace /tmp/run.strace

--only: which commands take turns; warm-no-warm.c is the warm run without csrc/warm.c's
thread.  --marks: instead, the run's stages timed from inside (STAGES: each call wrapped
in the warm process before it forks, so pyctr itself is unchanged), the median start, end
and length of each over -n runs, in both processes that run Python (the CLI's fork and its
fork that becomes the monitor).  --strace: `strace -f -ttt -T` of one warm run.

Runs in a private mount namespace with /sys/fs/cgroup/unified unmounted (bench.py's
private_namespace: crun refuses this host's hybrid layout otherwise).  Medians, the
commands taking turns; quote ratios, machines vary.
"""

import argparse
import gc
import importlib
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import PYCTR, Bench, become_subreaper, private_namespace, reap_orphans, timed  # noqa: E402

# what the warm process imports before it forks: everything `run` and `exec` reach (a
# warm child of these imports nothing more for `run --rm --net none busybox true`)
WARM_MODULES = ("pyctr.cli.main", "pyctr.cli.fast", "pyctr.cli.commands", "pyctr.cli.flags", "pyctr.cli.render",
                "pyctr.engine.running", "pyctr.engine.launch", "pyctr.engine.create", "pyctr.engine.containers",
                "pyctr.engine.session", "pyctr.engine.execute", "pyctr.engine.store", "pyctr.engine.logopts",
                "pyctr.engine.endpoints", "pyctr.engine.rootfs", "pyctr.engine.seccomp", "pyctr.engine.userfiles",
                "pyctr.images.image", "pyctr.images.reference", "pyctr.network.bridges", "pyctr.network.ipam",
                "pyctr.network.hostfiles", "pyctr.regularfiles", "pyctr.runtime.container", "pyctr.runtime.own",
                "pyctr.runtime.terminal", "pyctr.runtime.cgroups.v1", "pyctr.runtime.cgroups.v2", "sqlite3",
                "_sha256")


def warm_up() -> None:
    for name in WARM_MODULES:
        importlib.import_module(name)
    gc.collect()
    gc.freeze()  # the forked children do not touch (copy) what the parent made


_REAL_FORK = os.fork


def warm_run(argv: list[str], env: dict | None = None, fork=os.fork, prepare=None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one forked child running pyctr's main(argv);
    `prepare()`, if given, runs in the child first (a variant to compare)."""
    start = time.perf_counter()
    pid = fork()
    if pid == 0:
        if env:
            os.environ.update(env)
        if prepare is not None:
            prepare()
        _child_main(argv)
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"warm run failed ({os.waitstatus_to_exitcode(status)}): {argv}")
    return wall, usage.ru_utime + usage.ru_stime


def _child_main(argv: list[str], go: int = -1) -> None:
    """In the fork: stdio on /dev/null, (a byte on `go` awaited,) pyctr's main; _exits."""
    code = 1
    try:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        if go >= 0:
            os.read(go, 1)
        from pyctr.cli.main import main
        _mark("main", _marks["t0"], time.perf_counter())
        code = main(argv)
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


def _no_warm_attach() -> None:
    """A variant: without csrc/warm.c's thread (on v1, the attach's grace period waited out
    in the placement itself)."""
    import pyctr.runtime.cgroups as cgroups
    cgroups.warm_attach = lambda: None


def compare(bench: Bench, which: list[str], runs: int, warmup: int, gap: float = 0) -> str:
    argv = ["--root", bench.root("pyctr"), "run", "--rm", "--net", "none", "busybox", "true"]
    makers = {"pyctr warm": lambda: warm_run(argv), "pyctr cold": lambda: timed([PYCTR, *argv]),
              "runc": lambda: timed(bench.run_true("runc")), "crun": lambda: timed(bench.run_true("crun"))}
    makers["pyctr warm-no-warm.c"] = lambda: warm_run(argv, prepare=_no_warm_attach)
    makers = {name: make for name, make in makers.items() if name.split()[-1] in which}
    samples = {name: [] for name in makers}
    for i in range(warmup + runs):
        for name, make in makers.items():
            time.sleep(gap)  # a quiet spell first: no grace period left from the last command's cgroup writes
            sample = make()
            if i >= warmup:
                samples[name].append(sample)
        reap_orphans()
    medians = {name: statistics.median(w for w, _ in s) for name, s in samples.items()}
    against = [r for r in ("crun", "runc") if r in medians]
    lines = ["| command | median ms | CPU ms | " + " | ".join(f"vs {r}" for r in against) + " |",
             "|---|---|---|" + "---|" * len(against)]
    for name, s in samples.items():
        ratios = " | ".join(f"{medians[name] / medians[r]:.2f}x" for r in against)
        lines.append(f"| {name} | {medians[name] * 1e3:.1f} | {statistics.median(c for _, c in s) * 1e3:.1f} | "
                     f"{ratios} |")
    return f"`run --rm --net none busybox true`, {runs} runs each, in turn\n\n" + "\n".join(lines)


def strace_one(bench: Bench, out: str) -> str:
    """`strace -f -ttt -T` of one warm child, attached while it waits at its start."""
    argv = ["--root", bench.root("pyctr"), "run", "--rm", "--net", "none", "busybox", "true"]
    for _ in range(3):
        warm_run(argv)
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        _child_main(argv, go_r)  # once strace has attached
    tracer = subprocess.Popen(["strace", "-f", "-ttt", "-T", "-s", "120", "-o", out, "-p", str(pid)])
    time.sleep(1)
    os.write(go_w, b"1")
    os.waitpid(pid, 0)
    tracer.wait()
    return f"strace: {out}"


# the stages a warm run goes through, by module (or class): each call is timed, in whichever
# process makes it (the CLI's fork, or its fork that becomes the monitor)
STAGES = {"pyctr.cli.fast": ("parse_globals", "parse_run"), "pyctr.cli.flags": ("paths", "run_options"),
          "pyctr.runtime.cgroups": ("warm_attach",),
          "pyctr.engine.create": ("new", "build_spec", "random_name", "write_new"),
          "pyctr.engine.image_lookup": ("pin", "resolve"),
          "pyctr.engine.endpoints": ("request", "write_files"),
          "pyctr.engine.launch": ("_receive", "_become_monitor"),
          "pyctr.engine.session": ("relay",),
          "pyctr.engine.containers": ("cleanup", "read_exit", "_died", "_release_networks", "_remove_records",
                                      "write_config"),
          "pyctr.engine.store.Store": ("get_container", "add_container", "update_container", "remove_container"),
          "pyctr.runtime.container": ("create", "build_plan", "save_state", "stats", "delete"),
          "pyctr.runtime.seccomp": ("program",),
          "pyctr.runtime.cgroups.v1.CgroupV1": ("create", "apply", "add"),
          "pyctr.runtime._core": ("spawn",),
          "pyctr.runtime.process.Process": ("start",),
          "os": ("waitpid",),
          "pyctr.engine.store": ("Store",)}  # the class after its methods: those are wrapped on it
_marks = {"fd": -1, "t0": 0.0}


def _mark(label: str, began: float, ended: float) -> None:
    """One line `pid label start-ms end-ms` (ms since _marks' t0), when marks are on."""
    if _marks["fd"] >= 0:
        t0 = _marks["t0"]
        os.write(_marks["fd"], f"{os.getpid()} {label} {(began - t0) * 1e3:.3f} {(ended - t0) * 1e3:.3f}\n".encode())


def _timed_call(label: str, fn):
    def wrapper(*args, **kwargs):
        began = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            _mark(label, began, time.perf_counter())
    return wrapper


def _forking(fork):
    """os.fork timed in the parent, and the child's first moment marked."""
    def wrapper():
        began = time.perf_counter()
        pid = fork()
        _mark("fork-child-begins" if pid == 0 else "fork", began, time.perf_counter())
        return pid
    return wrapper


def instrument() -> None:
    """Every STAGES function wrapped to write `pid label start-ms end-ms` to _marks' fd
    (O_APPEND: the fork that becomes the monitor writes there too, until its exec)."""
    for where, names in STAGES.items():
        try:
            owner = importlib.import_module(where)
        except ImportError:  # a class in a module
            module, cls = where.rsplit(".", 1)
            owner = getattr(importlib.import_module(module), cls)
        for name in names:
            setattr(owner, name, _timed_call(f"{where.rsplit('.', 1)[-1]}.{name}", getattr(owner, name)))
    os.fork = _forking(os.fork)
    # modules that imported a name before it was wrapped
    import pyctr.engine.running as running
    import pyctr.engine.launch as launch_mod
    running.launch = launch_mod.launch


# the warm run's critical path, cut at marks: (what happens up to the next cut, the cut it
# starts at as (process, call, "start" | "end")); p0 the CLI's fork, p1 its fork that
# becomes the monitor; the last segment ends at the server's wait4
SEGMENTS = (("the server's fork, to the worker's first line", ("p0", "", "")),
            ("argv read, warm.c's thread started, paths, options", ("p0", "main", "end")),
            ("the store opened (connect, schema, WAL index)", ("p0", "store.Store", "start")),
            ("the image looked up, the config built, a name drawn", ("p0", "store.Store", "end")),
            ("pipes, the fork that becomes the monitor, to its first line", ("p0", "create.new", "end")),
            ("in the fork: setsid, stdio, pipes", ("p1", "fork-child-begins", "end")),
            ("create: plan, seccomp (cached), 8 v1 cgroups made and limited, clone3, placement, state",
             ("p1", "container.create", "start")),
            ("the pid to the CLI, the row says running, the go-ahead", ("p1", "container.create", "end")),
            ("the container set up and exec'd (mounts, pivot_root, seccomp, execve)", ("p1", "Process.start", "start")),
            ("the outcome to the CLI", ("p1", "Process.start", "end")),
            ("relay: the fork execs pyctr-monitor, which reaps `true` and tells the CLI",
             ("p0", "session.relay", "start")),
            ("cleanup: row, OOM count, exit file, 8 cgroups and the state removed, the container's dir "
             "removed, its row deleted", ("p0", "containers.cleanup", "start")),
            ("the monitor told, its end awaited", ("p0", "containers.cleanup", "end")),
            ("the worker's exit (its address space torn down), to the server's wait4", ("p0", "os.waitpid", "end")))


def _segments(marks_by_role: dict, wall_ms: float) -> list[float] | None:
    """One run's SEGMENTS lengths, ms; None if a cut is missing (a run that went otherwise)."""
    cuts = []
    for _, (role, label, which) in SEGMENTS:
        if not label:
            cuts.append(0.0)
            continue
        spans = marks_by_role.get((role, label))
        if not spans:
            return None
        cuts.append(spans[0][0 if which == "start" else 1])
    cuts.append(wall_ms)
    return [b - a for a, b in zip(cuts, cuts[1:])]


def marks(bench: Bench, runs: int, out: str) -> str:
    """Each stage's median start, end and length (ms since the fork) over `runs` warm runs,
    then the critical path's segments (SEGMENTS), each a median of the runs' own."""
    instrument()
    argv = ["--root", bench.root("pyctr"), "run", "--rm", "--net", "none", "busybox", "true"]
    rows: dict[tuple, list] = {}
    totals, segments = [], []
    for i in range(runs + 3):
        path = f"{out}.{i}"
        _marks["fd"] = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
        _marks["t0"] = time.perf_counter()
        wall, _ = warm_run(argv, fork=_REAL_FORK)
        os.close(_marks["fd"])
        _marks["fd"] = -1
        if i < 3:
            continue
        totals.append(wall * 1e3)
        pids: dict[str, str] = {}
        by_role: dict[tuple, list] = {}
        with open(path) as f:
            for line in f:
                pid, label, began, ended = line.split()
                role = pids.setdefault(pid, f"p{len(pids)}")
                by_role.setdefault((role, label), []).append((float(began), float(ended)))
        for (role, label), spans in by_role.items():
            for n, span in enumerate(spans):
                rows.setdefault((role, label, n), []).append(span)
        segments.append(_segments(by_role, wall * 1e3))
    lines = [f"median of {runs}: whole run {statistics.median(totals):.2f} ms (p0: the CLI's fork, p1: its fork "
             "that becomes the monitor)", "", "| process | call | start ms | end ms | ms |", "|---|---|---|---|---|"]
    for (role, label, n), spans in sorted(rows.items(), key=lambda kv: statistics.median(b for b, _ in kv[1])):
        began = statistics.median(b for b, _ in spans)
        ended = statistics.median(e for _, e in spans)
        lines.append(f"| {role} | {label}{f' #{n + 1}' if n else ''} | {began:.2f} | {ended:.2f} | "
                     f"{statistics.median(e - b for b, e in spans):.2f} |")
    whole = [s for s in segments if s is not None]
    lines += ["", f"the critical path ({len(whole)} runs; each segment the median of the runs' own)", "",
              "| segment | ms |", "|---|---|"]
    lines += [f"| {name} | {statistics.median(s[i] for s in whole):.2f} |" for i, (name, _) in enumerate(SEGMENTS)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--only", default="warm,cold,runc,crun")
    parser.add_argument("--gap", type=float, default=0, metavar="MS", help="a pause before each command (ms)")
    parser.add_argument("--strace", metavar="FILE", help="strace one warm child into FILE instead")
    parser.add_argument("--marks", metavar="FILE", help="time the run's stages instead (FILE.N: each run's marks)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root")
    private_namespace()
    become_subreaper()
    warm_up()
    with tempfile.TemporaryDirectory(prefix="pyctr-warm-") as work:
        bench = Bench(work)
        try:
            if args.marks:
                print(marks(bench, args.runs, args.marks))
            elif args.strace:
                print(strace_one(bench, args.strace))
            else:
                print(compare(bench, args.only.split(","), args.runs, args.warmup, args.gap / 1e3))
        finally:
            bench.close()


if __name__ == "__main__":
    main()
