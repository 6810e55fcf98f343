"""Signals by name or number, as runc and docker take them: `9`, `KILL`, `SIGKILL`,
`SIGRTMIN+3`.  A table of Linux's numbers rather than the signal module, whose enums
import `enum` (a few ms on every `kill`)."""

NAMES = {"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7, "FPE": 8,
         "KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16,
         "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24,
         "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29, "POLL": 29, "PWR": 30, "SYS": 31}
RTMIN, RTMAX = 34, 64  # as glibc reports them (it keeps 32 and 33 for itself)


def parse(text: str) -> int:
    """The signal's number; ValueError for anything else."""
    name = text.strip().upper().removeprefix("SIG")
    if name.isascii() and name.isdigit():
        if 0 < int(name) <= RTMAX:
            return int(name)
    elif name in NAMES:
        return NAMES[name]
    elif name.startswith(("RTMIN", "RTMAX")):
        base, offset = (RTMIN, 1) if name.startswith("RTMIN") else (RTMAX, -1)
        rest = name[5:]
        if rest == "" or (rest[0] in "+-" and rest[1:].isdigit()):
            value = base + (int(rest) if rest else 0)
            if RTMIN <= value <= RTMAX:
                return value
    raise ValueError(text)
