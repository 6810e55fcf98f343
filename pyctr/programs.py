"""pyctr's small C programs, installed beside the package's extension."""

import os

_HERE = os.path.dirname(os.path.abspath(__file__))
MONITOR = os.path.join(_HERE, "pyctr-monitor")  # the parent of a detached container
INIT = os.path.join(_HERE, "pyctr-init")  # pid 1 for run --init
