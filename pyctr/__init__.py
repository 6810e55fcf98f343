"""pyctr: a container runtime and engine with Python orchestration and a small C core."""

__version__ = "0.1.0"
