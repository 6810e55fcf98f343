"""-v, --mount, --tmpfs and --volumes-from read as docker reads them (no containers)."""

import pytest

from pyctr.engine import mounts
from pyctr.engine.errors import PyctrError
from pyctr.engine.mounts import MountRequest


@pytest.mark.parametrize("spec,want", [
    ("/srv/data:/data", MountRequest("bind", "/data", "/srv/data", make_source=True)),
    ("/srv/data/:/data/:ro", MountRequest("bind", "/data", "/srv/data", readonly=True, make_source=True)),
    ("/srv:/srv:rshared,Z", MountRequest("bind", "/srv", "/srv", propagation="rshared", make_source=True)),
    ("cache:/cache", MountRequest("volume", "/cache", "cache")),
    ("cache:/cache:ro,nocopy", MountRequest("volume", "/cache", "cache", readonly=True, nocopy=True)),
    ("/anon", MountRequest("volume", "/anon", anonymous=True)),
    ("/anon:ro", MountRequest("volume", "/anon", readonly=True, anonymous=True)),
])
def test_volume_specs(spec, want):
    assert mounts.parse_volume(spec) == want


@pytest.mark.parametrize("spec,message", [
    ("a:b", "invalid volume specification: 'a:b': invalid mount path: 'b' mount path must be absolute"),
    ("/h:/c:bogus", "invalid volume specification: '/h:/c:bogus': invalid mode: bogus"),
    ("cache:/c:rshared", "invalid volume specification: 'cache:/c:rshared': invalid mode: rshared"),
    ("/a:/b:ro:z", "invalid volume specification: '/a:/b:ro:z'"),
    ("/h:/", "invalid volume specification: '/h:/': invalid specification: destination can't be '/'"),
    (":/c", "invalid volume specification: ':/c'"),
    ("x y:/c", '"x y" includes invalid characters for a local volume name'),
    ("./rel:/c", '"./rel" includes invalid characters for a local volume name'),
])
def test_bad_volume_specs(spec, message):
    with pytest.raises(PyctrError) as e:
        mounts.parse_volume(spec)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)


@pytest.mark.parametrize("spec,want", [
    ("type=bind,source=/srv,target=/srv", MountRequest("bind", "/srv", "/srv")),
    ("type=bind,src=/srv,dst=/d,readonly,bind-propagation=rslave",
     MountRequest("bind", "/d", "/srv", readonly=True, propagation="rslave")),
    ('type=bind,"source=/with,comma",target=/d,ro=false', MountRequest("bind", "/d", "/with,comma")),
    ("type=volume,source=v,destination=/v,volume-nocopy", MountRequest("volume", "/v", "v", nocopy=True)),
    ("target=/v", MountRequest("volume", "/v", anonymous=True)),
    ("type=volume,src=v,dst=/v,volume-opt=o=1,volume-label=a=b", MountRequest("volume", "/v", "v")),
    ("type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770",
     MountRequest("tmpfs", "/t", options=["nosuid", "nodev", "noexec", "size=1048576", "mode=1770"])),
])
def test_mount_specs(spec, want):
    assert mounts.parse_mount(spec) == want


@pytest.mark.parametrize("spec,why", [
    ("type=bind,source=/srv", "target is required"),
    ("type=nfs,target=/x", "invalid mount type: 'nfs'"),
    ("target=/x,bogus=1", "unexpected key 'bogus' in 'bogus=1'"),
    ("target=/x,type", "invalid field 'type' must be a key=value pair"),
    ("type=tmpfs,source=/x,target=/x", 'invalid mount config for type "tmpfs": source must not be specified'),
    ("type=bind,source=rel,target=/x", 'invalid mount config for type "bind": source must be an absolute path'),
    ("type=bind,source=/x,target=/x,tmpfs-size=1m", "cannot mix 'tmpfs-size' with mount type 'bind'"),
    ("type=volume,target=/x,readonly=maybe", "invalid value for readonly: maybe"),
])
def test_bad_mount_specs(spec, why):
    with pytest.raises(PyctrError) as e:
        mounts.parse_mount(spec)
    assert str(e.value) == f'invalid argument "{spec}" for "--mount" flag: {why}'


def test_tmpfs_specs():
    assert mounts.parse_tmpfs("/run") == MountRequest("tmpfs", "/run", options=["nosuid", "nodev", "noexec"])
    assert mounts.parse_tmpfs("/t:size=64m,mode=1777,exec,ro") == MountRequest(
        "tmpfs", "/t", readonly=True, options=["nosuid", "nodev", "noexec", "size=64m", "mode=1777", "exec"])
    with pytest.raises(PyctrError, match=r"^invalid tmpfs specification: '/t:what': invalid option: what$"):
        mounts.parse_tmpfs("/t:what")


def test_volumes_from_specs():
    assert mounts.parse_volumes_from("web") == ("web", "")
    assert mounts.parse_volumes_from("web:ro") == ("web", "ro")
    with pytest.raises(PyctrError):
        mounts.parse_volumes_from("web:rx")


def test_oci_form(tmp_path):
    bind = mounts.oci_mount(mounts.parse_volume("/srv:/d:ro"), None)
    assert bind == {"destination": "/d", "type": "bind", "source": "/srv",
                    "options": ["rbind", "rprivate", "ro", "pyctr.source-resolved"]}
    volume = mounts.oci_mount(mounts.parse_volume("v:/v"), "/root/volumes/v/_data")
    assert volume["source"] == "/root/volumes/v/_data"
    assert volume["options"] == ["rbind", "rprivate", "idmap", "pyctr.source-resolved"]
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to("real")
    resolved = mounts.oci_mount(mounts.parse_volume(f"{tmp_path}/link/sub:/d"), None)
    assert resolved["source"] == f"{tmp_path}/real/sub"  # as docker resolves it, once
    tmpfs = mounts.oci_mount(mounts.parse_tmpfs("/t:size=1m"), None)
    assert tmpfs == {"destination": "/t", "type": "tmpfs", "source": "tmpfs",
                     "options": ["nosuid", "nodev", "noexec", "size=1m"]}


def test_resolve_in_stays_inside(tmp_path):
    from pyctr.engine.volumes import resolve_in
    (tmp_path / "real").mkdir()
    (tmp_path / "up").symlink_to("../../../../etc")
    (tmp_path / "abs").symlink_to("/real")
    (tmp_path / "loop").symlink_to("loop")
    assert resolve_in(str(tmp_path), "/up/x") == str(tmp_path / "etc" / "x")
    assert resolve_in(str(tmp_path), "/abs/../abs") == str(tmp_path / "real")
    assert resolve_in(str(tmp_path), "/loop") is None


def test_the_runtime_takes_the_resolved_mark_off_the_options():
    from pyctr.runtime import plan
    planned = plan.plan_mount(mounts.oci_mount(mounts.parse_volume("/srv:/d:ro"), None))
    assert planned.source_no_symlinks and planned.data is None
    assert planned.flags & plan.MS_RDONLY and planned.flags & plan.MS_REC
    assert not plan.plan_mount({"destination": "/d", "type": "bind", "source": "/s", "options": ["rbind"]}).source_no_symlinks
