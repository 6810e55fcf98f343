/* The device filter's program, run on a small interpreter of the few instructions it is
 * made of (no kernel, no root), against docker's rules, against cases of the rules'
 * meaning, and against a plain model of that meaning on random rule sets. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>

#include "../devicefilter.h"
#include "check.h"

#define M BPF_DEVCG_ACC_MKNOD
#define R BPF_DEVCG_ACC_READ
#define W BPF_DEVCG_ACC_WRITE
#define MAX_PROG 512

/* Runs `prog` on one request: 1 allow, 0 deny, -1 the program is not what the kernel's
 * verifier would take (an unknown instruction, a register read before it is set, a jump
 * out of it or backwards, no exit). */
static int run(const struct bpf_insn *prog, int len, char type, uint32_t major, uint32_t minor, uint32_t access)
{
    struct bpf_cgroup_dev_ctx ctx = {(access << 16) | (type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR),
                                     major, minor};
    uint64_t reg[11] = {0};
    int set[11] = {0};
    set[1] = 1; /* r1: the context */
    for (int pc = 0; pc >= 0 && pc < len; pc++) {
        const struct bpf_insn *i = &prog[pc];
        int d = i->dst_reg, s = i->src_reg;
        if (d > 10 || s > 10)
            return -1;
        switch (i->code) {
        case BPF_LDX | BPF_MEM | BPF_W:
            if (s != 1 || i->off < 0 || (size_t)i->off + 4 > sizeof ctx || i->off % 4)
                return -1;
            memcpy(&reg[d], (char *)&ctx + i->off, 4);
            reg[d] &= 0xffffffff;
            set[d] = 1;
            break;
        case BPF_ALU | BPF_MOV | BPF_X:
            if (!set[s])
                return -1;
            reg[d] = (uint32_t)reg[s];
            set[d] = 1;
            break;
        case BPF_ALU | BPF_AND | BPF_K:
        case BPF_ALU | BPF_XOR | BPF_K:
        case BPF_ALU | BPF_RSH | BPF_K: {
            uint32_t v = (uint32_t)reg[d], k = (uint32_t)i->imm;
            if (!set[d])
                return -1;
            reg[d] = BPF_OP(i->code) == BPF_AND ? v & k : BPF_OP(i->code) == BPF_XOR ? v ^ k : v >> k;
            break;
        }
        case BPF_ALU | BPF_OR | BPF_X:
            if (!set[d] || !set[s])
                return -1;
            reg[d] = (uint32_t)reg[d] | (uint32_t)reg[s];
            break;
        case BPF_ALU64 | BPF_MOV | BPF_K:
            reg[d] = (uint64_t)(int64_t)i->imm;
            set[d] = 1;
            break;
        case BPF_JMP | BPF_JNE | BPF_K:
        case BPF_JMP | BPF_JEQ | BPF_K:
            if (!set[d] || i->off < 0 || pc + 1 + i->off > len)
                return -1;
            if ((reg[d] == (uint64_t)(int64_t)i->imm) == (BPF_OP(i->code) == BPF_JEQ))
                pc += i->off;
            break;
        case BPF_JMP | BPF_EXIT:
            return set[0] && reg[0] <= 1 ? (int)reg[0] : -1;
        default:
            return -1;
        }
    }
    return -1;
}

static int build(const struct pyctr_dev_rule *rules, size_t n, struct bpf_insn *prog)
{
    struct pyctr_err err;
    int len = pyctr_devfilter_build(rules, n, prog, MAX_PROG, &err);
    CHECK(len > 0);
    CHECK(len <= (int)PYCTR_DEVFILTER_MAX_INSNS(n));
    return len;
}

#define ANY (-1)
#define RULE(allow, type, major, minor, access) {allow, type, major, minor, access}

/* pyctr/engine/spec.py's DEFAULT_DEVICE_RULES (docker's) */
static const struct pyctr_dev_rule docker[] = {
    RULE(0, 'a', ANY, ANY, "rwm"), RULE(1, 'c', ANY, ANY, "m"), RULE(1, 'b', ANY, ANY, "m"),
    RULE(1, 'c', 1, 3, "rwm"), RULE(1, 'c', 1, 5, "rwm"), RULE(1, 'c', 1, 7, "rwm"),
    RULE(1, 'c', 1, 8, "rwm"), RULE(1, 'c', 1, 9, "rwm"), RULE(1, 'c', 5, 0, "rwm"),
    RULE(1, 'c', 5, 1, "rwm"), RULE(1, 'c', 5, 2, "rwm"), RULE(1, 'c', 136, ANY, "rwm"),
};

struct request {
    char type;
    uint32_t major, minor, access;
    int allowed;
};

/* The program for `rules` answers each request as it says; returns the program's length. */
static int expect(const struct pyctr_dev_rule *rules, size_t n, const struct request *requests, size_t n_requests)
{
    struct bpf_insn p[MAX_PROG];
    int len = build(rules, n, p);
    for (size_t i = 0; i < n_requests; i++) {
        const struct request *q = &requests[i];
        int got = run(p, len, q->type, q->major, q->minor, q->access);
        CHECK(got == q->allowed);
        if (got != q->allowed)
            fprintf(stderr, "  request %zu: %c %u:%u access %u\n", i, q->type, q->major, q->minor, q->access);
    }
    return len;
}

#define EXPECT(rules, ...)                                                                           \
    expect(rules, sizeof rules / sizeof *rules, (const struct request[]){__VA_ARGS__},               \
           sizeof((const struct request[]){__VA_ARGS__}) / sizeof(struct request))

static void test_docker_rules(void)
{
    EXPECT(docker,
           {'c', 1, 3, R | W, 1},   /* /dev/null */
           {'c', 1, 5, R, 1},       /* /dev/zero */
           {'c', 5, 2, R | W, 1},   /* /dev/ptmx */
           {'c', 136, 7, R | W, 1}, /* a pty */
           {'c', 1, 1, M, 1},       /* mknod of anything */
           {'b', 8, 0, M, 1},
           {'c', 1, 1, R, 0},       /* /dev/mem */
           {'b', 8, 0, R, 0},       /* a disk */
           {'b', 8, 0, W, 0},
           {'b', 1, 3, R, 0},       /* a block device is not /dev/null */
           {'c', 4, 1, R | W, 0},   /* tty1 */
           {'c', 10, 200, R, 0});   /* /dev/net/tun */
}

static void test_later_rules_override_earlier_ones_bit_by_bit(void)
{
    const struct pyctr_dev_rule deny_w[] = {RULE(1, 'a', ANY, ANY, "rwm"), RULE(0, 'c', 1, 3, "w")};
    EXPECT(deny_w, {'c', 1, 3, R, 1}, {'c', 1, 3, W, 0},
           {'c', 1, 3, R | W, 0}, /* one bit denied denies the access */
           {'c', 1, 4, W, 1});
    const struct pyctr_dev_rule merged[] = {RULE(0, 'a', ANY, ANY, "rwm"), RULE(1, 'c', 1, 3, "r"),
                                            RULE(1, 'c', 1, 3, "w")};
    EXPECT(merged, {'c', 1, 3, R | W, 1}, /* two rules grant one bit each: v1 merges them */
           {'c', 1, 3, M, 0});
    const struct pyctr_dev_rule again[] = {RULE(0, 'a', ANY, ANY, "rwm"), RULE(1, 'c', ANY, ANY, "rwm"),
                                           RULE(0, 'c', 1, 1, "rw"), RULE(1, 'c', 1, 1, "r")};
    EXPECT(again, {'c', 1, 1, R, 1}, /* allowed, denied, allowed again */
           {'c', 1, 1, W, 0}, {'c', 1, 1, M, 1}, {'c', 2, 1, W, 1});
}

static void test_an_all_rule_resets_what_came_before(void)
{
    const struct pyctr_dev_rule closed[] = {RULE(1, 'c', 1, 3, "rwm"), RULE(0, 'a', ANY, ANY, "rwm")};
    EXPECT(closed, {'c', 1, 3, R, 0});
    const struct pyctr_dev_rule open_all[] = {RULE(0, 'a', ANY, ANY, "rwm"), RULE(0, 'c', 1, 3, "rwm"),
                                              RULE(1, 'a', ANY, ANY, "rwm")};
    int len = EXPECT(open_all, {'c', 1, 3, R, 1}, {'b', 8, 0, R | W | M, 1});
    CHECK(len == PYCTR_DEVFILTER_FIXED_INSNS); /* nothing before the last 'a' rule is kept */
}

static void test_without_an_all_rule_the_rest_stays_allowed(void)
{
    const struct pyctr_dev_rule some[] = {RULE(0, 'c', 1, 1, "rwm"), RULE(0, 'b', ANY, ANY, "rw")};
    EXPECT(some, {'c', 1, 1, R, 0}, {'b', 8, 0, R, 0}, {'b', 8, 0, M, 1}, {'c', 1, 3, R | W, 1});
    CHECK(expect(NULL, 0, (const struct request[]){{'b', 8, 0, R, 1}}, 1) == PYCTR_DEVFILTER_FIXED_INSNS);
}

static void test_large_numbers_are_compared_whole(void)
{
    const struct pyctr_dev_rule big[] = {RULE(0, 'a', ANY, ANY, "rwm"), RULE(1, 'c', 4095, 1048575, "r")};
    EXPECT(big, {'c', 4095, 1048575, R, 1}, {'c', 4095, 1048574, R, 0}, {'c', 4094, 1048575, R, 0});
}

static void expect_invalid(struct pyctr_dev_rule rule, const char *says)
{
    struct bpf_insn p[MAX_PROG];
    struct pyctr_err err;
    const struct pyctr_dev_rule rules[] = {RULE(0, 'a', ANY, ANY, "rwm"), rule};
    memset(&err, 0, sizeof err);
    CHECK(pyctr_devfilter_build(rules, 2, p, MAX_PROG, &err) == -1);
    CHECK(err.errnum == EINVAL && err.stage == PYCTR_STAGE_DEVICE);
    CHECK(strncmp(err.message, "device rule 2: ", 15) == 0);
    CHECK(strstr(err.message, says) != NULL);
    if (!strstr(err.message, says))
        fprintf(stderr, "  message: %s\n", err.message);
}

static void test_bad_rules_are_refused(void)
{
    expect_invalid((struct pyctr_dev_rule)RULE(1, 'x', 1, 3, "rwm"), "type");
    expect_invalid((struct pyctr_dev_rule)RULE(1, 'c', 1, 3, "rwx"), "access");
    expect_invalid((struct pyctr_dev_rule)RULE(1, 'c', 1, 3, ""), "access");
    expect_invalid((struct pyctr_dev_rule)RULE(1, 'c', 1, 3, NULL), "access");
    expect_invalid((struct pyctr_dev_rule)RULE(1, 'c', 1, 3, "rwmr"), "access");
    expect_invalid((struct pyctr_dev_rule)RULE(1, 'c', -2, 3, "r"), "major");
    expect_invalid((struct pyctr_dev_rule)RULE(1, 'c', 1, (int64_t)1 << 31, "r"), "major");
    expect_invalid((struct pyctr_dev_rule)RULE(1, 'a', 1, ANY, "rwm"), "all devices");
    expect_invalid((struct pyctr_dev_rule)RULE(0, 'a', ANY, ANY, "m"), "all devices");
}

static void test_no_room_is_an_error(void)
{
    struct bpf_insn p[4];
    struct pyctr_err err;
    CHECK(pyctr_devfilter_build(docker, 3, p, 4, &err) == -1 && err.errnum == ENOSPC);
}

/* The meaning, written plainly: each bit is decided by the last rule that matches the
 * device and names the bit; a bit no rule names is allowed. */
static int model(const struct pyctr_dev_rule *rules, size_t n, char type, int64_t major, int64_t minor,
                 uint32_t access)
{
    for (uint32_t bit = 1; bit <= 4; bit <<= 1) {
        if (!(access & bit))
            continue;
        for (size_t i = n; i-- > 0;) {
            const struct pyctr_dev_rule *r = &rules[i];
            int names = (strchr(r->access, 'm') && bit == M) || (strchr(r->access, 'r') && bit == R) ||
                        (strchr(r->access, 'w') && bit == W);
            if ((r->type == 'a' || r->type == type) && (r->major == ANY || r->major == major) &&
                (r->minor == ANY || r->minor == minor) && names) {
                if (!r->allow)
                    return 0;
                break;
            }
        }
    }
    return 1;
}

static void test_random_rule_sets_agree_with_the_model(void)
{
    static const char *const accesses[] = {"m", "r", "w", "rw", "rm", "wm", "rwm"};
    static const char types[] = "abcc";
    static const int64_t numbers[] = {ANY, 1, 2};
    unsigned seed = 12345;
    int disagreements = 0;
    for (int round = 0; round < 3000; round++) {
        struct pyctr_dev_rule rules[7];
        size_t n = (size_t)(rand_r(&seed) % 8);
        for (size_t i = 0; i < n; i++) {
            char type = types[rand_r(&seed) % 4];
            rules[i] = (struct pyctr_dev_rule)RULE(rand_r(&seed) % 2, type, ANY, ANY, "rwm");
            if (type != 'a') {
                rules[i].major = numbers[rand_r(&seed) % 3];
                rules[i].minor = numbers[rand_r(&seed) % 3];
                rules[i].access = accesses[rand_r(&seed) % 7];
            }
        }
        struct bpf_insn p[MAX_PROG];
        int len = build(rules, n, p);
        for (int t = 0; t < 2; t++)
            for (uint32_t major = 1; major <= 3; major++)
                for (uint32_t minor = 1; minor <= 3; minor++)
                    for (uint32_t access = 1; access <= 7; access++) {
                        char type = t ? 'b' : 'c';
                        if (run(p, len, type, major, minor, access) != model(rules, n, type, major, minor, access))
                            disagreements++;
                    }
    }
    CHECK(disagreements == 0);
}

int main(void)
{
    test_docker_rules();
    test_later_rules_override_earlier_ones_bit_by_bit();
    test_an_all_rule_resets_what_came_before();
    test_without_an_all_rule_the_rest_stays_allowed();
    test_large_numbers_are_compared_whole();
    test_bad_rules_are_refused();
    test_no_room_is_an_error();
    test_random_rule_sets_agree_with_the_model();
    return check_failures != 0;
}
