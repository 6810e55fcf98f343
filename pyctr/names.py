"""Container ids (64 hex, as docker) and random names (adjective_scientist)."""

import os
import random
import re

ADJECTIVES = (
    "agile brave calm clever cosy crisp eager fond gentle happy jolly keen kind lucid merry "
    "nimble noble plucky proud quick quiet serene sharp shy steady sunny swift tender vivid witty"
).split()
SURNAMES = (
    "babbage bohr curie darwin dijkstra einstein euler fermi feynman gauss goodall hopper "
    "hypatia kepler knuth lamarr lovelace meitner newton noether pascal ritchie shannon "
    "thompson torvalds turing wozniak yonath zhukovsky"
).split()
NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def new_id() -> str:
    return os.urandom(32).hex()


def short_id(container_id: str) -> str:
    return container_id[:12]


def random_name(taken) -> str:
    """A free adjective_surname; `taken(name)` says whether a name is in use."""
    for _ in range(20):
        name = f"{random.choice(ADJECTIVES)}_{random.choice(SURNAMES)}"
        if not taken(name):
            return name
    return f"{random.choice(ADJECTIVES)}_{random.choice(SURNAMES)}_{os.urandom(3).hex()}"


def valid_name(name: str) -> bool:
    return bool(NAME_RE.match(name)) and len(name) <= 128 and not re.fullmatch(r"[0-9a-f]{64}", name)
