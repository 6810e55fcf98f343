"""json.dumps and json.loads for the run path, without importing the json package.

`import json` is about 8 ms of a `pyctr run`: json.decoder and json.encoder import `re`
(and with it enum, functools and collections) for regular expressions that the C
accelerator leaves unused.  These call that accelerator, CPython's `_json`, the way
json.dumps() and json.loads() do with their default arguments.  Its signatures are
CPython's internals, not a promise: they are tried once at import, and where they differ
(or `_json` is missing, on another Python) these are the json package's own functions.
tests/test_fastjson.py checks that both give the same results on arbitrary documents,
and the same errors on bad ones.
"""

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
