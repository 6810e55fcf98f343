"""runtime/signals.py: one reader of signal names for `pyctr kill` and `pyctr-runtime kill`,
checked against this platform's own numbers."""

import signal

import pytest

from pyctr.runtime.signals import NAMES, parse


@pytest.mark.parametrize("name", sorted(NAMES))
def test_every_name_is_the_platforms_number(name):
    assert parse(name) == parse(f"SIG{name}") == parse(name.lower()) == int(getattr(signal, f"SIG{name}"))


def test_numbers_and_realtime_signals():
    assert parse("9") == 9 and parse(" 15 ") == 15
    assert parse("SIGRTMIN") == signal.SIGRTMIN and parse("SIGRTMAX") == signal.SIGRTMAX
    assert parse("RTMIN+3") == signal.SIGRTMIN + 3 and parse("sigrtmax-2") == signal.SIGRTMAX - 2


@pytest.mark.parametrize("bad", ["", "0", "65", "FLY", "SIG", "RTMIN3", "RTMIN+40", "RTMAX+1", "٣"])
def test_anything_else_is_refused(bad):
    with pytest.raises(ValueError):
        parse(bad)
