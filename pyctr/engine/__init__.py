"""The engine (what podman is over runc): containers and their records, the store, the
monitor, lifecycle, exec, logs and stats, over the runtime and the images.

It imports nothing of the CLI, typer or rich, and prints nothing: it returns values and
raises errors, and the CLI presents them (tests/test_layers.py walks the imports).
"""
