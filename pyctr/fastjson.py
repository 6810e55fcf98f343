"""json.dumps and json.loads for the run path, without importing the json package.

`import json` is about 8 ms of a `pyctr run`: json.decoder and json.encoder import `re`
(and with it enum, functools and collections) for regular expressions that the C
accelerator leaves unused.  These call that accelerator, CPython's `_json`, the way
json.dumps() and json.loads() do with their default arguments; without `_json` (another
Python), they are the json package's own.  tests/test_fastjson.py checks that both give
the same results on arbitrary documents, and the same errors on bad ones.
"""

try:
    from _json import encode_basestring_ascii as _quote
    from _json import make_encoder as _make_encoder
    from _json import make_scanner as _make_scanner
except ImportError:  # pragma: no cover - every CPython has it
    _make_encoder = None

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


def dumps(obj) -> str:
    """json.dumps(obj)."""
    if _make_encoder is None:  # pragma: no cover
        import json
        return json.dumps(obj)
    # a new encoder each time, as json.dumps makes one: its circular-reference markers are per call
    encode = _make_encoder({}, _default, _quote, None, ": ", ", ", False, False, True)
    return "".join(encode(obj, 0))


def loads(text: str | bytes):
    """json.loads(text); a ValueError for anything that is not one JSON document."""
    if _make_encoder is None:  # pragma: no cover
        import json
        return json.loads(text)
    if isinstance(text, (bytes, bytearray)):
        text = text.decode()
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        obj, end = _scan(text, start)
    except StopIteration as e:
        raise ValueError(f"Expecting value: char {e.value}") from None
    if text[end:].strip(_WHITESPACE):
        raise ValueError(f"Extra data: char {end}")
    return obj


if _make_encoder is not None:
    _scan = _make_scanner(_Options)
