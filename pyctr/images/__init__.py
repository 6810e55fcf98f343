"""Images: references, the image record, layers on disk and the built-in busybox.

It knows nothing of containers, the engine's store or the CLI; the engine records what
it makes (tests/test_layers.py walks the imports).
"""
