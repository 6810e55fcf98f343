"""Named points of a container's start-up where a test can freeze pyctr: with
PYCTR_PAUSE_AT=<point>, pyctr stops itself (SIGSTOP) on reaching it, and the test kill -9s
it there, to check that what a killed pyctr leaves is shown honestly and that `rm -f`
cleans it.  Reaching a point costs one environment lookup."""

import os

# `start` read the container's state and is about to claim it
CHECKED = "checked"
# the row, directories and config.json exist; nothing of the container runs yet (its
# fork may be cloning it, to wait for the go-ahead)
CREATED = "created"
# the container is cloned into its cgroup and waits for the go-ahead
CLONED = "cloned"
# the container's command runs under its monitor; pyctr is about to relay
STARTED = "started"


def reached(point: str) -> None:
    if os.environ.get("PYCTR_PAUSE_AT") == point:
        import signal  # only under a test
        os.kill(os.getpid(), signal.SIGSTOP)
