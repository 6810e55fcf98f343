"""`python -m pyctr`: the command line (cli/main.py).  pyctr's own background commands
(the monitor's `_cleanup`) start it by -c instead: Paths.pyctr_command."""

import sys

from .cli.main import main

if __name__ == "__main__":
    sys.exit(main())
