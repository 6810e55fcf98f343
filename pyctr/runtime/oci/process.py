"""exec: a new process in a created or running container, from `--process FILE` (an OCI
process section) or from the command line (`exec ID CMD ARGS` with --env, --cwd, --user,
--cap, --tty ...), started in the container's namespaces and cgroup; then followed to
its exit (its code is ours) or, with --detach, left to whoever reaps it."""

import os

from ... import fastjson
from .. import container
from ..errors import ConfigError, WrongState
from .main import Invocation, UsageError


def exec_in(inv: Invocation, saved: container.State) -> int:
    from ..plan import load
    from ..terminal import foreground, terminal_size
    from ..cgroups import warm_attach
    warm_attach()  # exec_process stops it once the process is placed
    opts = inv.options
    config = load(saved.bundle)
    process = _process(inv, config)
    if saved.current_status() == "stopped":
        raise WrongState("cannot exec in a stopped container")
    # a process joining a frozen cgroup freezes with it, and us waiting on it (runc's check)
    if not opts.get("ignore-paused") and container.paused(inv.root, saved.id, saved):
        raise WrongState("cannot exec in a paused container (use --ignore-paused to override)")
    tty = bool(process.get("terminal"))
    socket_path = opts.get("console-socket")
    if tty and not socket_path and opts.get("detach"):
        raise UsageError("cannot allocate a tty without --console-socket when the runtime will detach")
    from .commands import preserve_fds
    proc = container.exec_process(inv.root, saved.id, config, process, (0, 1, 2),
                                  terminal_size(0) if tty and not socket_path else (0, 0), preserve_fds(inv))
    if opts.get("detach") or socket_path:
        master = proc.start()
        if master >= 0:
            from .console import send_master
            try:
                send_master(socket_path, master)
            finally:
                os.close(master)
        _pid_file(opts.get("pid-file"), proc.pid)
        if opts.get("detach"):
            return 0
        from ..process import wait
        from ..terminal import forwarding_signals
        with forwarding_signals(proc.pid):
            return wait(proc.pid)
    if opts.get("pid-file"):  # runc writes it once the process runs: ours runs at start()
        proc.start()
        _pid_file(opts["pid-file"], proc.pid)
        from ..process import wait
        from ..terminal import forwarding_signals, run_tty
        with forwarding_signals(proc.pid):
            return run_tty(proc, os.isatty(0)) if tty else wait(proc.pid)
    return foreground(proc, tty, os.isatty(0))


def _pid_file(path, pid: int) -> None:
    from .commands import _write_pid_file
    _write_pid_file(path, pid)


def _process(inv: Invocation, config: dict) -> dict:
    """The process to run: --process's file, else the config's process with the command
    line's command and options over it."""
    opts = inv.options
    if opts.get("process"):
        try:
            with open(opts["process"], "rb") as f:
                process = fastjson.loads(f.read().decode())
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot read the process file {opts['process']}: {e}") from None
        if not isinstance(process, dict) or not process.get("args"):
            raise ConfigError("the process file has no args")
        return process
    if len(inv.args) < 2:
        raise UsageError("exec: a command is required (or --process FILE)")
    base = config.get("process") or {}
    process = {key: base[key] for key in ("env", "cwd", "user", "capabilities", "rlimits", "noNewPrivileges",
                                          "apparmorProfile", "oomScoreAdj") if key in base}
    process["args"] = inv.args[1:]
    process["terminal"] = bool(opts.get("tty"))
    if opts.get("cwd"):
        process["cwd"] = opts["cwd"]
    if opts.get("env"):
        process["env"] = _merge_env(process.get("env") or [], opts["env"])
    if opts.get("user"):
        process["user"] = _user(opts["user"], opts.get("additional-gids") or [])
    if opts.get("cap"):
        caps = dict(process.get("capabilities") or {})
        for key in ("bounding", "effective", "permitted", "ambient"):
            caps[key] = sorted(set(caps.get(key) or []) | set(opts["cap"]))
        process["capabilities"] = caps
    if opts.get("no-new-privs"):
        process["noNewPrivileges"] = True
    return process


def _merge_env(base: list[str], extra: list[str]) -> list[str]:
    merged = {item.partition("=")[0]: item for item in base}
    merged.update({item.partition("=")[0]: item for item in extra})
    return list(merged.values())


def _user(text: str, groups: list[str]) -> dict:
    uid, _, gid = text.partition(":")
    try:
        user = {"uid": int(uid), "gid": int(gid or 0)}
        if groups:
            user["additionalGids"] = [int(g) for g in groups]
    except ValueError:
        raise UsageError(f"--user takes UID[:GID] as numbers: {text!r}") from None
    return user
