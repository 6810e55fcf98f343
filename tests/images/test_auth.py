"""Registry credentials: `pyctr login` checks them against a real registry (htpasswd and
token auth) before keeping them 0600 in a docker-compatible auth file; `logout` removes them."""

import base64
import json
import os
import stat
import subprocess

import pytest

from conftest import PYCTR
from material import SMALL_IMAGE
from pyctr.images import auth
from pyctr.images.image import ImageError
from pyctr.images.reference import parse
from pyctr.images.registry import Client


class _Pyctr:
    """The installed command on a root of the test's own: login and logout need no image,
    so none is seeded (the `pyctr` fixture's template)."""

    def __init__(self, root):
        self.root = str(root)

    def __call__(self, *args, input=None, env=None):
        return subprocess.run([PYCTR, *args], input=input, capture_output=True, text=True, timeout=60,
                              env={"PATH": os.environ["PATH"], "TMPDIR": os.environ["TMPDIR"], "PYCTR_ROOT": self.root,
                                   **(env or {})})


@pytest.fixture
def pyctr(tmp_path):
    return _Pyctr(tmp_path / "root")


def test_login_and_logout_with_basic_auth(htpasswd_registry, pyctr):
    host, path = htpasswd_registry.addr, os.path.join(pyctr.root, "auth.json")
    wrong = pyctr("login", "-u", "alice", "--password-stdin", host, input="wrong\n")
    assert wrong.returncode == 1 and wrong.stderr.count("\n") == 1 and "access denied" in wrong.stderr
    assert not os.path.exists(path)  # nothing kept of a refused login

    done = pyctr("login", "-u", "alice", "--password-stdin", host, input="wonderland\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "Login Succeeded!\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with open(path) as f:
        assert json.load(f) == {"auths": {host: {"auth": base64.b64encode(b"alice:wonderland").decode()}}}
    # what the client of a pull would use
    assert Client(credentials=auth.lookup(path)).manifest(parse(f"{host}/{SMALL_IMAGE}")).layers

    out = pyctr("logout", host)
    assert (out.returncode, out.stdout) == (0, f"Removed login credentials for {host}\n")
    with open(path) as f:
        assert json.load(f) == {"auths": {}}
    again = pyctr("logout", host)
    assert (again.returncode, again.stderr) == (1, f"pyctr: not logged in to {host}\n")


def test_login_with_token_auth_and_an_auth_file_elsewhere(token_registry, pyctr, tmp_path):
    path = str(tmp_path / "elsewhere" / "auth.json")
    host = token_registry.addr
    out = pyctr("login", "-u", "alice", "-p", "wonderland", f"https://{host}/",
                 env={"REGISTRY_AUTH_FILE": path})
    assert out.returncode == 0, out.stderr
    assert out.stderr == "pyctr: warning: a password on the command line is visible to other users: use --password-stdin\n"
    assert auth.credentials(path, host) == ("alice", "wonderland")
    assert not os.path.exists(os.path.join(pyctr.root, "auth.json"))
    bad = pyctr("login", "-u", "alice", "-p", "nope", host, env={"REGISTRY_AUTH_FILE": path})
    assert bad.stderr.splitlines()[-1] == f"pyctr: {host}: authentication failed: unauthorized: invalid username or password"
    assert auth.credentials(path, host) == ("alice", "wonderland")  # the good ones stay


def test_other_entries_are_kept_and_the_file_stays_private(htpasswd_registry, tmp_path):
    path = str(tmp_path / "auth.json")
    with open(path, "w") as f:
        json.dump({"auths": {"other.example": {"auth": "dTpw"}}, "credHelpers": {"x": "y"}}, f)
    os.chmod(path, 0o644)
    auth.login(path, htpasswd_registry.addr, "alice", "wonderland")
    with open(path) as f:
        doc = json.load(f)
    assert doc["credHelpers"] == {"x": "y"} and set(doc["auths"]) == {"other.example", htpasswd_registry.addr}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert auth.credentials(path, "other.example") == ("u", "p")
    assert sorted(os.listdir(tmp_path)) == ["auth.json"]  # no temp file left


@pytest.mark.parametrize("content,message", [
    ("not json", "is not a valid docker auth file"),
    ('{"auths": []}', "is not a valid docker auth file"),
    ('{"auths": {"h": {"auth": "!!"}}}', "invalid credentials for h"),
])
def test_a_broken_auth_file_is_one_line(tmp_path, content, message):
    path = tmp_path / "auth.json"
    path.write_text(content)
    with pytest.raises(ImageError, match=message):
        auth.credentials(str(path), "h")


def test_login_needs_a_user_and_a_password(pyctr, tmp_path):
    out = pyctr("login", "--password-stdin", "127.0.0.1:1", input="x\n")
    assert (out.returncode, out.stderr) == (1, "pyctr: --password-stdin needs --username\n")
    with pytest.raises(ImageError, match="a password is required"):
        auth.login(str(tmp_path / "a.json"), "127.0.0.1:1", "alice", "")
