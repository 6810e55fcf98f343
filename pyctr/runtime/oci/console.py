"""--console-socket: the pty master of a container (or exec'd process) with a terminal
goes to whoever listens on that AF_UNIX socket (conmon, containerd's shim), as one
message carrying the fd (SCM_RIGHTS) and the pty's name, as runc sends it."""


TIOCGPTN = 0x80045430  # _IOR('T', 0x30, unsigned int): the pty's number (termios lacks it)


def send_master(path: str, master: int) -> None:
    import array
    import socket
    name = _pty_name(master)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            _connect(sock, path)
        except OSError as e:
            raise OSError(e.errno, f"cannot connect to the console socket: {e.strerror or e}", path) from None
        fds = array.array("i", [master])
        sock.sendmsg([name.encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds.tobytes())])


# sockaddr_un's sun_path, its NUL included
_SUN_PATH = 108


def _connect(sock, path: str) -> None:
    """connect(), also to a path longer than sun_path (conmon's can be): through the
    directory opened, as /proc/self/fd/N/NAME, as crun does."""
    import os
    if len(os.fsencode(path)) < _SUN_PATH:
        sock.connect(path)
        return
    where, name = os.path.split(path)
    dirfd = os.open(where or ".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        sock.connect(f"/proc/self/fd/{dirfd}/{name}")
    finally:
        os.close(dirfd)


def _pty_name(master: int) -> str:
    """/dev/pts/N of the master's peer (TIOCGPTN), or /dev/ptmx if it will not say."""
    import fcntl
    import struct
    try:
        n = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0" * 4))[0]
    except OSError:
        return "/dev/ptmx"
    return f"/dev/pts/{n}"

