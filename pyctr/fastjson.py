"""json.dumps and json.loads for the run path, without importing the json package; and
files read and written whole, with os calls.

`import json` is about 8 ms of a `pyctr run`: json.decoder and json.encoder import `re`
(and with it enum, functools and collections) for regular expressions that the C
accelerator leaves unused.  These call that accelerator, CPython's `_json`, the way
json.dumps() and json.loads() do with their default arguments.  Its signatures are
CPython's internals, not a promise: they are tried once at import, and where they differ
(or `_json` is missing, on another Python) these are the json package's own functions.
tests/test_fastjson.py checks that both give the same results on arbitrary documents,
and the same errors on bad ones.
"""

import os

_WHITESPACE = " \t\n\r"


def _default(o):
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


class _Options:
    """What the C scanner reads off json.JSONDecoder: its defaults."""
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__


def _accelerated():
    """(new encoder, scanner) from _json, or None where it is not as expected."""
    try:
        from _json import encode_basestring_ascii, make_encoder, make_scanner

        def new_encoder():
            # one per call, as json.dumps makes one: its circular-reference markers are per call
            return make_encoder({}, _default, encode_basestring_ascii, None, ": ", ", ", False, False, True)

        scan = make_scanner(_Options)
        if "".join(new_encoder()({"a": [1, None]}, 0)) != '{"a": [1, null]}' or scan('{"a": [1]}', 0) != ({"a": [1]}, 10):
            return None
        return new_encoder, scan
    except (ImportError, TypeError, ValueError, StopIteration):
        return None


_C = _accelerated()


def dumps(obj) -> str:
    """json.dumps(obj)."""
    if _C is None:
        import json
        return json.dumps(obj)
    return "".join(_C[0]()(obj, 0))


def loads(text: str | bytes):
    """json.loads(text); a ValueError for anything that is not one JSON document."""
    if _C is None:
        import json
        return json.loads(text)
    if isinstance(text, (bytes, bytearray)):
        text = text.decode()
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        obj, end = _C[1](text, start)
    except StopIteration as e:
        raise ValueError(f"Expecting value: char {e.value}") from None
    if text[end:].strip(_WHITESPACE):
        raise ValueError(f"Extra data: char {end}")
    return obj


def read_bytes(path: str) -> bytes:
    """A file's content, with os calls: a Python file object adds an fstat, an ioctl and an
    lseek to the read (cgroup files, state files: a run reads some 30)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, 65536):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


def read(path: str):
    """The JSON document in `path` (OSError, or ValueError if it is not one)."""
    return loads(read_bytes(path))


def write(path: str, obj, mode: int = 0o600) -> None:
    """`obj` as JSON into `path`, whole: written to a temp file beside it, then renamed over
    it, so a reader (or a crash) sees the old content or the new, never a part.  `mode`
    0600 by default: state files name commands, environments and bundles."""
    tmp = f"{path}.{os.getpid()}.tmp"  # ours alone: two writers at once must not share one
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        data = dumps(obj).encode()
        while data:
            data = data[os.write(fd, data):]
    finally:
        os.close(fd)
    os.rename(tmp, path)
