"""`pyctr run` on real containers: exit codes, isolation, arguments, environment, storage."""

import os
import signal

from helpers import runtime_entries


NAMESPACES = ("pid", "mnt", "uts", "ipc", "net", "cgroup")


def test_echo_hello(pyctr):
    r = pyctr("run", "busybox", "echo", "hello")
    assert (r.returncode, r.stdout, r.stderr) == (0, "hello\n", "")


def test_exit_code_is_the_containers(pyctr):
    assert pyctr("run", "busybox", "sh", "-c", "exit 3").returncode == 3


def test_killed_by_signal_is_128_plus_signal(pyctr):
    # pid 1 ignores signals it has no handler for, so kill a child shell instead
    r = pyctr("run", "busybox", "sh", "-c", "sh -c 'kill -9 $$'; exit $?")
    assert r.returncode == 137


def test_missing_command_is_127_and_leaves_no_container(pyctr):
    r = pyctr("run", "busybox", "no-such-command")
    assert r.returncode == 127
    assert r.stderr == 'pyctr: exec: "no-such-command": executable file not found in $PATH\n'
    assert pyctr.store().list_containers() == []
    assert pyctr.container_dirs() == []


def test_not_executable_is_126(pyctr):
    r = pyctr("run", "busybox", "/etc/passwd")
    assert r.returncode == 126
    assert r.stderr.count("\n") == 1 and "permission denied" in r.stderr


def test_missing_image_is_125_and_leaves_no_container(pyctr):
    r = pyctr("run", "no-such-image", "true")
    assert r.returncode == 125
    assert r.stderr.startswith("pyctr: image not found: no-such-image (to pull it, give its registry")
    assert r.stderr.count("\n") == 1
    assert pyctr.container_dirs() == []


def test_bad_flag_is_125_without_traceback(pyctr):
    r = pyctr("run", "--no-such-flag", "busybox")
    assert r.returncode == 125
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_inside_pid_hostname_proc_and_network(pyctr):
    script = "echo $$; hostname; ls /proc | grep -c '^[0-9]'; ip -o link | cut -d: -f2"
    r = pyctr("run", "--hostname", "box1", "busybox", "sh", "-c", script)
    pid, hostname, nprocs, links = r.stdout.split("\n", 3)
    assert (pid, hostname) == ("1", "box1")
    assert int(nprocs) <= 3  # sh, ls and grep at most: the host's processes are not visible
    assert links.split() == ["lo", "eth0@if" + links.split()[1].split("@if")[1]]  # the default network's
    r = pyctr("run", "--net", "none", "busybox", "sh", "-c", "ip -o link | cut -d: -f2")
    assert r.stdout.split() == ["lo"]


def test_default_hostname_is_the_short_id(pyctr):
    r = pyctr("run", "busybox", "hostname")
    [container] = pyctr.store().list_containers()
    assert r.stdout.strip() == container.id[:12]


def test_namespaces_differ_from_the_hosts(pyctr):
    script = " ".join(f"readlink /proc/1/ns/{ns};" for ns in NAMESPACES)
    r = pyctr("run", "busybox", "sh", "-c", script)
    inside = r.stdout.split()
    assert len(inside) == len(NAMESPACES)
    for ns, link in zip(NAMESPACES, inside):
        assert link != os.readlink(f"/proc/self/ns/{ns}"), ns


def test_host_environment_does_not_leak(pyctr):
    r = pyctr("run", "busybox", "env", env={"PYCTR_TEST_SECRET": "leak"})
    env = dict(line.split("=", 1) for line in r.stdout.splitlines())
    assert "PYCTR_TEST_SECRET" not in env
    assert env["PATH"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    assert env["HOME"] == "/root" and env["HOSTNAME"]
    assert "TERM" not in env


def test_arguments_arrive_intact(pyctr):
    args = ["a b", "it's", '"quoted"', "$HOME", "*", "", "tab\there", "ünï"]
    r = pyctr("run", "busybox", "printf", "[%s]\\n", *args)
    assert r.stdout.splitlines() == [f"[{a}]" for a in args]


def test_env_flags_env_file_workdir_entrypoint(pyctr, tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("# comment\nFROM_FILE=1\nBOTH=file\n\nFROM_HOST\n")
    r = pyctr("run", "-e", "BOTH=flag", "-e", "A=x=y", "--env-file", str(env_file), "-w", "/work/dir",
              "--entrypoint", "sh", "busybox", "-c", "echo $FROM_FILE $BOTH $A $FROM_HOST; pwd",
              env={"FROM_HOST": "host"})
    assert r.stdout.splitlines() == ["1 flag x=y host", "/work/dir"]


def test_relative_workdir_is_refused(pyctr):
    r = pyctr("run", "-w", "rel", "busybox", "true")
    assert r.returncode == 125 and "absolute" in r.stderr
    assert pyctr.container_dirs() == []


def test_writes_stay_in_their_container(pyctr):
    assert pyctr("run", "--name", "a", "busybox", "sh", "-c", "echo mine > /note").returncode == 0
    r = pyctr("run", "--name", "b", "busybox", "cat", "/note")
    assert r.returncode == 1 and "No such file" in r.stderr
    store = pyctr.store()
    [image] = store.list_images()
    layer = os.path.join(pyctr.root, "layers", image.layers[0], "diff")
    assert os.path.isdir(os.path.join(layer, "bin")) and not os.path.exists(os.path.join(layer, "note"))
    [a] = store.find_containers("a")
    with open(os.path.join(pyctr.root, "containers", a.id, "upper", "note")) as f:
        assert f.read() == "mine\n"


def test_rm_leaves_nothing(pyctr):
    assert pyctr("run", "--rm", "busybox", "true").returncode == 0
    assert pyctr.store().list_containers() == []
    assert pyctr.container_dirs() == []


def test_without_rm_the_container_stays_with_its_exit_code(pyctr):
    pyctr("run", "--name", "kept", "busybox", "sh", "-c", "exit 4")
    [c] = pyctr.store().list_containers()
    assert (c.name, c.status, c.exit_code, c.command) == ("kept", "exited", 4, ["sh", "-c", "exit 4"])
    assert len(c.id) == 64 and c.pid is not None
    assert pyctr.container_dirs() == [c.id]
    assert runtime_entries(os.path.join(pyctr.root, "run")) == []  # the runtime keeps nothing of an exited one


def test_names_are_unique(pyctr):
    assert pyctr("run", "--name", "same", "busybox", "true").returncode == 0
    r = pyctr("run", "--name", "same", "busybox", "true")
    assert r.returncode == 125
    assert r.stderr == 'pyctr: the container name "same" is already in use\n'
    assert len(pyctr.store().list_containers()) == 1


def test_sigterm_is_forwarded_to_the_container(pyctr):
    proc = pyctr.popen("run", "--rm", "busybox", "sh", "-c",
                       "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done",
                       stdout=-1, text=True)
    assert proc.stdout.readline() == "ready\n"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 42


def test_security_defaults(pyctr):
    script = ("grep CapEff /proc/self/status; wc -c < /proc/interrupts; "
              "echo 1 > /proc/sys/kernel/domainname && echo writable || echo readonly; "
              "echo x > /dev/null && head -c 4 /dev/zero | wc -c; ls /sys/firmware | wc -l")
    r = pyctr("run", "busybox", "sh", "-c", script)
    lines = r.stdout.split()
    assert lines[:2] == ["CapEff:", "00000000a80425fb"]  # docker's 14 capabilities
    assert lines[2:] == ["0", "readonly", "4", "0"]


def _image_with_symlink(pyctr, name: str, link: str, target: str) -> None:
    """Registers `name` = busybox + a layer holding the symlink `link` -> `target`."""
    import hashlib
    from pyctr.images.image import Image
    assert pyctr("run", "--rm", "busybox", "true").returncode == 0
    store = pyctr.store()
    [base] = store.list_images()
    digest = hashlib.sha256(f"{link}->{target}".encode()).hexdigest()
    diff = os.path.join(pyctr.root, "layers", digest, "diff")
    os.makedirs(diff)
    os.symlink(target, os.path.join(diff, link))
    config = dict(base.config, rootfs={"type": "layers", "diff_ids": [*base.config["rootfs"]["diff_ids"], digest]})
    store.add_image(Image(digest, base.created, base.size, [*base.layers, digest], config, name, "latest"))


def test_image_symlink_cannot_send_container_setup_onto_the_host(pyctr, tmp_path):
    """The working directory is created through the image's symlink /work -> <host dir>:
    resolved inside the rootfs, it must land in the container, not in the host's dir."""
    host_dir = tmp_path / "host-dir"
    host_dir.mkdir()
    _image_with_symlink(pyctr, "evil", "work", str(host_dir))
    r = pyctr("run", "--rm", "-w", "/work/sub", "evil", "pwd")
    # inside, /work resolves to a directory of that name within the rootfs
    assert (r.returncode, r.stdout) == (0, f"{host_dir}/sub\n")
    assert list(host_dir.iterdir()) == []


def test_images_lists_busybox(pyctr):
    pyctr("run", "busybox", "true")
    r = pyctr("images")
    header, row = r.stdout.splitlines()[:2]
    assert header.split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert row.split()[:2] == ["busybox", "latest"]


def test_startup_is_not_slowed_by_image_build_after_first_use(pyctr):
    """The built-in image is made once per root, then found in the store."""
    pyctr("run", "busybox", "true")
    ids = {pyctr("images", "-q").stdout for _ in range(2)}
    assert len(ids) == 1
    assert len(os.listdir(os.path.join(pyctr.root, "layers"))) == 1


def test_stdin_only_with_interactive(pyctr):
    assert pyctr("run", "-i", "--rm", "busybox", "cat", input="piped\n").stdout == "piped\n"
    assert pyctr("run", "--rm", "busybox", "cat", input="piped\n").stdout == ""


def test_no_fd_leaks_into_the_container(pyctr):
    r = pyctr("run", "--rm", "busybox", "ls", "/proc/self/fd")
    assert r.stdout.split() == ["0", "1", "2", "3"]  # 3: the directory ls itself opened


def test_a_very_deep_workdir(pyctr):
    deep = "/a" * 800
    r = pyctr("run", "--rm", "-w", deep, "busybox", "pwd")
    assert (r.returncode, r.stdout) == (0, deep + "\n")
