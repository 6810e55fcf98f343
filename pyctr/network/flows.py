"""Connection tracking entries of a container's address, forgotten through pyroute2's
conntrack socket when the container's ports are unpublished or its address is freed.

Removing a DNAT map element stops new connections only: a UDP flow the kernel tracks keeps
its translation while packets keep coming (30 s after the last one, 120 s once it has
seen both directions), so a client sending from the same port would go on reaching the old
container, or, once the address is leased again, a new container that never published
that port.  docker deletes these entries for the same reason.  pyroute2 is imported inside
forget(): about 200 ms, for management commands only.
"""


def forget(address: str) -> int:
    """Deletes the tracked connections to or from `address` (IPv4): those it started, and
    those it answers (DNATed to it or sent to it directly).  Returns how many."""
    import errno
    import os

    from pyroute2 import Conntrack
    from pyroute2.netlink.exceptions import NetlinkError
    from pyroute2.netlink.nfnetlink.nfctsocket import NFCTAttrTuple

    from .errors import NetworkError

    deleted = 0
    try:
        with Conntrack() as ct:
            entries = {}
            for found in (ct.dump_entries(tuple_orig=NFCTAttrTuple(saddr=address)),
                          ct.dump_entries(tuple_reply=NFCTAttrTuple(saddr=address))):
                for entry in found:
                    entries[entry.id] = entry
            for entry in entries.values():
                try:
                    ct.delete(entry)
                    deleted += 1
                except NetlinkError as e:
                    if e.code != errno.ENOENT:  # it timed out meanwhile: fine
                        raise
    except NetlinkError as e:
        raise NetworkError(f"cannot forget the connections of {address}: {os.strerror(e.code)}") from None
    return deleted
