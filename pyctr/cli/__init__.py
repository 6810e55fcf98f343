"""The command line: argv in, the engine called, its results shown.  Nothing below it
imports it (tests/test_layers.py); it is the only layer that prints."""
