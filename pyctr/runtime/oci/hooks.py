"""The OCI hooks that run on the host, in the runtime's namespaces: prestart and
createRuntime (while the created child waits before pivot_root), poststart (after
`start`), poststop (after `delete`).  Each gets the container's state as JSON on its
stdin, its own args and env, and at most its timeout.  createContainer and
startContainer run inside the container, started by the child itself (csrc/hooks.c)."""

import os

from ... import fastjson
from ..errors import RuntimeFailure


class HookFailed(RuntimeFailure):
    """A hook exited non-zero, was killed, could not start, or ran past its timeout."""


def run_all(hooks: dict, kinds: tuple, state: dict) -> None:
    """Every hook of `kinds`, in the config's order; HookFailed at the first failure."""
    for kind in kinds:
        for hook in hooks.get(kind) or []:
            run_one(kind, hook, state)


def run_warning(hooks: dict, kind: str, state: dict) -> list[str]:
    """Every hook of `kind`, all of them whatever fails (poststart, poststop: a failure is a
    warning, the spec's); the warnings."""
    warnings = []
    for hook in hooks.get(kind) or []:
        try:
            run_one(kind, hook, state)
        except HookFailed as e:
            warnings.append(str(e))
    return warnings


def run_one(kind: str, hook: dict, state: dict) -> None:
    """The hook's stdout and stderr go to a memfd, never to ours (create's stdio is the
    container's: conmon's log pipe); what it said is told if it fails, as runc tells it.
    csrc/hooks.c does the same for the hooks the child runs."""
    import subprocess
    path = hook.get("path")
    args = hook.get("args") or [path]
    timeout = hook.get("timeout") or None
    output = os.memfd_create("pyctr-hook-output", os.MFD_CLOEXEC)
    try:
        try:
            done = subprocess.run(args, executable=path, input=fastjson.dumps(state).encode(), env=_env(hook),
                                  timeout=timeout, stdout=output, stderr=output, close_fds=True, cwd="/")
        except subprocess.TimeoutExpired:
            raise HookFailed(f"{kind} hook {path} timed out after {timeout} s") from None
        except OSError as e:
            raise HookFailed(f"{kind} hook {path}: {e.strerror}") from None
        if done.returncode != 0:
            said = " ".join(os.pread(output, 119, 0).decode(errors="replace").split())
            raise HookFailed(f"{kind} hook {path} failed: exit status {done.returncode}"
                             + (f", output: {said}" if said else ""))
    finally:
        os.close(output)


def _env(hook: dict) -> dict:
    env = {}
    for item in hook.get("env") or []:
        key, _, value = item.partition("=")
        env[key] = value
    return env
