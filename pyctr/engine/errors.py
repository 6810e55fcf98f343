"""The engine's errors: what a user is told, each with the exit code docker gives for it."""

import errno
import os

ENGINE_ERROR = 125  # pyctr itself failed
CANNOT_EXECUTE = 126  # the command exists but could not be run
NOT_FOUND = 127  # the command does not exist
FAILED = 1  # any other verb that fails (docker: the daemon's error, or the CLI's own)
# the verbs whose failures are pyctr's own (125), beside their command's (126, 127)
CREATING_VERBS = ("run", "create")


def verb_exit_code(verb: str | None, code: int, usage: bool = False) -> int:
    """docker's exit code for a failure of `verb`: run and create keep 125 (the engine
    failed), 126 and 127 (the command could not run); every other verb exits 1, as the
    docker CLI does for what the daemon refused.  A bad flag is 125 for every verb, but
    that mostly never gets here (the CLI's parser says so itself); `usage`: a flag's value
    that only pyctr's code could check (a UsageError)."""
    if code == ENGINE_ERROR and verb not in CREATING_VERBS and not usage:
        return FAILED
    return code


class PyctrError(Exception):
    """A failure reported as one line on stderr and an exit code."""

    usage = False

    def __init__(self, message: str, exit_code: int = ENGINE_ERROR):
        super().__init__(message)
        self.exit_code = exit_code


class UsageError(PyctrError):
    """A flag's value the command line cannot take (docker's CLI refuses it before asking
    the daemon): 125 for every verb."""

    usage = True


class NotFound(PyctrError):
    """A named image or container does not exist."""


class ImageNotFound(NotFound):
    """The store has no image by the name given (`run` may pull it)."""


class Conflict(PyctrError):
    """A name is taken, or an object is in the wrong state for the request."""


def start_error(stage: str, errnum: int, message: str, argv0: str) -> PyctrError:
    """A failure of the runtime's child (a ChildError's stage, errno and message) as docker
    words it, with docker's exit code: 127 for a missing command, 126 for one that cannot
    be executed, 125 for the rest."""
    reason = os.strerror(errnum) if errnum else ""
    if stage == "exec":
        if errnum in (errno.ENOENT, errno.ENOTDIR):
            if "not found in $PATH" in message:
                return PyctrError(f'exec: "{argv0}": executable file not found in $PATH', NOT_FOUND)
            return PyctrError(f'exec: "{argv0}": {reason.lower()}', NOT_FOUND)
        return PyctrError(f'exec: "{argv0}": {reason.lower()}', CANNOT_EXECUTE)
    return PyctrError(f"container start failed at {stage}: {message}: {reason}")
