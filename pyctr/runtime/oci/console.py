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
            sock.connect(path)
        except OSError as e:
            raise OSError(e.errno, f"cannot connect to the console socket: {e.strerror}", path) from None
        fds = array.array("i", [master])
        sock.sendmsg([name.encode()], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, fds.tobytes())])


def _pty_name(master: int) -> str:
    """/dev/pts/N of the master's peer (TIOCGPTN), or /dev/ptmx if it will not say."""
    import fcntl
    import struct
    try:
        n = struct.unpack("I", fcntl.ioctl(master, TIOCGPTN, b"\0" * 4))[0]
    except OSError:
        return "/dev/ptmx"
    return f"/dev/pts/{n}"

