"""A container's changes: diff, commit (a layer of only them, shared layers below), cp
both ways, export and import; on real containers."""

import os
import tarfile



def _ok(r):
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_the_issue_commands_commit_diff_and_run(pyctr):
    _ok(pyctr("run", "--name", "c1", "busybox", "sh", "-c", "echo new > /etc/motd; rm /bin/vi; mkdir -p /srv/x"))
    assert _ok(pyctr("diff", "c1")).splitlines() == ["C /bin", "D /bin/vi", "C /etc", "A /etc/motd", "A /srv",
                                                     "A /srv/x"]
    image_id = _ok(pyctr("commit", "-c", 'CMD ["cat","/etc/motd"]', "-m", "motd", "c1", "mybox:1")).strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    assert _ok(pyctr("run", "--rm", "mybox:1")) == "new\n"
    r = pyctr("run", "--rm", "mybox:1", "ls", "/bin/vi")  # deleted in c1: absent in its commit
    assert r.returncode == 1 and "No such file" in r.stderr
    store = pyctr.store()
    base, mine = store.find_image("busybox", "latest"), store.find_image("mybox", "1")
    assert mine.layers[:-1] == base.layers  # shared, not copied
    top = store.find_layer(mine.layers[-1])
    # the new layer holds only c1's changes: the motd, the whiteout of vi, the dirs
    with tarfile.open(os.path.join(pyctr.root, "blobs", "sha256", top.blob[7:])) as tar:
        names = sorted(tar.getnames())
    assert names == ["bin", "bin/.wh.vi", "etc", "etc/motd", "srv", "srv/x"]
    history = _ok(pyctr("history", "mybox:1"))
    assert "pyctr commit c1" in history and "motd" in history
    _ok(pyctr("rm", "c1"))


def test_a_commit_of_a_commit_stacks_layers_and_shares_those_below(pyctr):
    _ok(pyctr("run", "--name", "a", "busybox", "sh", "-c", "echo 1 > /one"))
    _ok(pyctr("commit", "a", "one:1"))
    _ok(pyctr("run", "--name", "b", "one:1", "sh", "-c", "echo 2 > /two; rm /one"))
    _ok(pyctr("commit", "-c", "ENV K=V", "-c", "WORKDIR /tmp", "b", "two:1"))
    store = pyctr.store()
    one, two = store.find_image("one", "1"), store.find_image("two", "1")
    assert len(two.layers) == 3 and two.layers[:2] == one.layers
    assert _ok(pyctr("run", "--rm", "two:1", "sh", "-c", "pwd; echo $K; cat /two; ls /one 2>&1; true")) == \
        "/tmp\nV\n2\nls: /one: No such file or directory\n"
    # sizes: each image counts its layers; the store holds each layer once
    layers = {layer.chain_id: layer for layer in store.all_layers()}
    assert two.size == sum(layers[c].size for c in two.layers)
    assert sorted(os.listdir(os.path.join(pyctr.root, "layers"))) == sorted(layers)
    _ok(pyctr("rm", "a", "b"))


def test_commit_of_a_running_container_freezes_it_and_it_goes_on(pyctr):
    _ok(pyctr("run", "-d", "--name", "busy", "busybox", "sh", "-c", "echo x > /made; sleep 60"))
    for _ in range(100):
        if pyctr("exec", "busy", "cat", "/made").returncode == 0:
            break
    _ok(pyctr("commit", "busy", "busy:1"))
    assert _ok(pyctr("exec", "busy", "echo", "alive")) == "alive\n"  # thawed
    assert _ok(pyctr("run", "--rm", "busy:1", "cat", "/made")) == "x\n"
    _ok(pyctr("rm", "-f", "busy"))


def test_commit_leaves_out_mounts(pyctr, tmp_path):
    host = tmp_path / "data"
    host.mkdir()
    _ok(pyctr("run", "--name", "v", "-v", f"{host}:/data", "-v", "named:/cache", "busybox", "sh", "-c",
              "echo hi > /data/x; echo c > /cache/c; echo y > /y"))
    _ok(pyctr("commit", "v", "v:1"))
    assert _ok(pyctr("run", "--rm", "v:1", "sh", "-c", "cat /y; ls /data /cache 2>&1; true")) == \
        "y\nls: /data: No such file or directory\nls: /cache: No such file or directory\n"
    assert (host / "x").read_text() == "hi\n"
    _ok(pyctr("rm", "v"))


def test_cp_both_ways_stays_inside_the_container(pyctr, tmp_path):
    # the container makes /etc/motd a link to the host's absolute path: cp must resolve it
    # inside the container, never on the host
    canary = tmp_path / "canary"
    canary.write_text("host\n")
    _ok(pyctr("run", "--name", "c", "busybox", "sh", "-c",
              f"echo inside > /etc/motd; ln -s {canary} /evil; mkdir -p /d/e; echo f > /d/e/f"))
    _ok(pyctr("cp", "c:/etc/motd", str(tmp_path)))
    assert (tmp_path / "motd").read_text() == "inside\n"
    _ok(pyctr("cp", "c:/d", str(tmp_path / "copy")))
    assert (tmp_path / "copy" / "e" / "f").read_text() == "f\n"
    r = pyctr("cp", "c:/evil", str(tmp_path / "link"))  # the link itself, not what it names
    _ok(r)
    assert os.readlink(tmp_path / "link") == str(canary)
    (tmp_path / "in").write_text("from host\n")
    _ok(pyctr("cp", str(tmp_path / "in"), "c:/evil"))  # replaces the container's link
    assert canary.read_text() == "host\n"
    _ok(pyctr("cp", str(tmp_path / "in"), "c:/root/"))
    assert _ok(pyctr("start", "-a", "c")) == ""
    _ok(pyctr("commit", "c", "c:1"))
    assert _ok(pyctr("run", "--rm", "c:1", "cat", "/root/in", "/evil")) == "from host\nfrom host\n"
    r = pyctr("cp", "c:/nosuch", str(tmp_path))
    assert r.returncode != 0 and "nosuch" in r.stderr and "Traceback" not in r.stderr
    _ok(pyctr("rm", "c"))


def test_cp_into_a_running_container(pyctr, tmp_path):
    _ok(pyctr("run", "-d", "--name", "r", "busybox", "sleep", "60"))
    (tmp_path / "f").write_text("live\n")
    _ok(pyctr("cp", str(tmp_path / "f"), "r:/tmp/g"))
    assert _ok(pyctr("exec", "r", "cat", "/tmp/g")) == "live\n"
    _ok(pyctr("rm", "-f", "r"))


def test_export_then_import_gives_the_same_files(pyctr, tmp_path):
    _ok(pyctr("run", "--name", "e", "busybox", "sh", "-c", "echo exported > /root/file; rm /bin/vi"))
    out = tmp_path / "e.tar"
    _ok(pyctr("export", "-o", str(out), "e"))
    with tarfile.open(out) as tar:
        names = set(tar.getnames())
    assert "root/file" in names and "bin/vi" not in names and "bin/sh" in names
    assert not any(".wh." in n for n in names)
    digest = _ok(pyctr("import", "-c", 'CMD ["cat","/root/file"]', "-m", "from e", str(out), "flat:1")).strip()
    assert _ok(pyctr("run", "--rm", "flat:1")) == "exported\n"
    flat = pyctr.store().find_image("flat", "1")
    assert f"sha256:{flat.id}" == digest and len(flat.layers) == 1
    # gzip from stdin
    import gzip
    r = pyctr.popen("import", "-", "flat:2", stdin=__import__("subprocess").PIPE,
                    stdout=__import__("subprocess").PIPE, stderr=__import__("subprocess").PIPE)
    stdout, stderr = r.communicate(gzip.compress(out.read_bytes()))
    assert r.returncode == 0, stderr
    assert _ok(pyctr("run", "--rm", "flat:2", "cat", "/root/file")) == "exported\n"
    _ok(pyctr("rm", "e"))


def test_bad_input_is_one_line(pyctr, tmp_path):
    (tmp_path / "junk").write_bytes(b"not a tar at all" * 100)
    for args in (("import", str(tmp_path / "junk"), "x:1"), ("commit", "nosuch"), ("diff", "nosuch"),
                 ("import", str(tmp_path / "missing")), ("load", "-i", str(tmp_path / "junk")),
                 ("load", "-i", str(tmp_path / "missing")), ("save", "-o", str(tmp_path / "out.tar"), "nosuch"),
                 ("save", "--format", "zip", "-o", str(tmp_path / "out.tar"), "busybox"),
                 ("commit", "-c", "FROM x", "nosuch")):
        r = pyctr(*args)
        assert r.returncode != 0, args
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
    assert not (tmp_path / "out.tar").exists()  # a failed save leaves no file
    assert pyctr.store().list_images()[0].repository == "busybox"
    assert len(pyctr.store().list_images()) == 1


def test_the_image_config_user_and_stop_signal_are_honoured(pyctr):
    _ok(pyctr("run", "--name", "base", "busybox", "sh", "-c",
              "printf '#!/bin/sh\\ntrap \"echo got USR1; exit 7\" USR1\\nwhile :; do sleep 0.1; done\\n' > /wait;"
              " chmod +x /wait"))
    _ok(pyctr("commit", "-c", "USER nobody", "-c", "STOPSIGNAL SIGUSR1", "-c", 'CMD ["/wait"]', "-c",
              "LABEL team=core", "-c", "EXPOSE 8080", "base", "sig:1"))
    assert _ok(pyctr("run", "--rm", "sig:1", "id", "-u")) == "65534\n"
    assert _ok(pyctr("run", "--rm", "-u", "0", "sig:1", "id", "-u")) == "0\n"  # -u wins
    _ok(pyctr("run", "-d", "--name", "s", "sig:1"))
    for _ in range(100):  # until the trap is set
        if "wait" in _ok(pyctr("top", "s")):
            break
    _ok(pyctr("stop", "-t", "10", "s"))  # USR1, not TERM: the trap exits 7 at once
    assert _ok(pyctr("wait", "s")) == "7\n"
    assert _ok(pyctr("logs", "s")) == "got USR1\n"
    import json
    [image] = json.loads(_ok(pyctr("inspect", "sig:1")))  # a name no container has: the image
    assert image["Config"]["Labels"] == {"team": "core"} and image["Config"]["ExposedPorts"] == {"8080/tcp": {}}
    assert image["Config"]["StopSignal"] == "SIGUSR1" and image["Config"]["User"] == "nobody"
    r = pyctr("inspect", "nothing-by-this-name")
    assert (r.returncode, r.stderr) == (1, "Error: No such object: nothing-by-this-name\n")
    _ok(pyctr("rm", "base", "s"))


NSS_MODULE = r"""
#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void owned(void)
{
    /* loaded as host root by a copy that looks up owner names: leave any chroot, mark the host */
    if (chroot("/lib") == 0) {
        for (int i = 0; i < 64; i++)
            if (chdir("..") != 0)
                break;
        if (chroot(".") != 0)
            return;
    }
    int fd = open(MARK, O_WRONLY | O_CREAT, 0644);
    if (fd >= 0)
        close(fd);
}
"""


def test_cp_out_loads_nothing_of_the_container(pyctr, tmp_path):
    """A container that ships an NSS module and an nsswitch.conf naming it: `cp` out of it
    must not run it (it did, when cp chrooted into the container and looked up owner
    names: docker's CVE-2019-14271)."""
    import subprocess
    mark = tmp_path / "PWNED"
    src = tmp_path / "nss.c"
    src.write_text(NSS_MODULE)
    lib = tmp_path / "lib"
    lib.mkdir()
    subprocess.run(["gcc", "-shared", "-fPIC", f'-DMARK="{mark}"', "-o", str(lib / "libnss_evil.so.2"), str(src)],
                   check=True)
    _ok(pyctr("run", "--name", "nss", "-v", f"{lib}:/src:ro", "busybox", "sh", "-c",
              "mkdir -p /lib/x86_64-linux-gnu /data && cp /src/libnss_evil.so.2 /lib/x86_64-linux-gnu/ &&"
              " printf 'passwd: evil\\ngroup: evil\\n' > /etc/nsswitch.conf && echo d > /data/f &&"
              " chown 1234:1234 /data/f"))
    _ok(pyctr("cp", "nss:/data", str(tmp_path / "out")))
    _ok(pyctr("export", "-o", str(tmp_path / "e.tar"), "nss"))
    assert (tmp_path / "out" / "f").read_text() == "d\n"
    assert os.stat(tmp_path / "out" / "f").st_uid == 0  # root at the destination
    assert not mark.exists()
    _ok(pyctr("rm", "nss"))


def test_cp_neither_climbs_out_nor_changes_what_it_does_not_write(pyctr, tmp_path):
    _ok(pyctr("run", "--name", "k", "busybox", "sh", "-c",
              "chmod 777 /; mkdir -p /data; echo f > /data/keep; ln -s /etc/shadow /data/sub; ln -s / /l"))
    for source in ("/..", "/l/..", "/./..", "/etc/../.."):  # all the container's own /
        r = pyctr("cp", f"k:{source}", str(tmp_path / "out"))
        _ok(r)
        assert not (tmp_path / "out" / "config.json").exists() and (tmp_path / "out" / "bin").is_dir()
        assert os.stat(tmp_path).st_mode & 0o777 != 0o777  # the destination's parent untouched
        import shutil
        shutil.rmtree(tmp_path / "out")
    host = tmp_path / "host"
    host.mkdir(mode=0o700)
    r = pyctr("cp", "k:/", str(host))  # into an existing directory: refused, nothing changed
    assert r.returncode == 1 and os.stat(host).st_mode & 0o777 == 0o700
    (tmp_path / "data" / "keep").mkdir(parents=True)
    (tmp_path / "data" / "keep" / "important").write_text("i")
    r = pyctr("cp", "k:/data", str(tmp_path))
    assert r.returncode == 1 and "cannot overwrite directory" in r.stderr
    assert (tmp_path / "data" / "keep" / "important").read_text() == "i"
    _ok(pyctr("rm", "k"))


def test_a_foreground_run_does_not_hold_rmi_off(pyctr):
    import subprocess
    import time
    _ok(pyctr("tag", "busybox", "spare:1"))
    _ok(pyctr("run", "--name", "s", "busybox", "sh", "-c", "echo x > /x"))
    _ok(pyctr("commit", "s", "other:1"))
    _ok(pyctr("rm", "s"))
    fg = pyctr.popen("run", "--rm", "--name", "fg", "busybox", "sleep", "30", stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL)
    for _ in range(200):
        if "fg" in _ok(pyctr("ps")):
            break
        time.sleep(0.05)
    start = time.monotonic()
    _ok(pyctr("rmi", "other:1"))
    assert time.monotonic() - start < 10
    fg.kill()
    fg.wait()
    pyctr("rm", "-f", "fg")
