"""`python -m pyctr`: the command line (cli/main.py); pyctr-monitor runs `_cleanup` so."""

import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
