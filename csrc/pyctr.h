/* pyctr's C core: the part of starting a container that runs between clone and execve.
 *
 * Python resolves everything (paths, flags, argv, env, capabilities) into a `pyctr_plan`;
 * C clones, and the child runs only this code until execve.  Every fallible function
 * takes a `struct pyctr_err *` and returns < 0 with it filled in (crun's convention). */
#ifndef PYCTR_H
#define PYCTR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Where in the child path a failure happened.  The one list of stages: it makes the enum
 * and the names (pyctr_stage_name) that Python reports, so the two cannot drift apart. */
#define PYCTR_STAGES(X)                                                                    \
    X(NONE, "none") X(CLONE, "clone") X(SYNC, "sync") X(PROPAGATION, "propagation")          \
    X(ROOTFS, "rootfs") X(MOUNT, "mount") X(DEVICE, "device") X(SYMLINK, "symlink")          \
    X(MASK, "mask") X(READONLY, "readonly") X(PIVOT, "pivot") X(HOSTNAME, "hostname")        \
    X(NETWORK, "network") X(STDIO, "stdio") X(TTY, "tty") X(CWD, "cwd") X(RLIMIT, "rlimit")  \
    X(USER, "user") X(CAPS, "caps") X(NO_NEW_PRIVS, "no_new_privs") X(SECCOMP, "seccomp")    \
    X(EXEC, "exec") X(SIGNALS, "signals") X(NAMESPACE, "namespace") X(HOOK, "hook")          \
    X(SYSCTL, "sysctl") X(PERSONALITY, "personality") X(START, "start")

#define PYCTR_STAGE_ENUM(id, name) PYCTR_STAGE_##id,
enum pyctr_stage { PYCTR_STAGES(PYCTR_STAGE_ENUM) PYCTR_STAGE_COUNT };
#undef PYCTR_STAGE_ENUM

/* "mount" for PYCTR_STAGE_MOUNT; NULL outside the list. */
const char *pyctr_stage_name(int stage);

#define PYCTR_ERR_MSG 240

struct pyctr_err {
    int32_t stage;
    int32_t errnum;
    char message[PYCTR_ERR_MSG];
};

/* One mount inside the container.  `target` is relative to the rootfs and is resolved
 * inside it (symlinks cannot point it out of the rootfs).  `flags` are MS_* flags;
 * when MS_BIND is set the remaining flags are applied by a bind remount. */
struct pyctr_mount {
    const char *source;
    const char *target;
    const char *fstype;
    const char *data;
    unsigned long flags;
    unsigned long propagation; /* MS_SHARED/MS_SLAVE/MS_PRIVATE (|MS_REC), or 0 */
    /* A bind whose source the engine resolved (no links left on it): a symbolic link
     * found on it now was swapped in since, and the mount is refused. */
    int source_no_symlinks;
};

struct pyctr_device {
    const char *path; /* relative to the rootfs, e.g. "dev/null" */
    mode_t mode;      /* S_IFCHR|0666 ... */
    unsigned int major, minor;
    uid_t uid;
    gid_t gid;
};

struct pyctr_symlink {
    const char *target;   /* what the link points to, e.g. "/proc/self/fd" */
    const char *linkpath; /* relative to the rootfs, e.g. "dev/fd" */
};

struct pyctr_rlimit {
    int resource;
    uint64_t soft, hard;
};

struct pyctr_caps {
    uint64_t bounding, effective, permitted, inheritable, ambient;
};

/* A namespace joined by path (OCI linux.namespaces[].path): an fd the parent opened and
 * checked, and its type (CLONE_NEWNET, CLONE_NEWIPC or CLONE_NEWUTS). */
struct pyctr_setns {
    int fd;
    int nstype;
};

/* An OCI hook the child runs itself (createContainer, startContainer: inside the
 * container's namespaces), with the container's state on its stdin. */
struct pyctr_hook {
    const char *path;
    const char *const *argv; /* NULL-terminated */
    const char *const *envp; /* NULL-terminated */
    int timeout;             /* seconds; 0: none */
};

/* One linux.sysctl entry: `key` as the config has it ("net.ipv4.ip_forward"). */
struct pyctr_sysctl {
    const char *key;
    const char *value;
};

struct pyctr_plan {
    unsigned long clone_flags; /* CLONE_NEW*; not those of `setns` */
    /* Namespaces the child unshares after the parent's go-ahead.  The cgroup namespace
     * goes here: its root is the cgroup the process is in when it is made, and the child
     * is only placed in its own cgroup after clone (on v1). */
    unsigned long unshare_flags;
    /* A cgroup v2 directory fd to clone straight into (CLONE_INTO_CGROUP), or -1. */
    int cgroup_fd;
    /* exec: a pidfd of a container's process whose namespaces (join_flags, CLONE_NEW*)
     * the new process joins instead of making its own; -1 for a new container. */
    int join_pidfd;
    unsigned long join_flags;
    /* A new container's namespaces joined by path: the child setns()es into them first
     * thing after the go-ahead. */
    const struct pyctr_setns *setns;
    size_t n_setns;
    /* A user namespace (CLONE_NEWUSER): the maps the parent writes before the go-ahead, as
     * /proc/PID/uid_map takes them ("0 100000 65536\n"); NULL without one.  The host
     * directories the rootfs is reached through, idmapped, are named "{i}" in rootfs and
     * rootfs_data (userns.h says why and how). */
    const char *uid_map;
    const char *gid_map;
    const char *const *idmapped;
    size_t n_idmapped;

    /* rootfs: `rootfs` is a host directory.  With `rootfs_fstype` set (overlay), that
     * filesystem is mounted on it inside the container's mount namespace only, so the host
     * never sees it and it vanishes with the container.  Otherwise it is bind-mounted. */
    const char *rootfs;
    const char *rootfs_fstype;
    const char *rootfs_source;
    const char *rootfs_data;
    int rootfs_readonly;
    unsigned long root_propagation; /* applied to "/" first; MS_PRIVATE|MS_REC by default */

    const struct pyctr_mount *mounts;
    size_t n_mounts;
    const struct pyctr_device *devices;
    size_t n_devices;
    const struct pyctr_symlink *symlinks;
    size_t n_symlinks;
    const char *const *masked_paths; /* relative to the rootfs */
    size_t n_masked;
    const char *const *readonly_paths;
    size_t n_readonly;

    const char *hostname;   /* NULL: keep */
    const char *domainname; /* NULL: keep */
    const struct pyctr_sysctl *sysctls; /* written under the container's /proc/sys */
    size_t n_sysctls;
    int no_pivot; /* chroot after moving the rootfs onto /, for a rootfs pivot_root refuses */
    int loopback_up;      /* bring up "lo" in a new network namespace */

    const char *const *argv; /* NULL-terminated */
    const char *const *envp; /* NULL-terminated */
    const char *cwd;         /* absolute, inside the container */

    /* stdio: parent fds that become 0, 1, 2 in the child (ignored with `tty`); -1: the
     * container's own /dev/null. */
    int stdio[3];
    /* tty: the child opens a pty in the container's own devpts, makes it its controlling
     * terminal and sends the master to the parent over the sync socket. */
    int tty;
    unsigned short tty_rows, tty_cols;

    const struct pyctr_rlimit *rlimits;
    size_t n_rlimits;
    /* process.oomScoreAdj, written to /proc/self/oom_score_adj while still privileged
     * (lowering it takes CAP_SYS_RESOURCE); without set_oom_score_adj, pyctr's is kept */
    int set_oom_score_adj;
    int oom_score_adj;

    uid_t uid;
    gid_t gid;
    const gid_t *groups;
    size_t n_groups;

    int apply_caps;
    struct pyctr_caps caps;
    int cap_last_cap;

    int no_new_privs;
    int new_keyring; /* join a new session keyring (runc's default; --no-new-keyring: 0) */
    const void *seccomp_filter; /* struct sock_filter[], NULL: none */
    size_t seccomp_len;         /* number of instructions */
    int set_personality;
    unsigned long personality; /* linux.personality.domain: PER_LINUX, PER_LINUX32 */

    /* The OCI runtime CLI's create/start split and hooks (runtime/oci/).
     * start_fd: -1 to exec at once; else the read end of a fifo (O_NONBLOCK) that the
     * set-up child waits on: it sends CREATED, then execs once `start` writes a byte into
     * the fifo (a command it cannot run is then told on its stderr, exit 127).  hooks_sync: before pivot_root, the child sends HOOKS
     * and waits for GO while the parent runs the prestart and createRuntime hooks.  The
     * hooks' state is hook_state_head, the container's host pid, hook_state_tail. */
    int start_fd;
    int hooks_sync;
    int preserve_fds; /* --preserve-fds: the caller's fds 3 .. 3+n-1 stay the container's */
    const struct pyctr_hook *create_hooks; /* createContainer: before pivot_root */
    size_t n_create_hooks;
    const struct pyctr_hook *start_hooks; /* startContainer: just before execve */
    size_t n_start_hooks;
    const char *hook_state_head;
    const char *hook_state_tail;
};

/* The name (comm) a new container's first process has from clone until its execve, which
 * replaces it with the program's file name: a name with a '/' in it, which no file name
 * has.  So whoever reads /proc/PID/stat can tell a created container from a running one. */
#define PYCTR_CREATED_NAME "pyctr/created"

/* A cloned child that waits for `pyctr_release`. */
struct pyctr_child {
    pid_t pid;
    int sync_fd;   /* parent's end of the socketpair */
    int in_cgroup; /* clone3 placed it in plan->cgroup_fd; else the caller must */
    /* pyctr_release's progress, so that it can be called again after EINTR */
    int go_sent;
    int exec_seen;
    int master;
    int send_pid;     /* the child's hooks need its host pid: sent before GO */
    int hooks_paused; /* the child waits at its HOOKS point for another GO */
};

/* Parent side. */
int pyctr_spawn(const struct pyctr_plan *plan, struct pyctr_child *child, struct pyctr_err *err);
/* Lets the child go on and waits until it has exec'd, or is created and waits for `start`
 * (plan->start_fd), (returns 0) or failed (returns < 0, child reaped, `err` holds its
 * record).  Returns 1 when a signal interrupted the wait: run the handlers and call
 * again; 2 when the child waits at its HOOKS point: run the hooks and call again.  With a
 * tty, *master receives the pty master. */
int pyctr_release(struct pyctr_child *child, int *master, struct pyctr_err *err);
/* Kills and reaps a child that was never released. */
void pyctr_abort(struct pyctr_child *child);

/* Relay state that survives a return to the caller: input read but not yet written. */
struct pyctr_relay {
    char buf[4096];
    size_t len, off;
    int in_open;
};

/* Copies host input -> pty master and master -> host output until the master reports
 * the far end closed (returns 0), or `wake_fd` becomes readable or a signal interrupts
 * (returns 1: the caller handles it and calls again).  `in_fd` < 0 means no input. */
int pyctr_relay(struct pyctr_relay *r, int master, int in_fd, int out_fd, int wake_fd, struct pyctr_err *err);

/* Child side (exposed for tests). */
void pyctr_child_main(const struct pyctr_plan *plan, int sync_fd) __attribute__((noreturn));
/* exec: joins plan->join_pidfd's namespaces, then clones the process (CLONE_PARENT, so
 * the caller's parent waits for it), reports its pid and exits. */
void pyctr_join_main(const struct pyctr_plan *plan, int sync_fd) __attribute__((noreturn));

/* hooks.c, in the child: the HOOKS pause and the createContainer hooks (called by
 * pyctr_setup_rootfs before pivot_root), the startContainer hooks; the host pid the
 * parent sent for their state. */
int pyctr_hooks_before_pivot(const struct pyctr_plan *plan, int sync_fd, struct pyctr_err *err);
int pyctr_run_hooks(const struct pyctr_plan *plan, const struct pyctr_hook *hooks, size_t n, struct pyctr_err *err);
void pyctr_hooks_set_pid(pid_t pid);
/* Waits in the child for the GO (PID messages before it are kept for the hooks); _exits
 * when the parent is gone. */
void pyctr_wait_for_go(int sync_fd);

/* Helpers. */
int pyctr_set_err(struct pyctr_err *err, int stage, int errnum, const char *what, const char *detail);

/* tree.c: rm -rf without following links or crossing mounts; 0, or -1 and errno. */
int pyctr_remove_tree(const char *path);

/* warm.c: cgroup v1's attach grace period, waited for ahead of time (see there). */
int pyctr_warm_attach_start(const char *own_procs);
void pyctr_warm_attach_stop(void);
int pyctr_warm_attach_running(void);
/* Iterates over the candidates for `file` in a PATH string: writes the next one to `out`
 * and advances *cursor.  Returns 1 while there is a candidate, 0 at the end. */
int pyctr_next_exec_candidate(const char **cursor, const char *file, char *out, size_t outlen);
const char *pyctr_env_lookup(const char *const *envp, const char *name);

#endif
