"""Image references as docker parses and normalises them (cases from distribution/reference's
own tests), short names and the default registry, and platforms."""

import pytest
from hypothesis import given, strategies as st

from pyctr.images.image import InvalidReference
from pyctr.images.reference import Platform, Reference, is_short, parse, parse_platform

HEX = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"


@pytest.mark.parametrize("text,expected", [
    ("test_com", Reference("docker.io", "library/test_com", "latest")),
    ("test.com:tag", Reference("docker.io", "library/test.com", "tag")),
    ("test.com:5000", Reference("docker.io", "library/test.com", "5000")),
    ("test.com/repo:tag", Reference("test.com", "repo", "tag")),
    ("test:5000/repo", Reference("test:5000", "repo", "latest")),
    (f"test:5000/repo@sha256:{HEX}", Reference("test:5000", "repo", "", f"sha256:{HEX}")),
    (f"test:5000/repo:tag@sha256:{HEX}", Reference("test:5000", "repo", "tag", f"sha256:{HEX}")),
    ("lowercase:Uppercase", Reference("docker.io", "library/lowercase", "Uppercase")),
    ("foo_bar.com:8080", Reference("docker.io", "library/foo_bar.com", "8080")),
    ("foo/foo_bar.com:8080", Reference("docker.io", "foo/foo_bar.com", "8080")),
    ("localhost/foo", Reference("localhost", "foo", "latest")),
    ("localhost:5000/library/debian:bookworm", Reference("localhost:5000", "library/debian", "bookworm")),
    ("docker.io/foo", Reference("docker.io", "library/foo", "latest")),
    ("index.docker.io/foo", Reference("docker.io", "library/foo", "latest")),
    ("docker.io/library/foo", Reference("docker.io", "library/foo", "latest")),
    ("xn--n3h.com/myimage:xn--n3h.com", Reference("xn--n3h.com", "myimage", "xn--n3h.com")),
    ("sub-dom1.foo.com/bar/baz/quux:some-long-tag", Reference("sub-dom1.foo.com", "bar/baz/quux", "some-long-tag")),
    ("a.b/c__d/e-----f/g.h", Reference("a.b", "c__d/e-----f/g.h", "latest")),
    ("[fc00::1]:5000/repo", Reference("[fc00::1]:5000", "repo", "latest")),
    ("127.0.0.1:5000/a/b:1", Reference("127.0.0.1:5000", "a/b", "1")),
])
def test_docker_cases(text, expected):
    assert parse(text, "docker.io") == expected


@pytest.mark.parametrize("text,why", [
    ("", "empty"),
    (":justtag", "format"),
    (f"@sha256:{HEX}", "format"),
    ("repo@sha256:ffff", "format"),
    (f"validname@invaliddigest:{HEX}", "unsupported digest algorithm"),
    ("Uppercase:tag", "must be lowercase"),
    ("aa/asdf$$^/aa", "format"),
    ("a/b___c", "format"),
    ("a/b..c", "format"),
    ("repo:-tag", "format"),
    ("repo:" + "t" * 129, "format"),
    ("a b", "whitespace"),
    ("a/" + "a" * 300, "longer than 255"),
    ("a" * 5000 + "!", "longer than 1024"),
    (f"repo@sha256:{HEX[:-1]}Z", "format"),
])
def test_invalid(text, why):
    with pytest.raises(InvalidReference) as e:
        parse(text, "docker.io")
    assert why in str(e.value) and "\n" not in str(e.value)


def test_a_short_name_needs_a_default_registry():
    with pytest.raises(InvalidReference, match=r"^short name 'debian': no default registry configured; "
                                               r"use a full name such as localhost:5000/library/debian$"):
        parse("debian")
    assert parse("debian", "localhost:5000") == Reference("localhost:5000", "debian", "latest")
    # docker's library/ rule is Docker Hub's alone
    assert str(parse("debian:12", "localhost:5000")) == "localhost:5000/debian:12"
    assert str(parse("debian:12", "docker.io")) == "docker.io/library/debian:12"
    assert is_short("debian") and is_short("library/debian:12") and not is_short("localhost/debian")
    with pytest.raises(InvalidReference, match="invalid default registry"):
        parse("debian", "not a host")


def test_a_digest_without_tag_keeps_no_tag():
    ref = parse(f"localhost:5000/a@sha256:{HEX}")
    assert ref.tag == "" and ref.target == f"sha256:{HEX}" and str(ref) == f"localhost:5000/a@sha256:{HEX}"


_COMPONENT = st.builds(lambda first, rest: first + "".join(sep + part for sep, part in rest),
                       st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True),
                       st.lists(st.tuples(st.sampled_from([".", "_", "__", "-", "---"]),
                                          st.from_regex(r"[a-z0-9]{1,8}", fullmatch=True)), max_size=3))


@given(st.lists(_COMPONENT, min_size=1, max_size=4).map("/".join),
       st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,40}", fullmatch=True))
def test_round_trip(path, tag):
    ref = parse(f"registry.example:5000/{path}:{tag}")
    assert (ref.domain, ref.path, ref.tag) == ("registry.example:5000", path, tag)
    assert parse(str(ref)) == ref


@pytest.mark.parametrize("text,expected", [
    ("linux/amd64", Platform("linux", "amd64")),
    ("linux/arm64", Platform("linux", "arm64")),
    ("linux/arm64/v8", Platform("linux", "arm64")),
    ("linux/arm/v7", Platform("linux", "arm", "v7")),
    ("Linux/x86_64", Platform("linux", "amd64")),
])
def test_platforms(text, expected):
    assert parse_platform(text) == expected


@pytest.mark.parametrize("text", ["linux", "linux/", "a/b/c/d", "linux/am d64"])
def test_invalid_platforms(text):
    with pytest.raises(InvalidReference, match="invalid platform"):
        parse_platform(text)
