"""Container ids (64 hex, as docker) and random names (adjective_scientist)."""

import os

ADJECTIVES = (
    "agile brave calm clever cosy crisp eager fond gentle happy jolly keen kind lucid merry "
    "nimble noble plucky proud quick quiet serene sharp shy steady sunny swift tender vivid witty"
).split()
SURNAMES = (
    "babbage bohr curie darwin dijkstra einstein euler fermi feynman gauss goodall hopper "
    "hypatia kepler knuth lamarr lovelace meitner newton noether pascal ritchie shannon "
    "thompson torvalds turing wozniak yonath zhukovsky"
).split()
# docker's [a-zA-Z0-9][a-zA-Z0-9_.-]*, checked without `re` (not imported on run's path)
ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
NAME_CHARS = ALNUM | frozenset("_.-")
HEX = frozenset("0123456789abcdef")


def new_id() -> str:
    return os.urandom(32).hex()


def short_id(container_id: str) -> str:
    return container_id[:12]


def _choice(words: list[str]) -> str:
    return words[int.from_bytes(os.urandom(4), "big") % len(words)]


def random_name(taken) -> str:
    """A free adjective_surname; `taken(name)` says whether a name is in use."""
    for _ in range(20):
        name = f"{_choice(ADJECTIVES)}_{_choice(SURNAMES)}"
        if not taken(name):
            return name
    return f"{_choice(ADJECTIVES)}_{_choice(SURNAMES)}_{os.urandom(3).hex()}"


def valid_name(name: str) -> bool:
    """docker's rule; and a name must not look like an id."""
    if not name or len(name) > 128 or name[0] not in ALNUM or not set(name) <= NAME_CHARS:
        return False
    return not (len(name) == 64 and set(name) <= HEX)
