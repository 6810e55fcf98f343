"""The runtime: an OCI config and an id in, a process out (what runc and crun are).

It imports nothing from the engine, the images, the CLI, typer or rich (tests/test_layers.py
walks the imports).  Its API is container.py; the state it keeps of each container is
<root>/<id>/state.json (state.py), where the engine passes its runroot as <root>.
"""
