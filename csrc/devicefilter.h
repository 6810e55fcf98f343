/* cgroup v2's device rules: an eBPF program (BPF_PROG_TYPE_CGROUP_DEVICE) made from the
 * OCI `linux.resources.devices` list, and its installation on a cgroup directory.
 *
 * v1 has devices.allow/deny files; v2 has only this hook, as runc and crun use it.  The
 * program gives the list v1's meaning (devicefilter.c names the one case where v1's
 * kernel reads it otherwise): later rules override earlier ones, an 'a' rule
 * (all devices) resets everything before it, and with no 'a' rule at all every device
 * the rules do not mention stays allowed, as in a new v1 cgroup under an allow-all
 * parent.  Overrides go access bit by access bit (an open for reading and writing needs
 * both bits allowed, by one rule or two). */
#ifndef PYCTR_DEVICEFILTER_H
#define PYCTR_DEVICEFILTER_H

#include <linux/bpf.h>
#include <stddef.h>
#include <stdint.h>

#include "pyctr.h"

struct pyctr_dev_rule {
    int allow;
    char type;            /* 'a' all devices, 'b' block, 'c' char */
    int64_t major, minor; /* -1: any */
    const char *access;   /* some of "rwm" */
};

/* The program's length without a rule (what it reads, then the default), and room
 * enough for the program of `n` rules (a rule takes at most 14). */
#define PYCTR_DEVFILTER_FIXED_INSNS 8
#define PYCTR_DEVFILTER_MAX_INSNS(n) (PYCTR_DEVFILTER_FIXED_INSNS + 14 * (size_t)(n))

/* Pure (no syscall): the program for `rules`, written to `out` (room for `max`
 * instructions).  Returns its length, or -1 with `err` set: EINVAL for a bad rule (the
 * message names it), ENOSPC when `max` is too small. */
int pyctr_devfilter_build(const struct pyctr_dev_rule *rules, size_t n, struct bpf_insn *out, size_t max,
                          struct pyctr_err *err);

/* Loads the program and attaches it to the cgroup v2 directory `cgroup_fd` (opened for
 * reading, not O_PATH), then detaches the device programs attached there before: an
 * update replaces the filter, and the cgroup is never without one meanwhile.  0, or -1
 * with `err` set (the verifier's last words when it refuses the program). */
int pyctr_devfilter_install(int cgroup_fd, const struct bpf_insn *insns, size_t n, struct pyctr_err *err);

/* The ids of the device programs attached to `cgroup_fd` itself: up to `max` in `ids`.
 * Returns how many are attached, or -1 with `err` set. */
int pyctr_devfilter_query(int cgroup_fd, uint32_t *ids, size_t max, struct pyctr_err *err);

#endif
