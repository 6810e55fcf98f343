"""pyctr's small C programs, built into pyctr/libexec/ beside the packages (setup.py)."""

import os

LIBEXEC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "libexec")
MONITOR = os.path.join(LIBEXEC, "pyctr-monitor")  # the parent of every container
INIT = os.path.join(LIBEXEC, "pyctr-init")  # pid 1 for run --init
