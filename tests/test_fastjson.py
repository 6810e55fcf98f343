"""pyctr.fastjson against the json package: the same text out, the same values back, and
a ValueError wherever json refuses."""

import json
import math

import pytest
from hypothesis import given, strategies as st

from pyctr import fastjson

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
documents = st.recursive(scalars, lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=30)


@given(documents)
def test_dumps_writes_what_json_writes(doc):
    assert fastjson.dumps(doc) == json.dumps(doc)


@given(documents)
def test_loads_reads_what_json_reads(doc):
    text = json.dumps(doc, indent=1)  # with whitespace, which dumps never writes
    assert fastjson.loads(text) == json.loads(text)
    assert fastjson.loads(text.encode()) == json.loads(text)


def test_constants_as_json_reads_them():
    assert fastjson.dumps(float("inf")) == "Infinity"
    assert math.isnan(fastjson.loads("NaN")) and fastjson.loads("[-Infinity]") == [float("-inf")]


@pytest.mark.parametrize("bad", ["", " ", "{", "[1,]", "{\"a\" 1}", "1 2", "\"\\x\"", "nul", "{} x", "'a'"])
def test_bad_documents_are_value_errors(bad):
    with pytest.raises(ValueError):
        json.loads(bad)
    with pytest.raises(ValueError):
        fastjson.loads(bad)


def test_what_json_cannot_write_it_refuses_alike():
    for bad in ({1j: 1}, {"a": object()}, {(1,): 2}):
        with pytest.raises(TypeError):
            json.dumps(bad)
        with pytest.raises(TypeError):
            fastjson.dumps(bad)
    circular = []
    circular.append(circular)
    with pytest.raises(ValueError):
        fastjson.dumps(circular)


def test_the_fallback_is_the_json_package(monkeypatch):
    """Where _json is not as expected, the json package does the work (the deny-list test in
    cli/test_fast.py is what shows that the accelerated path is the one taken here)."""
    assert fastjson._C is not None
    monkeypatch.setattr(fastjson, "_C", None)
    doc = {"a": [1, 2.5, None, True, "x\u00e9"]}
    assert fastjson.dumps(doc) == json.dumps(doc)
    assert fastjson.loads(json.dumps(doc)) == doc
