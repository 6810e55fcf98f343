/* cgroup v2's device filter (devicefilter.h): the program is made by a pure function, so
 * that the C tests can run it on an interpreter of their own without root; installing it
 * is a few bpf() calls (query what is attached, load, attach, detach what was there).
 *
 * The program, for a request of access bits A on device (type, major, minor):
 *
 *     r2 = type, r3 = A (the bits still undecided), r4 = major, r5 = minor
 *     for each rule after the last 'a' rule, last first:
 *         if (r2 ^ rule.type) | (r4 ^ rule.major) | (r5 ^ rule.minor) == 0:
 *             deny:  if r3 & rule.access: return 0      (an undecided bit is denied)
 *             allow: r3 &= ~rule.access; if !r3: return 1   (every bit decided, allowed)
 *     return the default: the last 'a' rule's, or allow without one
 *
 * so each access bit is decided by the last rule that names it and matches the device.
 * That is v1's list, but for one case v1's kernel reads otherwise: after `a` denied and
 * `c 1:* rwm` allowed, v1 ignores a `c 1:3` deny (it removes only an exception with the
 * same numbers), where this program denies c 1:3, as the later rule says. */
#define _GNU_SOURCE
#include "devicefilter.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"

/* A match test jumps past the rule's block: its offset is patched once the block's end
 * is known. */
#define PATCH_ME 0

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
    struct bpf_insn i;
    memset(&i, 0, sizeof i);
    i.code = code;
    i.dst_reg = dst & 0xf;
    i.src_reg = src & 0xf;
    i.off = off;
    i.imm = imm;
    return i;
}

static int rule_error(struct pyctr_err *err, size_t index, const char *why)
{
    char what[64];
    snprintf(what, sizeof what, "device rule %zu", index + 1);
    return pyctr_set_err(err, PYCTR_STAGE_DEVICE, EINVAL, what, why);
}

/* "rwm" -> BPF_DEVCG_ACC_* bits; 0 when it is not made of r, w and m (at most three). */
static uint32_t access_bits(const char *access)
{
    uint32_t bits = 0;
    if (!access || !*access || strlen(access) > 3)
        return 0;
    for (const char *p = access; *p; p++) {
        switch (*p) {
        case 'r': bits |= BPF_DEVCG_ACC_READ; break;
        case 'w': bits |= BPF_DEVCG_ACC_WRITE; break;
        case 'm': bits |= BPF_DEVCG_ACC_MKNOD; break;
        default: return 0;
        }
    }
    return bits;
}

static int check_rule(const struct pyctr_dev_rule *r, size_t index, struct pyctr_err *err)
{
    const uint32_t all = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
    if (r->type != 'a' && r->type != 'b' && r->type != 'c')
        return rule_error(err, index, "type must be a, b or c");
    if (!access_bits(r->access))
        return rule_error(err, index, "access must be made of r, w and m");
    /* the ctx's numbers are u32; the program compares them with signed 32-bit immediates */
    if (r->major < -1 || r->major > INT32_MAX || r->minor < -1 || r->minor > INT32_MAX)
        return rule_error(err, index, "major and minor must be -1 (any) or 0 to 2147483647");
    /* v1 reads any 'a' rule as all of every device, whatever else it says: refuse a rule
     * that says something else rather than read it more broadly than it was written */
    if (r->type == 'a' && (r->major != -1 || r->minor != -1 || access_bits(r->access) != all))
        return rule_error(err, index, "a rule for all devices (a) must not name a major, a minor or less than rwm");
    return 0;
}

/* dst = (src ^ value), or dst |= (src ^ value): zero while the device's number is the rule's */
static size_t differs(struct bpf_insn *out, int first, uint8_t src, int32_t value)
{
    uint8_t dst = first ? BPF_REG_1 : BPF_REG_0;
    out[0] = insn(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0);
    out[1] = insn(BPF_ALU | BPF_XOR | BPF_K, dst, 0, 0, value);
    if (first)
        return 2;
    out[2] = insn(BPF_ALU | BPF_OR | BPF_X, BPF_REG_1, BPF_REG_0, 0, 0);
    return 3;
}

/* One rule's block at out[0..]; returns its length (at most 14).  The match is one test
 * of the XORed numbers, not a jump per number: a jump would teach the verifier each number
 * on the path that falls through, and paths that know different things are verified
 * apart (three times the work for docker's rules). */
static size_t rule_block(const struct pyctr_dev_rule *r, struct bpf_insn *out)
{
    size_t n = 0;
    uint32_t bits = access_bits(r->access);
    n += differs(out + n, 1, BPF_REG_2, r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR);
    if (r->major >= 0)
        n += differs(out + n, 0, BPF_REG_4, (int32_t)r->major);
    if (r->minor >= 0)
        n += differs(out + n, 0, BPF_REG_5, (int32_t)r->minor);
    out[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_1, 0, PATCH_ME, 0);
    if (r->allow) {
        out[n++] = insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_3, 0, 0, (int32_t)(~bits & 0xffff));
        out[n++] = insn(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_3, 0, PATCH_ME, 0);
    } else {
        out[n++] = insn(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_3, 0, 0);
        out[n++] = insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_1, 0, 0, (int32_t)bits);
        out[n++] = insn(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_1, 0, PATCH_ME, 0);
    }
    out[n++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, r->allow ? 1 : 0);
    out[n++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    for (size_t i = 0; i < n; i++) { /* every test in the block skips to the next one */
        uint8_t op = out[i].code;
        if (BPF_CLASS(op) == BPF_JMP && BPF_OP(op) != BPF_EXIT)
            out[i].off = (int16_t)(n - i - 1);
    }
    return n;
}

int pyctr_devfilter_build(const struct pyctr_dev_rule *rules, size_t n, struct bpf_insn *out, size_t max,
                          struct pyctr_err *err)
{
    size_t first = 0; /* the rules that count: from the last 'a' rule on */
    int default_allow = 1;
    for (size_t i = 0; i < n; i++) {
        if (check_rule(&rules[i], i, err) < 0)
            return -1;
        if (rules[i].type == 'a') {
            first = i + 1;
            default_allow = rules[i].allow != 0;
        }
    }
    if (max < PYCTR_DEVFILTER_MAX_INSNS(n - first))
        return pyctr_set_err(err, PYCTR_STAGE_DEVICE, ENOSPC, "device filter", "no room for the program");
    size_t len = 0;
    out[len++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type), 0);
    out[len++] = insn(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0);
    out[len++] = insn(BPF_ALU | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);
    out[len++] = insn(BPF_ALU | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);
    out[len++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_4, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, major), 0);
    out[len++] = insn(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_5, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, minor), 0);
    for (size_t i = n; i > first; i--)
        len += rule_block(&rules[i - 1], out + len);
    out[len++] = insn(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, default_allow);
    out[len++] = insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    return (int)len;
}

static int bpf(int cmd, union bpf_attr *attr)
{
    return (int)syscall(SYS_bpf, cmd, attr, sizeof *attr);
}

static int load(const struct bpf_insn *insns, size_t n, char *log, size_t log_size)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.insn_cnt = (uint32_t)n;
    /* no helper is called, so no GPL-only one: the project's own licence will do */
    attr.license = (uint64_t)(uintptr_t)"Apache-2.0";
    if (log) {
        attr.log_buf = (uint64_t)(uintptr_t)log;
        attr.log_size = (uint32_t)log_size;
        attr.log_level = 1;
    }
    return bpf(BPF_PROG_LOAD, &attr);
}

/* The verifier's last line, for the message: where it stopped and why. */
static const char *last_line(char *log)
{
    size_t len = strlen(log);
    while (len && log[len - 1] == '\n')
        log[--len] = '\0';
    char *nl = strrchr(log, '\n');
    return nl ? nl + 1 : log;
}

static int load_program(const struct bpf_insn *insns, size_t n, struct pyctr_err *err)
{
    int fd = load(insns, n, NULL, 0);
    if (fd >= 0)
        return fd;
    int saved = errno;
    if (saved == EINVAL || saved == EACCES) { /* the verifier said no: ask again for its reason */
        char log[8192] = "";
        fd = load(insns, n, log, sizeof log);
        if (fd >= 0)
            return fd; /* it passed this time: take it */
        if (log[0])
            return pyctr_set_err(err, PYCTR_STAGE_DEVICE, saved, "load device filter", last_line(log));
    }
    return pyctr_set_err(err, PYCTR_STAGE_DEVICE, saved, "load device filter", strerror(saved));
}

int pyctr_devfilter_query(int cgroup_fd, uint32_t *ids, size_t max, struct pyctr_err *err)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.query.target_fd = (uint32_t)cgroup_fd;
    attr.query.attach_type = BPF_CGROUP_DEVICE;
    attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
    attr.query.prog_cnt = (uint32_t)max;
    if (bpf(BPF_PROG_QUERY, &attr) < 0 && errno != ENOSPC) /* ENOSPC: more than max, count set */
        return pyctr_set_err(err, PYCTR_STAGE_DEVICE, errno, "query device filters", strerror(errno));
    return (int)attr.query.prog_cnt;
}

static int detach(int cgroup_fd, uint32_t id, struct pyctr_err *err)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.prog_id = id;
    _cleanup_close_ int prog = bpf(BPF_PROG_GET_FD_BY_ID, &attr);
    if (prog < 0)
        return errno == ENOENT ? 0 : pyctr_set_err(err, PYCTR_STAGE_DEVICE, errno, "open old device filter", strerror(errno));
    memset(&attr, 0, sizeof attr);
    attr.target_fd = (uint32_t)cgroup_fd;
    attr.attach_bpf_fd = (uint32_t)prog;
    attr.attach_type = BPF_CGROUP_DEVICE;
    if (bpf(BPF_PROG_DETACH, &attr) < 0 && errno != ENOENT) /* ENOENT: someone else detached it */
        return pyctr_set_err(err, PYCTR_STAGE_DEVICE, errno, "detach old device filter", strerror(errno));
    return 0;
}

int pyctr_devfilter_install(int cgroup_fd, const struct bpf_insn *insns, size_t n, struct pyctr_err *err)
{
    uint32_t old[64]; /* BPF_CGROUP_MAX_PROGS */
    int n_old = pyctr_devfilter_query(cgroup_fd, old, 64, err);
    if (n_old < 0)
        return -1;
    if (n_old > 64)
        return pyctr_set_err(err, PYCTR_STAGE_DEVICE, E2BIG, "device filter", "too many programs attached");
    _cleanup_close_ int prog = load_program(insns, n, err);
    if (prog < 0)
        return -1;
    union bpf_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.target_fd = (uint32_t)cgroup_fd;
    attr.attach_bpf_fd = (uint32_t)prog;
    attr.attach_type = BPF_CGROUP_DEVICE;
    /* MULTI, as runc and systemd attach: a cgroup above ours may hold programs of its own,
     * and every one of them must allow an access */
    attr.attach_flags = BPF_F_ALLOW_MULTI;
    if (bpf(BPF_PROG_ATTACH, &attr) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_DEVICE, errno, "attach device filter", strerror(errno));
    /* the new one first, the old ones after: never a moment without a filter */
    for (int i = 0; i < n_old; i++) {
        if (detach(cgroup_fd, old[i], err) < 0)
            return -1;
    }
    return 0;
}
