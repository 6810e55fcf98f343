"""pyctr's runtime behind the OCI runtime command line, argv-compatible with runc: what
podman (conmon), containerd's shim and the OCI conformance suite call (`pyctr-runtime`,
also `pyctr runtime ...`).  main.py reads the command line, commands.py carries each
command out over runtime/container.py, hooks.py runs the hooks that run on the host.
"""
