# The C core's sources and compiler flags, listed once: CMakeLists.txt includes this file
# and setup.py reads it (one `set(NAME value ...)` per line, nothing else), so the library
# the tests build and the one pip installs are made from the same files the same way.
set(PYCTR_C_FLAGS -O2 -Wall -Wextra)
# the extension's C part: the pre-exec path, the relay, rm -rf, the v1 attach warmer, v2's device
# filter, user namespaces
set(PYCTR_CORE_SOURCES csrc/child.c csrc/devicefilter.c csrc/hooks.c csrc/relay.c csrc/rootfs.c csrc/spawn.c csrc/sync.c csrc/tree.c csrc/userns.c csrc/util.c csrc/warm.c)
# pyctr.network._netlink: a container's veth pair in raw rtnetlink (parent side, its own extension)
set(PYCTR_NETLINK_SOURCES csrc/netlink.c)
# pyctr-monitor, the parent of every container
set(PYCTR_MONITOR_SOURCES csrc/monitor/main.c csrc/monitor/logfile.c csrc/monitor/attach.c)
# pyctr-init, pid 1 for run --init (linked static: it runs inside any image)
set(PYCTR_INIT_SOURCES csrc/init.c)
# pyctr, the command: the warm process's client, else an exec of the Python CLI
set(PYCTR_CLIENT_SOURCES csrc/client/main.c csrc/client/where.c)
