"""runc's mount options that podman's configs carry, as pyctr-runtime reads them before
anything is made: `tmpcopyup` (podman's, on /run, /tmp and /var/tmp with --read-only)."""

import pytest

from pyctr.runtime.errors import ConfigError
from pyctr.runtime.oci.commands import _tmpcopyup


def _config(rootfs, destination: str) -> dict:
    return {"root": {"path": str(rootfs)},
            "mounts": [{"destination": destination, "type": "tmpfs", "source": "tmpfs",
                        "options": ["rw", "nosuid", "tmpcopyup"]},
                       {"destination": "/proc", "type": "proc", "source": "proc"}]}


def test_tmpcopyup_over_an_empty_or_missing_directory_is_a_plain_tmpfs(tmp_path):
    (tmp_path / "tmp").mkdir()
    for destination in ("/tmp", "/var/tmp"):  # /var/tmp: not in this root at all
        config = _config(tmp_path, destination)
        _tmpcopyup(config)
        assert config["mounts"][0]["options"] == ["rw", "nosuid"]
        assert config["mounts"][1] == {"destination": "/proc", "type": "proc", "source": "proc"}


def test_tmpcopyup_over_files_or_a_symlink_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "lock").mkdir()
    (tmp_path / "tmp").symlink_to("run")
    with pytest.raises(ConfigError, match=r"^mount /run: tmpcopyup over a directory that holds files \(lock\) "):
        _tmpcopyup(_config(tmp_path, "/run"))
    with pytest.raises(ConfigError, match="^mount /tmp: tmpcopyup over a symlink is not supported$"):
        _tmpcopyup(_config(tmp_path, "/tmp"))
