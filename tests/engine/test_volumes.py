"""Volumes on real containers: binds, named and anonymous volumes filled from the image,
read-only mounts and roots, tmpfs, --volumes-from, `pyctr volume ...`, and what a failed
or removed container takes with it."""

import json
import os
import subprocess

import pytest


def _volumes(pyctr) -> list[str]:
    r = pyctr("volume", "ls", "-q")
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def _volume_dirs(pyctr) -> list[str]:
    d = os.path.join(pyctr.root, "volumes")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def _mounts(pyctr, name) -> list[dict]:
    r = pyctr("inspect", name)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]["Mounts"]


def test_bind_writes_reach_the_host(pyctr, tmp_path):
    host = tmp_path / "data"
    r = pyctr("run", "--rm", "-v", f"{host}:/data", "busybox", "sh", "-c", "echo hi > /data/x")
    assert r.returncode == 0, r.stderr
    assert (host / "x").read_text() == "hi\n"  # -v made the missing host directory, as docker does


def test_bind_of_a_file(pyctr, tmp_path):
    f = tmp_path / "conf"
    f.write_text("from the host\n")
    r = pyctr("run", "--rm", "-v", f"{f}:/etc/app.conf:ro", "busybox", "cat", "/etc/app.conf")
    assert (r.returncode, r.stdout) == (0, "from the host\n"), r.stderr


def test_ro_is_enforced_recursively(pyctr, tmp_path):
    host = tmp_path / "data"
    host.mkdir()
    r = pyctr("run", "--rm", "-v", f"{host}:/data:ro", "busybox", "sh", "-c",
              "touch /data/x; grep ' /data ' /proc/self/mounts")
    assert r.returncode == 0
    assert "Read-only file system" in r.stderr
    assert " ro," in r.stdout
    assert not (host / "x").exists()


def test_named_volume_is_filled_from_the_image_and_shared(pyctr):
    r = pyctr("run", "--rm", "-v", "etcvol:/etc", "busybox", "sh", "-c", "cat /etc/passwd; echo new > /etc/motd")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("root:")  # the image's /etc, copied into the new volume
    data = os.path.join(pyctr.root, "volumes", "etcvol", "_data")
    assert sorted(os.listdir(data)) == ["group", "motd", "passwd"]
    r = pyctr("run", "--rm", "-v", "etcvol:/srv:ro", "busybox", "cat", "/srv/motd")
    assert (r.returncode, r.stdout) == (0, "new\n"), r.stderr
    assert _volumes(pyctr) == ["etcvol"]  # named volumes outlive --rm


def test_a_volume_mounted_over_bin_keeps_the_images_programs(pyctr):
    r = pyctr("run", "--rm", "-v", "bins:/bin", "busybox", "sh", "-c", "ls -l /bin/sh")
    assert r.returncode == 0, r.stderr
    st = os.lstat(os.path.join(pyctr.root, "volumes", "bins", "_data", "sh"))
    assert os.path.islink(os.path.join(pyctr.root, "volumes", "bins", "_data", "sh")) and st.st_uid == 0


def test_nocopy_leaves_the_volume_empty(pyctr):
    assert pyctr("run", "--rm", "-v", "bare:/etc:nocopy", "busybox", "true").returncode == 0
    assert os.listdir(os.path.join(pyctr.root, "volumes", "bare", "_data")) == []


def test_read_only_root_with_writable_mounts(pyctr, tmp_path):
    script = ("touch /x 2>/dev/null && echo root-writable; "
              "touch /v/x /t/x /b/x /dev/shm/x && echo mounts-writable; "
              "grep ' /t ' /proc/self/mounts; stat -c %a /t")
    r = pyctr("run", "--rm", "--read-only", "-v", "/v", "--tmpfs", "/t:size=1m,mode=1770",
              "--mount", f"type=bind,src={tmp_path},dst=/b", "busybox", "sh", "-c", script)
    assert r.returncode == 0, r.stderr
    assert "root-writable" not in r.stdout
    assert "mounts-writable" in r.stdout
    assert "size=1024k" in r.stdout and "noexec" in r.stdout and r.stdout.endswith("\n1770\n")


def test_tmpfs_size_is_a_limit(pyctr):
    r = pyctr("run", "--rm", "--mount", "type=tmpfs,dst=/t,tmpfs-size=1m", "busybox", "sh", "-c",
              "dd if=/dev/zero of=/t/big bs=1k count=2048")
    assert r.returncode != 0 and "No space left on device" in r.stderr


def test_volumes_from_and_inspect_mounts(pyctr, tmp_path):
    r = pyctr("run", "--name", "src", "-v", "shared:/shared", "-v", f"{tmp_path}:/host:ro", "--tmpfs", "/t",
              "busybox", "sh", "-c", "echo from-src > /shared/f")
    assert r.returncode == 0, r.stderr
    mounts = _mounts(pyctr, "src")
    assert mounts == [
        {"Type": "volume", "Name": "shared", "Source": os.path.join(pyctr.root, "volumes", "shared", "_data"),
         "Driver": "local", "Destination": "/shared", "Mode": "z", "RW": True, "Propagation": ""},
        {"Type": "bind", "Source": str(tmp_path), "Destination": "/host", "Mode": "ro", "RW": False,
         "Propagation": "rprivate"},
        {"Type": "tmpfs", "Source": "", "Destination": "/t", "Mode": "", "RW": True, "Propagation": ""},
    ]
    r = pyctr("run", "--name", "dst", "--volumes-from", "src:ro", "busybox", "sh", "-c",
              "cat /shared/f; ls -d /t; touch /shared/g")
    assert r.stdout == "from-src\n"
    assert "Read-only file system" in r.stderr and "/t" in r.stderr  # tmpfs is not taken over, as docker
    assert [(m["Destination"], m["RW"]) for m in _mounts(pyctr, "dst")] == [("/shared", False), ("/host", False)]
    assert pyctr("rm", "src", "dst").returncode == 0


def test_a_volume_in_use_is_not_removed_even_stopped(pyctr):
    assert pyctr("run", "--name", "c", "-v", "keep:/k", "busybox", "true").returncode == 0
    r = pyctr("volume", "rm", "keep")
    assert r.returncode == 1
    assert r.stderr.startswith("pyctr: remove keep: volume is in use - [") and r.stderr.count("\n") == 1
    assert pyctr("volume", "rm", "-f", "keep").returncode == 1  # -f does not take it from a container
    assert pyctr("volume", "prune", "-f", "-a").stdout == "Total reclaimed space: 0B\n"
    assert pyctr("rm", "c").returncode == 0
    assert pyctr("volume", "rm", "keep").stdout == "keep\n"
    assert _volumes(pyctr) == [] and _volume_dirs(pyctr) == []
    assert pyctr("volume", "rm", "-f", "keep").returncode == 0  # missing: no error with -f
    r = pyctr("volume", "rm", "keep")
    assert (r.returncode, r.stderr) == (1, "pyctr: no such volume: keep\n")


def test_volume_create_ls_inspect_prune(pyctr):
    assert pyctr("volume", "create", "--label", "team=web", "named").stdout == "named\n"
    anonymous = pyctr("volume", "create").stdout.strip()
    assert len(anonymous) == 64
    (info,) = json.loads(pyctr("volume", "inspect", "named").stdout)
    assert info["Name"] == "named" and info["Driver"] == "local" and info["Scope"] == "local"
    assert info["Labels"] == {"team": "web"}
    assert info["Mountpoint"] == os.path.join(pyctr.root, "volumes", "named", "_data")
    assert os.path.isdir(info["Mountpoint"]) and info["CreatedAt"].endswith("Z")
    assert sorted(_volumes(pyctr)) == sorted(["named", anonymous])
    r = pyctr("volume", "ls", "--format", "json")
    assert sorted(v["Name"] for v in json.loads(r.stdout)) == sorted(["named", anonymous])
    assert pyctr("run", "--name", "user", "-v", "named:/n", "busybox", "true").returncode == 0
    assert pyctr("volume", "ls", "-q", "--filter", "dangling=true").stdout.split() == [anonymous]
    r = pyctr("volume", "prune", "-f")  # anonymous ones only, as docker 23
    assert r.stdout.startswith(f"Deleted Volumes:\n{anonymous}\n")
    assert _volumes(pyctr) == ["named"]
    assert pyctr("volume", "prune", "-f", "-a").stdout == "Total reclaimed space: 0B\n"  # in use
    assert pyctr("rm", "user").returncode == 0
    assert "named" in pyctr("volume", "prune", "-f", "-a").stdout
    assert _volumes(pyctr) == [] and _volume_dirs(pyctr) == []
    r = pyctr("volume", "create", "bad name")
    assert r.returncode == 1 and r.stderr.count("\n") == 1


def test_anonymous_volumes_go_with_rm_v_and_run_rm(pyctr):
    assert pyctr("run", "--rm", "-v", "/anon", "-v", "kept:/kept", "busybox", "touch", "/anon/x").returncode == 0
    assert _volumes(pyctr) == ["kept"]
    assert pyctr("run", "--name", "c", "-v", "/anon", "busybox", "true").returncode == 0
    (anonymous,) = [v for v in _volumes(pyctr) if v != "kept"]
    assert pyctr("rm", "c").returncode == 0  # without -v: kept, as docker
    assert anonymous in _volumes(pyctr)
    assert pyctr("run", "--name", "d", "-v", "/anon", "busybox", "true").returncode == 0
    (second,) = [v for v in _volumes(pyctr) if v not in ("kept", anonymous)]
    assert pyctr("rm", "-v", "d").returncode == 0
    assert sorted(_volumes(pyctr)) == sorted(["kept", anonymous])
    assert second not in _volume_dirs(pyctr)


def test_a_failed_run_leaves_no_volume(pyctr):
    assert pyctr("volume", "create", "before").returncode == 0
    r = pyctr("run", "-v", "made:/m", "-v", "/anon", "-v", "before:/b", "busybox", "no-such-command")
    assert r.returncode == 127
    assert _volumes(pyctr) == ["before"] and _volume_dirs(pyctr) == ["before"]
    assert pyctr.store().list_containers() == []


def test_image_volumes_get_anonymous_volumes(pyctr):
    """An image whose config declares Volumes (busybox's layers under another config)."""
    from pyctr.images.image import Image
    store = pyctr.store()
    busybox = store.find_image("busybox", "latest")
    config = json.loads(json.dumps(busybox.config))
    config.setdefault("config", {})["Volumes"] = {"/etc": {}, "/data": {}}
    store.add_image(Image("f" * 64, busybox.created, busybox.size, busybox.layers, config, "withvol", "1"))
    r = pyctr("run", "--name", "v", "-v", "mine:/data", "withvol:1", "sh", "-c", "ls /etc")
    assert r.returncode == 0, r.stderr
    assert "passwd" in r.stdout.split()  # filled from the image
    mounts = {m["Destination"]: m for m in _mounts(pyctr, "v")}
    assert mounts["/data"]["Name"] == "mine" and len(mounts["/etc"]["Name"]) == 64
    assert pyctr("rm", "-v", "v").returncode == 0
    assert _volumes(pyctr) == ["mine"]


def test_a_bind_target_that_is_a_link_does_not_leave_the_rootfs(pyctr, tmp_path):
    """A container makes its mount point's parent a link to a host directory; the next
    start resolves it inside the rootfs, so the host's directory gets no mount."""
    source, victim = tmp_path / "source", tmp_path / "victim"
    source.mkdir()
    victim.mkdir()
    (source / "secret").write_text("s\n")
    swap = f"if [ -L /a ]; then cat /a/b/secret; ls {victim}; else mv /a /moved && ln -s {victim} /a; fi"
    r = pyctr("run", "--name", "c", "-v", f"{source}:/a/b", "busybox", "sh", "-c", swap)
    assert (r.returncode, r.stdout) == (0, ""), r.stderr
    r = pyctr("start", "-a", "c")
    assert (r.returncode, r.stdout) == (0, "s\nb\n"), r.stderr  # /a/b, inside: <rootfs>/<victim>/b
    assert os.listdir(victim) == []
    assert pyctr("rm", "c").returncode == 0


def test_a_bind_source_swapped_for_a_link_is_refused(pyctr, tmp_path):
    """The source is resolved when the container is made; a link on it by a later start
    (a container could have made it) fails the start instead of being followed."""
    source, elsewhere = tmp_path / "source", tmp_path / "elsewhere"
    source.mkdir()
    elsewhere.mkdir()
    (elsewhere / "secret").write_text("s\n")
    assert pyctr("run", "--name", "c", "-v", f"{source}:/d", "busybox", "ls", "/d").returncode == 0
    source.rmdir()
    source.symlink_to(elsewhere)
    r = pyctr("start", "-a", "c")
    assert r.returncode == 1 and r.stdout == ""
    assert "bind source became a symbolic link since it was checked" in r.stderr and r.stderr.count("\n") == 1
    assert pyctr("rm", "c").returncode == 0


def test_volume_fill_merges_layers_and_follows_no_link_out(tmp_path):
    """fill() over two layers: the upper's whiteout hides a lower file; a link in the image
    pointing out of it is resolved inside the image."""
    from pyctr.engine.paths import Paths
    from pyctr.engine.volumes import fill
    lower, upper, data = tmp_path / "lower", tmp_path / "upper", tmp_path / "data"
    (lower / "srv").mkdir(parents=True)
    (lower / "srv" / "gone").write_text("x")
    (lower / "srv" / "kept").write_text("k")
    (upper / "srv").mkdir(parents=True)
    os.mknod(upper / "srv" / "gone", 0o600 | 0o020000, 0)  # overlay whiteout: char 0:0
    (upper / "out").symlink_to("/../../../..")
    data.mkdir()
    paths = Paths.resolve(str(tmp_path / "root"))
    fill(paths, [str(upper), str(lower)], "/srv", str(data))
    assert sorted(os.listdir(data)) == ["kept"]
    escaped = tmp_path / "escaped"
    escaped.mkdir()
    fill(paths, [str(upper), str(lower)], "/out/srv", str(escaped))  # /out -> / inside the image
    assert sorted(os.listdir(escaped)) == ["kept"]
    assert os.listdir(tmp_path / "root" / "tmp") == []


def test_volume_fill_writes_through_no_link_in_the_volume(tmp_path):
    """A link a container put into the volume meanwhile is replaced, not written through."""
    from pyctr.engine.paths import Paths
    from pyctr.engine.volumes import fill
    layer, data, victim = tmp_path / "layer", tmp_path / "data", tmp_path / "victim"
    (layer / "srv" / "dir").mkdir(parents=True)
    (layer / "srv" / "kept").write_text("k")
    (layer / "srv" / "dir" / "f").write_text("f")
    victim.mkdir()
    (victim / "file").write_text("v")
    data.mkdir()
    (data / "kept").symlink_to(victim / "file")
    (data / "dir").symlink_to(victim)
    fill(Paths.resolve(str(tmp_path / "root")), [str(layer)], "/srv", str(data))
    assert (victim / "file").read_text() == "v" and sorted(os.listdir(victim)) == ["file"]
    assert not os.path.islink(data / "kept") and (data / "kept").read_text() == "k"
    assert os.path.islink(data / "dir")  # the container's own entry stays, the copy does not go through it


@pytest.mark.parametrize("flags,message", [
    (["-v", "a:b"], "pyctr: invalid volume specification: 'a:b': invalid mount path: 'b' mount path must be absolute\n"),
    (["-v", "/a:/d", "-v", "v:/d"], "pyctr: duplicate mount point: /d\n"),
    (["--mount", "type=bind,src=/no-such-dir,dst=/x"],
     'pyctr: invalid mount config for type "bind": bind source path does not exist: /no-such-dir\n'),
    (["--volumes-from", "nobody"], "pyctr: no such container: nobody\n"),
    (["--tmpfs", "rel"], "pyctr: invalid tmpfs specification: 'rel': invalid mount path: 'rel' mount path must be absolute\n"),
])
def test_bad_specs_are_one_line_and_125(pyctr, flags, message):
    r = pyctr("run", "--rm", *flags, "busybox", "true")
    assert (r.returncode, r.stderr) == (125, message)
    assert pyctr.store().list_containers() == [] and _volumes(pyctr) == []


def test_volume_help_has_examples(pyctr):
    for command in ("create", "ls", "inspect", "rm", "prune"):
        r = pyctr("volume", command, "--help")
        assert r.returncode == 0 and "Example:" in r.stdout, command


def test_no_volume_code_on_a_plain_run(pyctr):
    code = ("import sys; from pyctr.cli.main import main; rc = main(['run', '--rm', 'busybox', 'true']);"
            "print(rc, 'pyctr.engine.volumes' in sys.modules, 'pyctr.engine.mounts' in sys.modules)")
    r = subprocess.run([os.path.join(os.path.dirname(pyctr.argv()[0]), "python"), "-I", "-c", code],
                       capture_output=True, text=True, env=pyctr.env, timeout=60)
    assert r.stdout == "0 False False\n", r.stderr


def test_with_a_user_namespace_volumes_are_idmapped_and_host_binds_are_not(pyctr, tmp_path):
    """Container root owns a volume as host root does (it is pyctr's); a host directory
    bound in is not idmapped (podman's rule): container root, an unprivileged host uid,
    reaches it only as that uid would (here not at all: the test's dirs are 0700)."""
    r = pyctr("run", "--rm", "--userns=auto", "busybox", "true")
    if "the filesystem takes no idmapped mounts" in r.stderr:
        pytest.skip(r.stderr.strip())
    r = pyctr("run", "--rm", "--userns=auto", "-v", "uvol:/etc", "busybox", "sh", "-c",
              "ls -ln /etc/passwd; touch /etc/made && echo volume-writable")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[2:4] == ["0", "0"] and "volume-writable" in r.stdout
    made = os.lstat(os.path.join(pyctr.root, "volumes", "uvol", "_data", "made"))
    assert (made.st_uid, made.st_gid) == (0, 0)  # on disk as without a user namespace, as the rootfs
    host = tmp_path / "host"
    host.mkdir()
    r = pyctr("run", "--rm", "--userns=auto", "-v", f"{host}:/h", "busybox", "touch", "/h/x")
    assert r.returncode == 125 and "Permission denied" in r.stderr and r.stderr.count("\n") == 1
    assert os.listdir(host) == []
