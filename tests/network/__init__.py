"""Network tests: a package, so that this directory's conftest does not take the name
`conftest` from tests/conftest.py (tests/test_leaks.py imports that one)."""
