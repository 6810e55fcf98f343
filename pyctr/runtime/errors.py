"""The runtime's errors: why it could not create, run or reach a container, in one line."""


class RuntimeFailure(Exception):
    """A runtime operation failed; str() says what, in one line, for the user."""


class ConfigError(RuntimeFailure):
    """The OCI config asks for something invalid, or something this runtime cannot do."""


class CgroupError(RuntimeFailure):
    """A cgroup operation failed: the kernel refused a value, a controller or a directory."""


class NotRunning(RuntimeFailure):
    """The container's process is gone."""


class NoSuchContainer(NotRunning):
    """The runtime keeps no state for this id (deleted, or never created): not running
    either, for whoever only asked for that."""


class WrongState(RuntimeFailure):
    """The container is not in the state the operation needs (start of a running one,
    delete of a running one without force, a second create of an id)."""
