# cython: language_level=3
"""The bridge to the C core: a plan (plan.Plan) in, a waiting child out.

Everything the child needs is copied into C memory before clone; after clone the child
owns a copy of it and runs only C until execve.
"""
from libc.stdint cimport uint64_t, uint32_t, int32_t, int64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy, memset
from posix.types cimport uid_t, gid_t, mode_t, pid_t
from cpython.exc cimport PyErr_CheckSignals

import os

from .errors import ConfigError, RuntimeFailure

cdef extern from "pyctr.h" nogil:
    const char *PYCTR_CREATED_NAME
    const char *pyctr_stage_name(int stage)
    enum: PYCTR_STAGE_COUNT
    int pyctr_remove_tree(const char *path)
    int pyctr_warm_attach_start(const char *own_procs)
    void pyctr_warm_attach_stop()
    int pyctr_warm_attach_running()
    enum: PYCTR_ERR_MSG
    struct pyctr_err:
        int32_t stage
        int32_t errnum
        char message[PYCTR_ERR_MSG]
    struct pyctr_mount:
        const char *source
        const char *target
        const char *fstype
        const char *data
        unsigned long flags
        unsigned long propagation
        int source_no_symlinks
    struct pyctr_device:
        const char *path
        mode_t mode
        unsigned int major, minor
        uid_t uid
        gid_t gid
    struct pyctr_symlink:
        const char *target
        const char *linkpath
    struct pyctr_rlimit:
        int resource
        uint64_t soft, hard
    struct pyctr_caps:
        uint64_t bounding, effective, permitted, inheritable, ambient
    struct pyctr_setns:
        int fd
        int nstype
    struct pyctr_hook:
        const char *path
        const char *const *argv
        const char *const *envp
        int timeout
    struct pyctr_sysctl:
        const char *key
        const char *value
    struct pyctr_plan:
        unsigned long clone_flags
        unsigned long unshare_flags
        int cgroup_fd
        int join_pidfd
        unsigned long join_flags
        const pyctr_setns *setns
        size_t n_setns
        const char *uid_map
        const char *gid_map
        const char *const *idmapped
        size_t n_idmapped
        const char *rootfs
        const char *rootfs_fstype
        const char *rootfs_source
        const char *rootfs_data
        int rootfs_readonly
        unsigned long root_propagation
        const pyctr_mount *mounts
        size_t n_mounts
        const pyctr_device *devices
        size_t n_devices
        const pyctr_symlink *symlinks
        size_t n_symlinks
        const char *const *masked_paths
        size_t n_masked
        const char *const *readonly_paths
        size_t n_readonly
        const char *hostname
        const char *domainname
        const pyctr_sysctl *sysctls
        size_t n_sysctls
        int no_pivot
        int loopback_up
        const char *const *argv
        const char *const *envp
        const char *cwd
        int stdio[3]
        int tty
        unsigned short tty_rows, tty_cols
        const pyctr_rlimit *rlimits
        size_t n_rlimits
        int set_oom_score_adj
        int oom_score_adj
        uid_t uid
        gid_t gid
        const gid_t *groups
        size_t n_groups
        int apply_caps
        pyctr_caps caps
        int cap_last_cap
        int no_new_privs
        int new_keyring
        const void *seccomp_filter
        size_t seccomp_len
        int set_personality
        unsigned long personality
        int start_fd
        int hooks_sync
        int preserve_fds
        const pyctr_hook *create_hooks
        size_t n_create_hooks
        const pyctr_hook *start_hooks
        size_t n_start_hooks
        const char *hook_state_head
        const char *hook_state_tail
    struct pyctr_child:
        pid_t pid
        int sync_fd
        int in_cgroup
        int go_sent
        int exec_seen
        int master

    int pyctr_spawn(const pyctr_plan *plan, pyctr_child *child, pyctr_err *err)
    int pyctr_release(pyctr_child *child, int *master, pyctr_err *err)

cdef extern from "userns.h" nogil:
    int pyctr_userns_prepare(const pyctr_plan *plan, pid_t pid, int sync_fd, pyctr_err *err)
    void pyctr_abort(pyctr_child *child)
    struct relay_state "pyctr_relay":  # C has a function of the same name
        size_t len, off
        int in_open
    int pyctr_relay(relay_state *r, int master, int in_fd, int out_fd, int wake_fd, pyctr_err *err)


cdef extern from "client/protocol.h":
    enum: PYCTR_SERVER_MAGIC, PYCTR_SERVER_VERSION, PYCTR_SERVER_MAX_BODY, PYCTR_SERVER_RLIMITS
    enum: PYCTR_REQUEST_RUN, PYCTR_REQUEST_STOP
    enum: PYCTR_REPLY_RUNNING, PYCTR_REPLY_EXIT, PYCTR_REPLY_SIGNALED, PYCTR_REPLY_FALLBACK, PYCTR_REPLY_REFUSED
    enum: PYCTR_REPLY_STOPPED, PYCTR_REPLY_STOPPING, PYCTR_MESSAGE_SIGNAL, PYCTR_MESSAGE_CONT
    enum: PYCTR_FALLBACK_CHANGED, PYCTR_FALLBACK_ELSEWHERE, PYCTR_FALLBACK_LIMITS, PYCTR_FALLBACK_BAD
    enum: PYCTR_FALLBACK_CLOSING
    enum: PYCTR_SERVER_LOCK_FD
    const char *PYCTR_SERVER_DIR, *PYCTR_SERVER_SOCKET, *PYCTR_SERVER_LOCK, *PYCTR_SERVER_STARTING


# The warm pyctr's wire protocol, as the `pyctr` client (csrc/client/) speaks it: read by
# pyctr/cli/server.py, so that both sides take their numbers from csrc/client/protocol.h.
SERVER_PROTOCOL = {
    "MAGIC": PYCTR_SERVER_MAGIC, "VERSION": PYCTR_SERVER_VERSION, "MAX_BODY": PYCTR_SERVER_MAX_BODY,
    "RLIMITS": PYCTR_SERVER_RLIMITS, "RUN": PYCTR_REQUEST_RUN, "STOP": PYCTR_REQUEST_STOP,
    "RUNNING": PYCTR_REPLY_RUNNING, "EXIT": PYCTR_REPLY_EXIT, "SIGNALED": PYCTR_REPLY_SIGNALED,
    "FALLBACK": PYCTR_REPLY_FALLBACK, "REFUSED": PYCTR_REPLY_REFUSED, "STOPPED": PYCTR_REPLY_STOPPED,
    "STOPPING": PYCTR_REPLY_STOPPING, "SIGNAL": PYCTR_MESSAGE_SIGNAL, "CONT": PYCTR_MESSAGE_CONT,
    "CHANGED": PYCTR_FALLBACK_CHANGED, "ELSEWHERE": PYCTR_FALLBACK_ELSEWHERE, "LIMITS": PYCTR_FALLBACK_LIMITS,
    "BAD": PYCTR_FALLBACK_BAD, "CLOSING": PYCTR_FALLBACK_CLOSING,
    "DIR": PYCTR_SERVER_DIR.decode(), "SOCKET": PYCTR_SERVER_SOCKET.decode(), "LOCK": PYCTR_SERVER_LOCK.decode(),
    "LOCK_FD": PYCTR_SERVER_LOCK_FD, "STARTING": PYCTR_SERVER_STARTING,
}


# The C core's names for the steps of the child path (csrc/pyctr.h, PYCTR_STAGES).
STAGES = tuple(pyctr_stage_name(i).decode() for i in range(PYCTR_STAGE_COUNT))
# A new container's first process has this name (comm) until its execve.
CREATED_NAME = PYCTR_CREATED_NAME.decode()


class ChildError(RuntimeFailure):
    """A failure in the C core, in the child or the parent: where, errno and what."""

    def __init__(self, stage, errno, message):
        self.stage = stage
        self.errno = errno
        self.message = message
        super().__init__(f"{stage}: {message}")


cdef object _error(pyctr_err *err):
    stage = STAGES[err.stage] if 0 <= err.stage < len(STAGES) else str(err.stage)
    return ChildError(stage, err.errnum, err.message.decode("utf-8", "replace"))


cdef class _Arena:
    """Owns the C copies of a plan's strings and arrays until spawn has cloned."""
    cdef list keep
    cdef list blocks

    def __cinit__(self):
        self.keep = []
        self.blocks = []

    def __dealloc__(self):
        cdef size_t addr
        for addr in self.blocks:
            free(<void *>addr)

    cdef void *alloc(self, size_t n, size_t size) except NULL:
        cdef void *p = calloc(n + 1, size)
        if p == NULL:
            raise MemoryError()
        self.blocks.append(<size_t>p)
        return p

    cdef const char *s(self, value) except? NULL:
        if value is None:
            return NULL
        b = value if isinstance(value, bytes) else os.fsencode(str(value))
        if b"\0" in b:
            raise ConfigError(f"NUL byte in {value!r}")
        self.keep.append(b)
        return <const char *>b

    cdef const char **strv(self, values) except NULL:
        cdef const char **v = <const char **>self.alloc(len(values), sizeof(char *))
        for i, value in enumerate(values):
            v[i] = self.s(value)
        return v


cdef void _fill_mounts(_Arena a, pyctr_plan *p, list mounts) except *:
    cdef pyctr_mount *m = <pyctr_mount *>a.alloc(len(mounts), sizeof(pyctr_mount))
    for i, d in enumerate(mounts):
        m[i] = pyctr_mount(source=a.s(d.source), target=a.s(d.target), fstype=a.s(d.fstype), data=a.s(d.data),
                           flags=d.flags, propagation=d.propagation, source_no_symlinks=d.source_no_symlinks)
    p.mounts = m
    p.n_mounts = len(mounts)


cdef void _fill_devices(_Arena a, pyctr_plan *p, list devices) except *:
    cdef pyctr_device *d = <pyctr_device *>a.alloc(len(devices), sizeof(pyctr_device))
    for i, dev in enumerate(devices):
        d[i] = pyctr_device(path=a.s(dev.path), mode=dev.mode, major=dev.major, minor=dev.minor, uid=dev.uid,
                            gid=dev.gid)
    p.devices = d
    p.n_devices = len(devices)


cdef void _fill_symlinks(_Arena a, pyctr_plan *p, list links) except *:
    cdef pyctr_symlink *l = <pyctr_symlink *>a.alloc(len(links), sizeof(pyctr_symlink))
    for i, (target, linkpath) in enumerate(links):
        l[i].target = a.s(target)
        l[i].linkpath = a.s(linkpath)
    p.symlinks = l
    p.n_symlinks = len(links)


cdef void _fill_setns(_Arena a, pyctr_plan *p, list fds) except *:
    cdef pyctr_setns *n = <pyctr_setns *>a.alloc(len(fds), sizeof(pyctr_setns))
    for i, (fd, nstype) in enumerate(fds):
        n[i].fd = fd
        n[i].nstype = nstype
    p.setns = n
    p.n_setns = len(fds)


cdef const pyctr_hook *_hooks(_Arena a, list hooks) except NULL:
    cdef pyctr_hook *h = <pyctr_hook *>a.alloc(len(hooks), sizeof(pyctr_hook))
    for i, hook in enumerate(hooks):
        h[i].path = a.s(hook.path)
        h[i].argv = a.strv(hook.args or [hook.path])
        h[i].envp = a.strv(hook.env)
        h[i].timeout = hook.timeout
    return h


cdef void _fill_lifecycle(_Arena a, pyctr_plan *p, plan) except *:
    """The create/start split and the hooks the child runs (runtime/oci/)."""
    p.start_fd = plan.start_fd
    p.hooks_sync = bool(plan.hooks_sync)
    p.preserve_fds = plan.preserve_fds
    p.create_hooks = _hooks(a, plan.create_hooks)
    p.n_create_hooks = len(plan.create_hooks)
    p.start_hooks = _hooks(a, plan.start_hooks)
    p.n_start_hooks = len(plan.start_hooks)
    p.hook_state_head = a.s(plan.hook_state[0])
    p.hook_state_tail = a.s(plan.hook_state[1])


cdef void _fill_sysctls(_Arena a, pyctr_plan *p, list sysctls) except *:
    cdef pyctr_sysctl *c = <pyctr_sysctl *>a.alloc(len(sysctls), sizeof(pyctr_sysctl))
    for i, (key, value) in enumerate(sysctls):
        c[i].key = a.s(key)
        c[i].value = a.s(value)
    p.sysctls = c
    p.n_sysctls = len(sysctls)


cdef void _fill_process(_Arena a, pyctr_plan *p, plan) except *:
    p.argv = a.strv(plan.argv)
    p.envp = a.strv(plan.env)
    p.cwd = a.s(plan.cwd)
    for i in range(3):
        p.stdio[i] = plan.stdio[i]
    p.tty = bool(plan.tty)
    p.tty_rows, p.tty_cols = plan.tty_size
    rlimits = plan.rlimits
    cdef pyctr_rlimit *r = <pyctr_rlimit *>a.alloc(len(rlimits), sizeof(pyctr_rlimit))
    for i, (resource, soft, hard) in enumerate(rlimits):
        r[i].resource = resource
        r[i].soft = soft
        r[i].hard = hard
    p.rlimits = r
    p.n_rlimits = len(rlimits)
    p.set_oom_score_adj = plan.oom_score_adj is not None
    if plan.oom_score_adj is not None:
        p.oom_score_adj = plan.oom_score_adj
    p.uid = plan.uid
    p.gid = plan.gid
    groups = plan.groups
    cdef gid_t *g = <gid_t *>a.alloc(len(groups), sizeof(gid_t))
    for i, gid in enumerate(groups):
        g[i] = gid
    p.groups = g
    p.n_groups = len(groups)


cdef void _fill_security(_Arena a, pyctr_plan *p, plan) except *:
    caps = plan.caps
    p.apply_caps = caps is not None
    if caps is not None:
        p.caps.bounding = caps.bounding
        p.caps.effective = caps.effective
        p.caps.permitted = caps.permitted
        p.caps.inheritable = caps.inheritable
        p.caps.ambient = caps.ambient
        p.cap_last_cap = plan.cap_last_cap
    p.no_new_privs = bool(plan.no_new_privs)
    p.new_keyring = bool(plan.new_keyring)
    p.set_personality = plan.personality is not None
    if plan.personality is not None:
        p.personality = plan.personality
    seccomp = plan.seccomp
    cdef void *buf
    if seccomp:
        if len(seccomp) % 8:
            raise ConfigError("seccomp program is not a whole number of instructions")
        if len(seccomp) // 8 > 4096:  # BPF_MAXINSNS: the kernel's limit for one filter
            raise ConfigError("seccomp program is longer than 4096 instructions")
        buf = a.alloc(len(seccomp), 1)
        memcpy(buf, <const char *>seccomp, len(seccomp))
        p.seccomp_filter = buf
        p.seccomp_len = len(seccomp) // 8


cdef void _fill(_Arena a, pyctr_plan *p, plan) except *:
    p.clone_flags = plan.clone_flags
    p.unshare_flags = plan.unshare_flags
    p.cgroup_fd = plan.cgroup_fd
    p.join_pidfd = plan.join_pidfd
    p.join_flags = plan.join_flags
    _fill_setns(a, p, plan.namespace_fds)
    p.uid_map = a.s(plan.uid_map)
    p.gid_map = a.s(plan.gid_map)
    p.idmapped = a.strv(plan.idmapped)
    p.n_idmapped = len(plan.idmapped)
    p.rootfs = a.s(plan.rootfs)
    p.rootfs_fstype = a.s(plan.rootfs_fstype)
    p.rootfs_source = a.s(plan.rootfs_source)
    p.rootfs_data = a.s(plan.rootfs_data)
    p.rootfs_readonly = bool(plan.rootfs_readonly)
    p.root_propagation = plan.root_propagation
    _fill_mounts(a, p, plan.mounts)
    _fill_devices(a, p, plan.devices)
    _fill_symlinks(a, p, plan.symlinks)
    p.masked_paths = a.strv(plan.masked_paths)
    p.n_masked = len(plan.masked_paths)
    p.readonly_paths = a.strv(plan.readonly_paths)
    p.n_readonly = len(plan.readonly_paths)
    p.hostname = a.s(plan.hostname)
    p.domainname = a.s(plan.domainname)
    _fill_sysctls(a, p, plan.sysctls)
    p.no_pivot = bool(plan.no_pivot)
    p.loopback_up = bool(plan.loopback_up)
    _fill_process(a, p, plan)
    _fill_security(a, p, plan)
    _fill_lifecycle(a, p, plan)


cdef class Child:
    """A cloned child waiting at its start line: `release()` lets it run to execve."""
    cdef pyctr_child c
    cdef public int master
    cdef object userns  # (uid_map, gid_map, idmapped) until release() has sent them

    def __cinit__(self):
        self.c.pid = -1
        self.c.sync_fd = -1
        self.c.master = -1
        self.master = -1

    @property
    def pid(self):
        return self.c.pid

    @property
    def in_cgroup(self):
        """True when clone3 put the child straight into the plan's cgroup."""
        return bool(self.c.in_cgroup)

    cdef void _prepare_userns(self) except *:
        """A user namespace's maps and idmapped mounts, just before the go-ahead: the
        directories they idmap are written while the child is cloned (userns.h)."""
        cdef pyctr_plan p
        cdef pyctr_err err
        cdef _Arena a = _Arena()
        cdef int rc
        memset(&p, 0, sizeof(p))
        p.uid_map, p.gid_map = a.s(self.userns[0]), a.s(self.userns[1])
        p.idmapped = a.strv(self.userns[2])
        p.n_idmapped = len(self.userns[2])
        self.userns = None
        with nogil:
            rc = pyctr_userns_prepare(&p, self.c.pid, self.c.sync_fd, &err)
        if rc < 0:
            pyctr_abort(&self.c)
            raise _error(&err)

    def release(self, on_hooks=None):
        """Runs the child to execve (or, with a start fifo, to its wait for `start`);
        returns the pty master fd (or -1).  `on_hooks()` runs while the child waits at its
        HOOKS point (plan.hooks_sync); should it raise, the child is killed.  Raises
        ChildError."""
        cdef pyctr_err err
        cdef int master = -1
        cdef int rc = 1
        if self.userns is not None:
            self._prepare_userns()
        while rc in (1, 2):
            with nogil:
                rc = pyctr_release(&self.c, &master, &err)
            if rc == 1:  # interrupted: let Python's signal handlers (forwarding) run
                PyErr_CheckSignals()
            elif rc == 2:
                try:
                    on_hooks()
                except BaseException:
                    pyctr_abort(&self.c)
                    raise
        if rc < 0:
            raise _error(&err)
        self.master = master
        return master

    def abort(self):
        """Kills and reaps a child that was not released."""
        with nogil:
            pyctr_abort(&self.c)

    def __dealloc__(self):
        if self.c.sync_fd >= 0:
            pyctr_abort(&self.c)


def spawn(plan):
    """Clones a child for `plan` (a plan.Plan); it waits for `Child.release()`."""
    cdef pyctr_plan p
    cdef pyctr_err err
    cdef int rc
    cdef _Arena arena = _Arena()
    cdef Child child = Child()
    memset(&p, 0, sizeof(p))
    _fill(arena, &p, plan)
    with nogil:
        rc = pyctr_spawn(&p, &child.c, &err)
    if rc < 0:
        raise _error(&err)
    if plan.uid_map is not None and plan.join_pidfd < 0:
        child.userns = (plan.uid_map, plan.gid_map, list(plan.idmapped))
    return child


cdef class Relay:
    """Copies terminal <-> pty master; keeps pending input between calls."""
    cdef relay_state state

    def __cinit__(self, bint in_open):
        self.state.len = 0
        self.state.off = 0
        self.state.in_open = in_open

    def run(self, int master, int in_fd, int out_fd, int wake_fd):
        """Returns False once the container side closed, True when a signal arrived
        (handlers have run when this returns)."""
        cdef pyctr_err err
        cdef int rc
        with nogil:
            rc = pyctr_relay(&self.state, master, in_fd, out_fd, wake_fd, &err)
        if rc < 0:
            raise _error(&err)
        PyErr_CheckSignals()
        return rc == 1


from libc.errno cimport errno as c_errno


cdef extern from "<sys/socket.h>" nogil:
    int socketpair(int domain, int type, int protocol, int sv[2])
    int AF_UNIX
    int SOCK_SEQPACKET
    int SOCK_CLOEXEC


def seqpacket_pair():
    """Two connected AF_UNIX SOCK_SEQPACKET fds (close-on-exec): what the monitor's owner
    talks over.  Here, not through the `socket` module, which `pyctr run` does not import."""
    cdef int sv[2]
    if socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0:
        raise OSError(c_errno, os.strerror(c_errno))
    return sv[0], sv[1]


def warm_attach_start(str own_procs):
    """Starts warm.c's thread on the cgroup.procs of our own v1 cgroup; False if it could
    not (it is only an optimisation)."""
    return pyctr_warm_attach_start(os.fsencode(own_procs)) == 0


def warm_attach_stop():
    pyctr_warm_attach_stop()


def warm_attach_running():
    return bool(pyctr_warm_attach_running())


def remove_tree(str path):
    """rm -rf path: no symbolic link followed, no other mount entered (csrc/tree.c).
    Raises OSError with the first failure, after removing all it could."""
    cdef bytes p = os.fsencode(path)
    if pyctr_remove_tree(p) < 0:
        raise OSError(c_errno, os.strerror(c_errno), path)


cdef extern from "rootfs.h" nogil:
    int pyctr_open_in_root(int rootfd, const char *path, int flags)


def open_in_root(int rootfd, str path, int flags):
    """openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS): `path` looked up inside the tree
    `rootfd` is the root of, so no link in it leads out.  Raises OSError."""
    cdef bytes encoded = os.fsencode(path)
    cdef const char *p = encoded
    cdef int fd
    with nogil:
        fd = pyctr_open_in_root(rootfd, p, flags)
    if fd < 0:
        raise OSError(c_errno, os.strerror(c_errno), path)
    return fd


cdef extern from "sched.h" nogil:
    int unshare(int flags)
    int c_setns "setns"(int fd, int nstype)
    enum: CLONE_NEWNS


def setns(int fd, int nstype):
    """setns(2) (os.setns arrived in Python 3.12).  Raises OSError."""
    if c_setns(fd, nstype) < 0:
        raise OSError(c_errno, os.strerror(c_errno), "setns")

cdef extern from "sys/mount.h" nogil:
    int c_mount "mount"(const char *source, const char *target, const char *fstype, unsigned long flags,
                        const void *data)
    enum: MS_REC
    enum: MS_PRIVATE
    enum: MS_RDONLY
    enum: MS_NODEV


def private_mounts():
    """This process into a mount namespace of its own, its mounts private: what it mounts
    then is seen by nobody else and goes when it exits (a fork that reads a container's
    merged files does this first)."""
    if unshare(CLONE_NEWNS) < 0:
        raise OSError(c_errno, os.strerror(c_errno), "unshare(CLONE_NEWNS)")
    if c_mount(NULL, b"/", NULL, MS_REC | MS_PRIVATE, NULL) < 0:
        raise OSError(c_errno, os.strerror(c_errno), "make / private")


cdef extern from "sys/prctl.h" nogil:
    int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5)
    enum: PR_SET_CHILD_SUBREAPER


def set_child_subreaper():
    """prctl(PR_SET_CHILD_SUBREAPER, 1): orphans below us are reparented to us (kept across
    execve).  Raises OSError."""
    if prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0:
        raise OSError(c_errno, os.strerror(c_errno), "prctl(PR_SET_CHILD_SUBREAPER)")


cdef extern from "sys/mount.h" nogil:
    int c_umount2 "umount2"(const char *target, int flags)
    enum: MNT_DETACH


def detach_mount(str target):
    """umount2(MNT_DETACH): `target` leaves this mount namespace (a no-op error is raised
    as OSError).  Here, not through ctypes: it runs in a preexec_fn, after fork."""
    cdef bytes t = os.fsencode(target)
    if c_umount2(t, MNT_DETACH) < 0:
        raise OSError(c_errno, os.strerror(c_errno), target)


def mount_overlay(str options, str target, bint readonly):
    """An overlay with `options` (lowerdir=...[,upperdir=,workdir=]) at `target`, nodev."""
    cdef bytes o = os.fsencode(options), t = os.fsencode(target)
    if c_mount(b"overlay", t, b"overlay", MS_NODEV | (MS_RDONLY if readonly else 0), <const char *>o) < 0:
        raise OSError(c_errno, os.strerror(c_errno), target)


cdef extern from "devicefilter.h" nogil:
    struct bpf_insn:
        pass
    struct pyctr_dev_rule:
        int allow
        char type
        int64_t major, minor
        const char *access
    size_t PYCTR_DEVFILTER_MAX_INSNS(size_t n)
    int pyctr_devfilter_build(const pyctr_dev_rule *rules, size_t n, bpf_insn *out, size_t max, pyctr_err *err)
    int pyctr_devfilter_install(int cgroup_fd, const bpf_insn *insns, size_t n, pyctr_err *err)
    int pyctr_devfilter_query(int cgroup_fd, uint32_t *ids, size_t max, pyctr_err *err)


def device_filter(list rules):
    """cgroup v2's device program (csrc/devicefilter.c) for `rules`, tuples (allow, type,
    major, minor, access) with -1 for any number: its instructions as bytes.  ConfigError,
    naming the rule, for a rule it cannot take."""
    cdef _Arena a = _Arena()
    cdef size_t n = len(rules)
    cdef pyctr_dev_rule *r = <pyctr_dev_rule *>a.alloc(n, sizeof(pyctr_dev_rule))
    cdef size_t room = PYCTR_DEVFILTER_MAX_INSNS(n)
    cdef bpf_insn *insns = <bpf_insn *>a.alloc(room, sizeof(bpf_insn))
    cdef pyctr_err err
    for i, (allow, type_, major, minor, access) in enumerate(rules):
        r[i].allow = bool(allow)
        r[i].type = ord(type_)
        r[i].major = major
        r[i].minor = minor
        r[i].access = a.s(access)
    cdef int length = pyctr_devfilter_build(r, n, insns, room, &err)
    if length < 0:
        raise ConfigError(err.message.decode("utf-8", "replace"))
    return (<char *>insns)[:length * sizeof(bpf_insn)]


def device_filter_install(int cgroup_fd, bytes program):
    """Loads `program` (device_filter's) and attaches it to the cgroup v2 directory fd in
    place of the device programs there before.  Raises ChildError (stage "device")."""
    cdef pyctr_err err
    cdef const char *insns = program
    cdef size_t n = len(program) // sizeof(bpf_insn)
    cdef int rc
    with nogil:
        rc = pyctr_devfilter_install(cgroup_fd, <const bpf_insn *>insns, n, &err)
    if rc < 0:
        raise _error(&err)


def device_filter_ids(int cgroup_fd):
    """The ids of the device programs attached to the cgroup v2 directory fd."""
    cdef pyctr_err err
    cdef uint32_t ids[64]
    cdef int n = pyctr_devfilter_query(cgroup_fd, ids, 64, &err)
    if n < 0:
        raise _error(&err)
    return [ids[i] for i in range(min(n, 64))]
