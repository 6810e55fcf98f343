"""The spec builder: run options -> OCI config."""

import json

import pytest

from pyctr.engine.errors import PyctrError
from pyctr.engine.spec import DEFAULT_CAPS, RootfsLayout, RunOptions, build_argv, build_env, build_spec

LAYOUT = RootfsLayout(["/l/2", "/l/1"], "/c/upper", "/c/work", "/c/rootfs")
IMAGE = {"config": {"Env": ["PATH=/img/bin", "IMG=1"], "Cmd": ["sh"], "WorkingDir": "/srv"}}
CID = "ab" * 32


def spec(**kw):
    return build_spec(RunOptions(image="busybox", **kw), IMAGE, CID, LAYOUT, host_env={"HOSTVAR": "h"})


def test_spec_is_a_valid_oci_config_shape():
    s = spec(command=["echo", "hi"])
    json.dumps(s)  # serialises
    assert s["ociVersion"].startswith("1.")
    assert s["process"]["args"] == ["echo", "hi"]
    assert s["process"]["cwd"] == "/srv"
    assert s["root"] == {"path": "/c/rootfs", "readonly": False}
    assert s["hostname"] == CID[:12]
    assert {n["type"] for n in s["linux"]["namespaces"]} == {"pid", "network", "ipc", "uts", "mount", "cgroup"}
    assert s["process"]["capabilities"]["bounding"] == DEFAULT_CAPS
    assert s["process"]["capabilities"]["inheritable"] == []
    assert [m["destination"] for m in s["mounts"]] == ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys"]
    assert s["annotations"]["org.pyctr.rootfs.options"] == \
        "lowerdir=/l/2:/l/1,upperdir=/c/upper,workdir=/c/work"


def test_env_precedence_defaults_image_file_flag(tmp_path):
    f = tmp_path / "env"
    f.write_text("IMG=file\nF=1\n")
    opts = RunOptions(image="x", env=["F=flag", "HOSTVAR", "MISSING"], env_files=[str(f)], tty=True)
    env = build_env(opts, ["PATH=/img/bin", "IMG=1"], "host", {"HOSTVAR": "h"})
    assert env == ["PATH=/img/bin", "HOSTNAME=host", "TERM=xterm", "IMG=file", "F=flag", "HOSTVAR=h", "HOME=/root"]


@pytest.mark.parametrize("bad", ["=x", "A B=1", ""])
def test_bad_env_is_refused(bad):
    with pytest.raises(PyctrError):
        build_env(RunOptions(image="x", env=[bad]), [], "h", {})


def test_missing_env_file_is_a_clear_error(tmp_path):
    with pytest.raises(PyctrError, match="cannot read env file"):
        build_env(RunOptions(image="x", env_files=[str(tmp_path / "nope")]), [], "h", {})


def test_argv_rules_follow_docker():
    cfg = {"Entrypoint": ["/ep"], "Cmd": ["default"]}
    assert build_argv(RunOptions(image="x"), cfg) == ["/ep", "default"]
    assert build_argv(RunOptions(image="x", command=["a"]), cfg) == ["/ep", "a"]
    assert build_argv(RunOptions(image="x", entrypoint="sh"), cfg) == ["sh"]
    assert build_argv(RunOptions(image="x", entrypoint="", command=["ls"]), cfg) == ["ls"]
    with pytest.raises(PyctrError, match="no command"):
        build_argv(RunOptions(image="x", entrypoint=""), cfg)


def test_workdir_must_be_absolute_and_hostname_sane():
    with pytest.raises(PyctrError, match="absolute"):
        spec(workdir="rel")
    with pytest.raises(PyctrError, match="hostname"):
        spec(hostname="x" * 65)
