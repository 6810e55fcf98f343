"""Errors a user sees, each with the exit code docker would give."""

ENGINE_ERROR = 125  # pyctr itself failed
CANNOT_EXECUTE = 126  # the command exists but could not be run
NOT_FOUND = 127  # the command does not exist


class PyctrError(Exception):
    """A failure reported as one line on stderr and an exit code."""

    def __init__(self, message: str, exit_code: int = ENGINE_ERROR):
        super().__init__(message)
        self.exit_code = exit_code


class NotFound(PyctrError):
    """A named image or container does not exist."""


class Conflict(PyctrError):
    """A name is taken, or an object is in the wrong state for the request."""
