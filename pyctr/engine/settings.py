"""<root>/pyctr.toml: the engine's settings of a root (`runtime`, `server`, `server_idle`),
read where they are used.  Read only when the file is there (one failed open otherwise)."""

import os

from .errors import PyctrError
from .paths import Paths

CONFIG_FILE = "pyctr.toml"


def read(paths: Paths) -> dict:
    """The file's settings; {} when there is none; a file TOML cannot read is a one-line
    error."""
    path = os.path.join(paths.root, CONFIG_FILE)
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return {}
    import tomllib
    with f:
        try:
            return tomllib.load(f)
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise PyctrError(f"{path}: {e}") from None
