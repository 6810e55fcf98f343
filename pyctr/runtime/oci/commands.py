"""The commands of `pyctr-runtime`, each as runc carries it out, over runtime/container.py:
its state under --root (<root>/<id>/state.json), a created container waiting on its
fifo for `start`, hooks at the points the runtime spec names."""

import os
import sys

from ... import fastjson
from .. import container
from ..errors import ConfigError, NotRunning, RuntimeFailure, WrongState
from ..plan import OCI_VERSION, check_hooks, load
from . import hooks
from .main import Invocation, UsageError, log


def run(inv: Invocation) -> int:
    if inv.globals.get("systemd-cgroup") and inv.command in ("create", "run", "exec", "update"):
        raise UsageError("--systemd-cgroup is not supported: pyctr-runtime manages cgroups through cgroupfs "
                         "(podman: --cgroup-manager cgroupfs; containerd: SystemdCgroup = false)")
    return HANDLERS[inv.command](inv)


def describe(e: Exception) -> str:
    """An exception as runc's one line."""
    from .._core import ChildError
    if isinstance(e, ChildError):
        reason = f": {os.strerror(e.errno)}" if e.errno else ""
        return f"{e.stage}: {e.message}{reason}"
    if isinstance(e, OSError):
        return f"{e.filename + ': ' if e.filename else ''}{e.strerror or e}"
    if isinstance(e, RuntimeFailure):
        return str(e)
    return f"{type(e).__name__}: {e}"


def _id(inv: Invocation, extra_ok: bool = False) -> str:
    if not inv.args:
        raise UsageError(f"{inv.command}: a container id is required")
    if len(inv.args) > 1 and not extra_ok:
        raise UsageError(f"{inv.command}: one container id expected, got {' '.join(inv.args)}")
    cid = inv.args[0]
    if not 0 < len(cid) <= 255 or not set(cid) <= _ID_CHARACTERS or cid in (".", ".."):
        raise UsageError(f"invalid container id format: {cid!r}")
    return cid


# runc's ids, [A-Za-z0-9_+.-]{1,255}: one directory name under --root, one cgroup name, one
# word in `list`.  A set, not a regular expression: `re` is 5 ms of every command's start.
_ID_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+.-")


def _loaded(inv: Invocation, cid: str) -> container.State:
    saved = container.load_state(inv.root, cid)
    if saved is None:
        raise WrongState(f"container {cid} does not exist")
    return saved


def _bundle_config(bundle: str) -> dict:
    """The bundle's config.json, with root.path made absolute (it is relative to the
    bundle) and a cgroup for every container (runc's default, under our own name)."""
    config = load(bundle)
    config["root"]["path"] = os.path.join(bundle, config["root"]["path"])
    _tmpcopyup(config)
    return config


def _tmpcopyup(config: dict) -> None:
    """runc's `tmpcopyup` mount option (podman gives it to the tmpfs of /run, /tmp and
    /var/tmp with --read-only): a tmpfs that starts with what the directory under it
    held.  Over an empty or missing directory that is a plain tmpfs, so the option is
    dropped; over one that holds files it is refused, as copying up is not implemented."""
    for mount in config.get("mounts") or []:
        options = mount.get("options") if isinstance(mount, dict) else None
        if not isinstance(options, list) or "tmpcopyup" not in options:
            continue
        mount["options"] = [o for o in options if o != "tmpcopyup"]
        destination = str(mount.get("destination") or "")
        under = os.path.join(config["root"]["path"], destination.lstrip("/"))
        if os.path.islink(under):
            raise ConfigError(f"mount {destination}: tmpcopyup over a symlink is not supported")
        try:
            held = os.listdir(under)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if held:
            raise ConfigError(f"mount {destination}: tmpcopyup over a directory that holds files "
                              f"({', '.join(sorted(held)[:3])}) is not supported")


_DEFAULT_CGROUP_PARENT = "/pyctr-runtime"


def _default_cgroup(config: dict, cid: str) -> None:
    """Every container gets a cgroup (/pyctr-runtime/<id> unless the config names one), and
    in it device rules from "deny all": the config's, then those runc adds to every
    config's (the default devices, and those the config makes)."""
    from ..cgroups.devices import with_defaults
    linux = config.setdefault("linux", {})
    if not linux.get("cgroupsPath"):
        linux["cgroupsPath"] = f"{_DEFAULT_CGROUP_PARENT}/{cid}"
    resources = linux.setdefault("resources", {})
    resources["devices"] = with_defaults(resources.get("devices") or [], linux.get("devices") or [])


def _write_pid_file(path: str | None, pid: int) -> None:
    """--pid-file, whole or not at all: fastjson.write's temp file and rename (a JSON number
    is the pid's digits, as runc writes them)."""
    if path:
        fastjson.write(os.path.abspath(path), pid, 0o644)


def _state(saved: container.State, status: str | None = None, pid: int | None = None) -> dict:
    """The OCI state; a running container whose cgroup is frozen is "paused", as runc
    says (podman and containerd read it)."""
    state = saved.as_oci()
    if status is not None:
        state["status"] = status
    elif state["status"] == "running" and container.paused("", saved.id, saved):
        state["status"] = "paused"
    if pid is not None:
        state["pid"] = pid
    return state


def _create(inv: Invocation, start_now: bool):
    """create, and run's first half: the container set up and waiting (for `start`, or
    for run's own go-ahead) with its state saved and the pre-start hooks run.  Returns
    (state, process, config)."""
    from ..cgroups import warm_attach, warm_attach_stop
    warm_attach()  # v1's attach grace period waited out while the config is read (csrc/warm.c)
    try:
        return _create_warm(inv, start_now)
    finally:
        warm_attach_stop()


def _create_warm(inv: Invocation, start_now: bool):
    cid = _id(inv)
    bundle = os.path.abspath(inv.options.get("bundle") or ".")
    config = _bundle_config(bundle)
    _default_cgroup(config, cid)
    terminal = bool(config["process"].get("terminal"))
    socket_path = inv.options.get("console-socket")
    if terminal and not socket_path and (not start_now or inv.options.get("detach")):
        raise UsageError("cannot allocate a tty without --console-socket when the runtime will detach")
    if socket_path and not terminal:
        raise UsageError("--console-socket given, but the config's process.terminal is false")
    host_hooks = config.get("hooks") or {}
    check_hooks(host_hooks)
    # prestart runs at `start` (the conformance suite holds runtimes to runtime-spec
    # 1.0.2's "after start is called"), or here for run, where nothing comes between
    early = ("prestart", "createRuntime") if start_now else ("createRuntime",)
    on_hooks = None
    if any(host_hooks.get(kind) for kind in early):
        def on_hooks(pid: int) -> None:
            state = {"ociVersion": OCI_VERSION, "id": cid, "status": "created", "pid": pid, "bundle": bundle,
                     "annotations": config.get("annotations") or {}}
            hooks.run_all(host_hooks, early, state)
    try:
        process = container.create_waiting(inv.root, cid, config, bundle, wait_for_start=not start_now,
                                           no_pivot=bool(inv.options.get("no-pivot")), on_hooks=on_hooks,
                                           preserve_fds=preserve_fds(inv),
                                           new_keyring=not inv.options.get("no-new-keyring"))
    except Exception as e:
        from .._core import ChildError
        # a createRuntime (here) or createContainer (the child: stage "hook") hook failed
        if isinstance(e, hooks.HookFailed) or (isinstance(e, ChildError) and e.stage == "hook"):
            _poststop(inv, {"ociVersion": OCI_VERSION, "id": cid, "status": "stopped", "bundle": bundle,
                            "annotations": config.get("annotations") or {}}, host_hooks)
        raise
    try:
        _hand_over(inv, process, socket_path)
    except BaseException:
        # the caller hears create failed and will not delete what it never got (runc's way)
        _delete(inv, cid, force=True)
        raise
    return container.load_state(inv.root, cid), process, config


def _hand_over(inv: Invocation, process, socket_path: str | None) -> None:
    """The pty master to the console socket, the pid to --pid-file."""
    if process.master >= 0 and socket_path:
        from .console import send_master
        try:
            send_master(socket_path, process.master)
        finally:
            os.close(process.master)
            process.master = -1
    _write_pid_file(inv.options.get("pid-file"), process.pid)


def preserve_fds(inv: Invocation) -> int:
    """--preserve-fds N, of create, run and exec."""
    text = inv.options.get("preserve-fds") or "0"
    if not text.isdigit():
        raise UsageError(f"--preserve-fds takes a number of fds: {text!r}")
    return int(text)


def create(inv: Invocation) -> int:
    _create(inv, start_now=False)
    return 0


def start(inv: Invocation) -> int:
    """The prestart hooks (a failure: the container is killed and deleted, poststop runs,
    and start fails), the process let go, the poststart hooks."""
    cid = _id(inv)
    saved = _loaded(inv, cid)
    if saved.hooks.get("prestart") and saved.current_status() == "created":
        try:
            hooks.run_all(saved.hooks, ("prestart",), _state(saved, "created"))
        except hooks.HookFailed:
            _delete(inv, cid, force=True)
            raise
    saved = container.start(inv.root, cid)
    _poststart(inv, saved)
    return 0


def _poststart(inv: Invocation, saved: container.State) -> None:
    """poststart: a failure is a warning (the spec's), the container runs on."""
    _warn(inv, hooks.run_warning(saved.hooks, "poststart", _state(saved, "running")))


def _poststop(inv: Invocation, state: dict, hook_set: dict) -> None:
    _warn(inv, hooks.run_warning(hook_set, "poststop", state))


def _warn(inv: Invocation, warnings: list[str]) -> None:
    for warning in warnings:
        log(inv, "warning", warning)
        sys.stderr.write(f"warning: {warning}\n")


def run_container(inv: Invocation) -> int:
    """runc's run: create and start in one, then (unless --detach) stay with the container
    until it exits, relaying our terminal when it has one and no console socket took it,
    and delete it (unless --keep).  The exit code is the container's."""
    from ..process import wait
    from ..terminal import forwarding_signals, run_tty
    saved, process, config = _create(inv, start_now=True)
    _poststart(inv, saved)
    if inv.options.get("detach"):
        return 0
    with forwarding_signals(process.pid):
        code = run_tty(process, os.isatty(0)) if process.master >= 0 else wait(process.pid)
    if not inv.options.get("keep"):
        _delete(inv, saved.id, force=True)
    return code


def state(inv: Invocation) -> int:
    saved = _loaded(inv, _id(inv))
    sys.stdout.write(fastjson.dumps(_state(saved)) + "\n")
    return 0


def parse_signal(text: str) -> int:
    from ..signals import parse
    try:
        return parse(text)
    except ValueError:
        raise UsageError(f"unknown signal {text!r}") from None


def kill(inv: Invocation) -> int:
    cid = _id(inv, extra_ok=True)
    if len(inv.args) > 2:
        raise UsageError("kill: usage: kill <container-id> [signal]")
    sig = parse_signal(inv.args[1]) if len(inv.args) > 1 else 15
    _loaded(inv, cid)
    try:
        container.kill(inv.root, cid, sig, all_processes=bool(inv.options.get("all")))
    except NotRunning:
        raise WrongState("container not running") from None
    return 0


def delete(inv: Invocation) -> int:
    cid = _id(inv)
    if container.load_state(inv.root, cid) is None:
        # a create killed before it wrote the state leaves its directory, which would hold
        # the id for good: cleared, as runc clears it
        container.remove_state(inv.root, cid)
        if inv.options.get("force"):
            return 0
        raise WrongState(f"container {cid} does not exist")
    _delete(inv, cid, bool(inv.options.get("force")))
    return 0


def _delete(inv: Invocation, cid: str, force: bool) -> None:
    """A stopped or created container's cgroup and state go, then the poststop hooks run;
    a running one only with force (killed first)."""
    import time
    saved = _loaded(inv, cid)
    status = saved.current_status()
    if status != "stopped" and not force:
        raise WrongState(f"cannot delete container {cid} that is not stopped: {status}")
    if status != "stopped":
        try:
            container.kill(inv.root, cid, 9, all_processes=True)
            container.kill(inv.root, cid, 9)
        except NotRunning:
            pass
        deadline = time.monotonic() + 10
        while saved.current_status() != "stopped" and time.monotonic() < deadline:
            time.sleep(0.005)
    container.delete(inv.root, cid)
    if saved.cgroups_path == _DEFAULT_CGROUP_PARENT + "/" + cid:
        _remove_default_parent()
    _drop_cache_if_last(inv.root)
    _poststop(inv, _state(saved, "stopped", 0), saved.hooks)


def _drop_cache_if_last(root: str) -> None:
    """The compiled seccomp filters (<root>/seccomp) go with the last container, so that a
    --root with no containers holds nothing (the engine removes a runtime's root then)."""
    from .. import _core
    from ..seccomp import CACHE_DIR
    try:
        if set(os.listdir(root)) == {CACHE_DIR}:
            _core.remove_tree(os.path.join(root, CACHE_DIR))
    except OSError:
        pass


def _remove_default_parent() -> None:
    """The default parent goes with its last container: rmdir alone (while other
    containers are in it, the kernel refuses; nothing in it is killed or frozen)."""
    from ..cgroups import CGROUP_ROOT, hierarchies, mode
    name = _DEFAULT_CGROUP_PARENT.lstrip("/")
    places = [CGROUP_ROOT] if mode() == "v2" else [os.path.join(CGROUP_ROOT, h) for h, _, _ in hierarchies()]
    for hierarchy in places:
        try:
            os.rmdir(os.path.join(hierarchy, name))
        except OSError:
            pass


def list_containers(inv: Invocation) -> int:
    found = []
    try:
        names = sorted(os.listdir(inv.root))
    except FileNotFoundError:
        names = []
    for name in names:
        saved = container.load_state(inv.root, name)
        if saved is not None:
            found.append(saved)
    if inv.options.get("quiet"):
        sys.stdout.write("".join(f"{s.id}\n" for s in found))
        return 0
    fmt = inv.options.get("format") or "table"
    if fmt == "json":
        rows = [dict(_state(s), rootfs="", owner="root") for s in found]
        sys.stdout.write(fastjson.dumps(rows or None) + "\n")
        return 0
    if fmt != "table":
        raise UsageError(f"invalid format option {fmt!r}: table or json")
    table = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
    for s in found:
        st = _state(s)
        table.append((s.id, str(st["pid"]), st["status"], s.bundle, st["created"], "root"))
    widths = [max(len(row[i]) for row in table) for i in range(6)]
    for row in table:
        sys.stdout.write("   ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() + "\n")
    return 0


def ps(inv: Invocation) -> int:
    cid = _id(inv, extra_ok=True)
    _loaded(inv, cid)
    pids = container.processes(inv.root, cid)
    fmt = inv.options.get("format") or "table"
    if fmt == "json":
        sys.stdout.write(fastjson.dumps(pids) + "\n")
        return 0
    if fmt != "table":
        raise UsageError(f"invalid format option {fmt!r}: table or json")
    import subprocess
    options = inv.args[1:] or ["-ef"]
    out = subprocess.run(["ps", *options], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeFailure(f"ps: {out.stderr.strip()}")
    lines = out.stdout.splitlines()
    if not lines:
        return 0
    header = lines[0].split()
    if "PID" not in header:
        raise RuntimeFailure("ps's output has no PID column")
    column = header.index("PID")
    wanted = set(pids)
    sys.stdout.write(lines[0] + "\n")
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > column and fields[column].isdigit() and int(fields[column]) in wanted:
            sys.stdout.write(line + "\n")
    return 0


def pause(inv: Invocation) -> int:
    container.pause(inv.root, _id(inv))
    return 0


def resume(inv: Invocation) -> int:
    container.resume(inv.root, _id(inv))
    return 0


def update(inv: Invocation) -> int:
    from .resources import from_options
    cid = _id(inv)
    _loaded(inv, cid)
    container.update(inv.root, cid, from_options(inv.options))
    return 0


def exec_process(inv: Invocation) -> int:
    from .process import exec_in
    cid = _id(inv, extra_ok=True)
    return exec_in(inv, _loaded(inv, cid))


def spec(inv: Invocation) -> int:
    from .template import write_spec
    write_spec(os.path.abspath(inv.options.get("bundle") or "."), bool(inv.options.get("rootless")))
    return 0


def features(inv: Invocation) -> int:
    from .template import features_doc
    sys.stdout.write(fastjson.dumps(features_doc()) + "\n")
    return 0


def events(inv: Invocation) -> int:
    from .resources import events_loop
    cid = _id(inv)
    _loaded(inv, cid)
    return events_loop(inv, cid)


HANDLERS = {"create": create, "start": start, "run": run_container, "state": state, "kill": kill,
            "delete": delete, "list": list_containers, "ps": ps, "pause": pause, "resume": resume,
            "update": update, "exec": exec_process, "spec": spec, "features": features, "events": events}
