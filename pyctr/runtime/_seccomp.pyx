# cython: language_level=3
"""libseccomp, as the runtime compiles a filter: rules in, a BPF program out (to an fd).

A module of its own so that only a run whose filter is not yet cached loads libseccomp:
seccomp.py keeps the compiled programs on disk.
"""
from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport calloc, free

import os

cdef extern from "seccomp.h" nogil:
    ctypedef void *scmp_filter_ctx
    struct scmp_arg_cmp:
        unsigned int arg
        int op
        uint64_t datum_a
        uint64_t datum_b
    enum scmp_filter_attr:
        SCMP_FLTATR_CTL_NNP
        SCMP_FLTATR_CTL_OPTIMIZE
    scmp_filter_ctx seccomp_init(uint32_t def_action)
    void seccomp_release(scmp_filter_ctx ctx)
    uint32_t seccomp_arch_resolve_name(const char *name)
    int seccomp_arch_exist(const scmp_filter_ctx ctx, uint32_t arch_token)
    int seccomp_arch_add(scmp_filter_ctx ctx, uint32_t arch_token)
    int seccomp_attr_set(scmp_filter_ctx ctx, scmp_filter_attr attr, uint32_t value)
    int seccomp_syscall_resolve_name(const char *name)
    int seccomp_rule_add_array(scmp_filter_ctx ctx, uint32_t action, int syscall, unsigned int arg_cnt,
                               const scmp_arg_cmp *arg_array)
    int seccomp_export_bpf(const scmp_filter_ctx ctx, int fd)
    int __NR_SCMP_ERROR


class SeccompError(ValueError):
    """A rule or an architecture libseccomp refused: the message says which."""


cdef class Filter:
    """A filter being built: `arch`, `rule`, then `export`."""
    cdef scmp_filter_ctx ctx

    def __cinit__(self, uint32_t default_action):
        self.ctx = seccomp_init(default_action)
        if self.ctx == NULL:
            raise SeccompError(f"libseccomp refused the default action {default_action:#x}")
        # The child sets no_new_privs itself, when the config asks for it.
        seccomp_attr_set(self.ctx, SCMP_FLTATR_CTL_NNP, 0)
        # A binary tree over the syscall numbers, not a chain: the kernel runs the filter
        # for every syscall number when it is loaded (to cache which are always allowed),
        # and a chain of some 400 tests made that load cost over a millisecond per run.
        seccomp_attr_set(self.ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)

    def __dealloc__(self):
        if self.ctx != NULL:
            seccomp_release(self.ctx)

    def arch(self, str name):
        """Adds an architecture by libseccomp's name ("x86_64", "x86", "x32", ...)."""
        cdef uint32_t token = seccomp_arch_resolve_name(name.encode())
        if token == 0:
            raise SeccompError(f"unknown seccomp architecture {name!r}")
        if seccomp_arch_exist(self.ctx, token) == 0:
            return
        rc = seccomp_arch_add(self.ctx, token)
        if rc < 0:
            raise SeccompError(f"cannot add seccomp architecture {name!r}: {os.strerror(-rc)}")

    def rule(self, uint32_t action, str name, list args):
        """One rule: `action` for syscall `name` when every (index, op, a, b) of `args`
        holds.  False when this kernel's architectures have no such syscall (skipped, as
        runc and crun do)."""
        cdef int nr = seccomp_syscall_resolve_name(name.encode())
        if nr == __NR_SCMP_ERROR:
            return False
        cdef scmp_arg_cmp *cmp = <scmp_arg_cmp *>calloc(len(args) + 1, sizeof(scmp_arg_cmp))
        if cmp == NULL:
            raise MemoryError()
        try:
            for i, (index, op, a, b) in enumerate(args):
                cmp[i].arg = index
                cmp[i].op = op
                cmp[i].datum_a = a
                cmp[i].datum_b = b
            rc = seccomp_rule_add_array(self.ctx, action, nr, len(args), cmp)
        finally:
            free(cmp)
        if rc < 0:
            raise SeccompError(f"seccomp rule for {name} refused: {os.strerror(-rc)}")
        return True

    def export(self, int fd):
        """Writes the BPF program (struct sock_filter[]) to fd."""
        rc = seccomp_export_bpf(self.ctx, fd)
        if rc < 0:
            raise SeccompError(f"cannot export the seccomp filter: {os.strerror(-rc)}")
