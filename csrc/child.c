/* The child, from clone to execve, in crun's order (see shared/DESIGN-NOTES.md).
 *
 * This runs in a raw clone of a (possibly multi-threaded) Python process: glibc does not
 * know it forked, so nothing here may allocate, take a lock or use a glibc wrapper that
 * talks to other threads (set*id, which glibc broadcasts to every thread it knows of).
 * Those calls go through syscall(2) directly. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <linux/filter.h>
#include <linux/keyctl.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <time.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "cleanup.h"
#include "pyctr.h"
#include "rootfs.h"
#include "sync.h"
#include "userns.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Python ignores SIGPIPE and installs handlers; ignored signals survive execve, so the
 * container would inherit them.  Start from a clean slate. */
static int reset_signals(struct pyctr_err *err)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        sigaction(sig, &dfl, NULL); /* EINVAL for glibc's internal signals: fine */
    }
    sigset_t none;
    sigemptyset(&none);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_SIGNALS, errno, "unblock signals", NULL);
    return 0;
}

static const char *nstype_name(int nstype)
{
    switch (nstype) {
    case CLONE_NEWNET:
        return "network";
    case CLONE_NEWIPC:
        return "ipc";
    case CLONE_NEWUTS:
        return "uts";
    case CLONE_NEWNS:
        return "mount";
    case CLONE_NEWCGROUP:
        return "cgroup";
    }
    return "other";
}

/* OCI's namespaces with a path: the fds are the parent's (inherited through clone) and
 * close_range drops them with the rest before execve. */
static int join_namespaces(const struct pyctr_plan *plan, struct pyctr_err *err)
{
    for (size_t i = 0; i < plan->n_setns; i++) {
        if (plan->setns[i].nstype == CLONE_NEWPID)
            continue; /* the parent joined it for the clone: we are born in it */
        if (setns(plan->setns[i].fd, plan->setns[i].nstype) < 0)
            return pyctr_set_err(err, PYCTR_STAGE_NAMESPACE, errno, "join the namespace",
                                 nstype_name(plan->setns[i].nstype));
    }
    return 0;
}

static int bring_up_loopback(struct pyctr_err *err)
{
    _cleanup_close_ int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return pyctr_set_err(err, PYCTR_STAGE_NETWORK, errno, "socket", NULL);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, "lo", 3);
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_NETWORK, errno, "get flags of lo", NULL);
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_NETWORK, errno, "bring up lo", NULL);
    return 0;
}

/* /dev/console of a new container is its pty. */
static int bind_console(int slave, struct pyctr_err *err)
{
    char slave_path[32];
    pyctr_fd_path(slave_path, slave);
    _cleanup_close_ int console = open("/dev/console", O_CREAT | O_WRONLY | O_NOCTTY | O_CLOEXEC, 0600);
    if (console < 0 && errno != EEXIST)
        return pyctr_set_err(err, PYCTR_STAGE_TTY, errno, "create /dev/console", NULL);
    if (mount(slave_path, "/dev/console", NULL, MS_BIND, NULL) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_TTY, errno, "bind /dev/console", NULL);
    return 0;
}

/* Opens a pty in the container's own devpts, so that ttyname() inside works, makes
 * /dev/console point at it and hands the master to the parent. Returns the slave. */
static int open_tty(const struct pyctr_plan *plan, int sync_fd, struct pyctr_err *err)
{
    _cleanup_close_ int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (master < 0)
        return pyctr_set_err(err, PYCTR_STAGE_TTY, errno, "open /dev/ptmx", NULL);
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_TTY, errno, "unlock pty", NULL);
    int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
    if (slave < 0)
        return pyctr_set_err(err, PYCTR_STAGE_TTY, errno, "open pty peer", NULL);
    if (plan->tty_rows && plan->tty_cols) {
        struct winsize ws = {.ws_row = plan->tty_rows, .ws_col = plan->tty_cols};
        ioctl(slave, TIOCSWINSZ, &ws);
    }
    if (plan->join_pidfd < 0 && bind_console(slave, err) < 0) { /* exec: keep the container's */
        close(slave);
        return -1;
    }
    if (pyctr_msg_send(sync_fd, PYCTR_MSG_PTY, NULL, master) < 0) {
        close(slave);
        return pyctr_set_err(err, PYCTR_STAGE_TTY, errno, "send pty master", NULL);
    }
    return slave;
}

/* The container's own /dev/null (we are in its mount namespace by now), above 2: not the
 * host's, which container root could chmod or chown through /proc/self/fd for everyone. */
static int open_null(void)
{
    int fd = open("/dev/null", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int saved = errno;
    close(fd);
    errno = saved;
    return moved;
}

/* create/start: the fifo the created child waits on for `start` (plan->start_fd, moved
 * above 2 first thing), or -1; once started, failures go to its stderr. */
static int start_fd = -1;
static int fail_on_stderr;

/* Closes every fd from `first` up but `a` and `b` (either may be -1). */
static int close_all_but(unsigned first, int a, int b)
{
    int lo = a < b ? a : b, hi = a < b ? b : a;
    unsigned next = first;
    int keep[2] = {lo, hi};
    for (int i = 0; i < 2; i++) {
        if (keep[i] < (int)next)
            continue;
        if ((unsigned)keep[i] > next && close_range(next, (unsigned)keep[i] - 1, 0) < 0)
            return -1;
        next = (unsigned)keep[i] + 1;
    }
    return close_range(next, ~0U, 0);
}

/* Places the container's std streams on 0, 1, 2 and closes everything else but the
 * sync socket, before the chdir (CVE-2024-21626: a leaked host directory fd as cwd). */
static int setup_stdio(const struct pyctr_plan *plan, int sync_fd, struct pyctr_err *err)
{
    int src[3];
    if (plan->tty) {
        int slave = open_tty(plan, sync_fd, err);
        if (slave < 0)
            return -1;
        src[0] = src[1] = src[2] = slave;
    } else {
        /* Move them above 2 first so a source that is itself 0..2 is not overwritten. */
        for (int i = 0; i < 3; i++) {
            src[i] = plan->stdio[i] >= 0 ? fcntl(plan->stdio[i], F_DUPFD_CLOEXEC, 3) : open_null();
            if (src[i] < 0)
                return pyctr_set_err(err, PYCTR_STAGE_STDIO, errno, "dup stdio", NULL);
        }
    }
    for (int i = 0; i < 3; i++)
        if (dup2(src[i], i) < 0)
            return pyctr_set_err(err, PYCTR_STAGE_STDIO, errno, "dup2 stdio", NULL);
    /* 3 .. 3+preserve_fds-1 are the caller's, for the container (runc's --preserve-fds);
     * ours among them, if the caller gave fewer, are CLOEXEC and go at execve */
    if (close_all_but(3 + (unsigned)plan->preserve_fds, sync_fd, start_fd) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_STDIO, errno, "close_range", NULL);
    return 0;
}

/* A session of its own, with the pty (if any) as its controlling terminal.  Apart from
 * the rest of the std streams' setup: exec does it in the process that runs the command,
 * not in the helper that prepared it. */
static int start_session(const struct pyctr_plan *plan, struct pyctr_err *err)
{
    if (setsid() < 0)
        return pyctr_set_err(err, PYCTR_STAGE_STDIO, errno, "setsid", NULL);
    if (plan->tty && ioctl(0, TIOCSCTTY, 0) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_TTY, errno, "set controlling terminal", NULL);
    return 0;
}

static int enter_cwd(const struct pyctr_plan *plan, struct pyctr_err *err)
{
    const char *cwd = plan->cwd ? plan->cwd : "/";
    if (chdir(cwd) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_CWD, errno, "chdir", cwd);
    char buf[4096];
    /* getcwd answers "(unreachable)/..." or fails for a directory outside our root. */
    if (!getcwd(buf, sizeof buf) || buf[0] != '/')
        return pyctr_set_err(err, PYCTR_STAGE_CWD, EPERM, "working directory is outside the container", cwd);
    return 0;
}

static int set_rlimits(const struct pyctr_plan *plan, struct pyctr_err *err)
{
    for (size_t i = 0; i < plan->n_rlimits; i++) {
        struct rlimit rl = {.rlim_cur = plan->rlimits[i].soft, .rlim_max = plan->rlimits[i].hard};
        if (syscall(SYS_prlimit64, 0, plan->rlimits[i].resource, &rl, NULL) < 0)
            return pyctr_set_err(err, PYCTR_STAGE_RLIMIT, errno, "setrlimit", NULL);
    }
    return 0;
}

static int set_oom_score_adj(const struct pyctr_plan *plan, struct pyctr_err *err)
{
    if (!plan->set_oom_score_adj)
        return 0;
    char text[16];
    int len = snprintf(text, sizeof text, "%d", plan->oom_score_adj);
    int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return pyctr_set_err(err, PYCTR_STAGE_RLIMIT, errno, "open", "/proc/self/oom_score_adj");
    ssize_t n = write(fd, text, (size_t)len);
    int saved = errno;
    close(fd);
    if (n != len)
        return pyctr_set_err(err, PYCTR_STAGE_RLIMIT, n < 0 ? saved : EIO, "write", "/proc/self/oom_score_adj");
    return 0;
}

static int set_user(const struct pyctr_plan *plan, struct pyctr_err *err)
{
    if (syscall(SYS_setgroups, plan->n_groups, plan->groups) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_USER, errno, "setgroups", NULL);
    /* Keep the permitted set across the uid change; capabilities are set just after. */
    if (plan->uid != 0 && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_USER, errno, "keep capabilities", NULL);
    if (syscall(SYS_setresgid, plan->gid, plan->gid, plan->gid) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_USER, errno, "setresgid", NULL);
    if (syscall(SYS_setresuid, plan->uid, plan->uid, plan->uid) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_USER, errno, "setresuid", NULL);
    return 0;
}

/* The bounding set must shrink while CAP_SETPCAP is still effective, i.e. before the
 * uid change clears the effective set of a non-root user. */
static int drop_bounding(const struct pyctr_plan *plan, struct pyctr_err *err)
{
    if (!plan->apply_caps)
        return 0;
    for (int cap = 0; cap <= plan->cap_last_cap; cap++) {
        if (!(plan->caps.bounding & (1ULL << cap)) && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
            return pyctr_set_err(err, PYCTR_STAGE_CAPS, errno, "drop bounding capability", NULL);
    }
    return 0;
}

/* After the uid change: PR_SET_KEEPCAPS kept the permitted set, capset picks from it. */
static int set_caps(const struct pyctr_plan *plan, struct pyctr_err *err)
{
    if (!plan->apply_caps)
        return 0;
    const struct pyctr_caps *c = &plan->caps;
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    for (int i = 0; i < 2; i++) {
        data[i].effective = (uint32_t)(c->effective >> (32 * i));
        data[i].permitted = (uint32_t)(c->permitted >> (32 * i));
        data[i].inheritable = (uint32_t)(c->inheritable >> (32 * i));
    }
    if (syscall(SYS_capset, &hdr, data) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_CAPS, errno, "capset", NULL);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return pyctr_set_err(err, PYCTR_STAGE_CAPS, errno, "clear ambient capabilities", NULL);
    /* The kernel raises an ambient capability only if it is permitted and inheritable too;
     * one that is not (runc's own `spec` asks for that) is skipped, as runc and crun do. */
    for (int cap = 0; cap <= plan->cap_last_cap; cap++) {
        if ((c->ambient & (1ULL << cap)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0 &&
            errno != EPERM)
            return pyctr_set_err(err, PYCTR_STAGE_CAPS, errno, "raise ambient capability", NULL);
    }
    return 0;
}

static int load_seccomp(const struct pyctr_plan *plan, struct pyctr_err *err)
{
    if (!plan->seccomp_filter)
        return 0;
    struct sock_fprog prog = {
        .len = (unsigned short)plan->seccomp_len,
        .filter = (struct sock_filter *)plan->seccomp_filter,
    };
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_SECCOMP, errno, "load seccomp filter", NULL);
    return 0;
}

/* Created: tells the parent (create writes the state and exits), then waits for `start`'s
 * byte in the fifo.  A writer that leaves without one leaves us waiting for the next
 * (though `start` removes the fifo as its claim first: a start killed in between leaves a
 * container only delete --force takes). */
static int wait_for_start(int sync_fd, struct pyctr_err *err)
{
    if (pyctr_msg_send(sync_fd, PYCTR_MSG_CREATED, NULL, -1) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_SYNC, errno, "announce created", NULL);
    for (;;) {
        struct pollfd p = {.fd = start_fd, .events = POLLIN};
        if (poll(&p, 1, -1) < 0) {
            if (errno == EINTR)
                continue;
            return pyctr_set_err(err, PYCTR_STAGE_START, errno, "wait for start", NULL);
        }
        char byte;
        ssize_t n = read(start_fd, &byte, 1);
        if (n == 1)
            break;
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return pyctr_set_err(err, PYCTR_STAGE_START, errno, "read the start fifo", NULL);
        if (n == 0) {
            struct timespec pause = {0, 10 * 1000 * 1000}; /* POLLHUP until the next writer */
            nanosleep(&pause, NULL);
        }
    }
    close(start_fd);
    start_fd = -1;
    return 0;
}

/* execvpe, but with the container's PATH and no allocation; with a start fifo, only once
 * `start` came.  The startContainer hooks run last, just before execve. */
static int exec_command(const struct pyctr_plan *plan, int sync_fd, struct pyctr_err *err)
{
    const char *file = plan->argv[0];
    char *const *argv = (char *const *)plan->argv;
    char *const *envp = (char *const *)plan->envp;
    if (!file || !*file)
        return pyctr_set_err(err, PYCTR_STAGE_EXEC, ENOENT, "no command given", NULL);
    if (start_fd >= 0) {
        if (wait_for_start(sync_fd, err) < 0)
            return -1;
        /* create has gone: what fails from here on can only be told on the container's
         * stderr and in its exit code, as a shell tells a command it cannot run (127 not
         * found, 126 found but not runnable: podman and docker read them so) */
        fail_on_stderr = 1;
    }
    if (pyctr_run_hooks(plan, plan->start_hooks, plan->n_start_hooks, err) < 0)
        return -1;
    /* Tells the parent that an EOF from here on means execve succeeded; an EOF before it
     * means the child died during setup. */
    if (!fail_on_stderr && pyctr_msg_send(sync_fd, PYCTR_MSG_EXEC, NULL, -1) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_SYNC, errno, "announce exec", NULL);
    if (strchr(file, '/')) {
        execve(file, argv, envp);
        return pyctr_set_err(err, PYCTR_STAGE_EXEC, errno, "exec", file);
    }
    const char *path = pyctr_env_lookup(plan->envp, "PATH");
    const char *cursor = path ? path : DEFAULT_PATH;
    char candidate[4096];
    int seen_eacces = 0;
    while (pyctr_next_exec_candidate(&cursor, file, candidate, sizeof candidate)) {
        execve(candidate, argv, envp);
        if (errno == EACCES)
            seen_eacces = 1;
        else if (errno != ENOENT && errno != ENOTDIR)
            return pyctr_set_err(err, PYCTR_STAGE_EXEC, errno, "exec", candidate);
    }
    if (seen_eacces)
        return pyctr_set_err(err, PYCTR_STAGE_EXEC, EACCES, "exec", file);
    return pyctr_set_err(err, PYCTR_STAGE_EXEC, ENOENT, "executable file not found in $PATH", file);
}

/* From the std streams to execve: the same for a new container and for exec. */
/* From the std streams to the last credential: all a process in the container holds
 * (its fds, cwd, limits, filter, user, capabilities) but its session.  The same for a
 * new container and for exec, where the helper does it before it clones the process the
 * container can see: that one never holds more than the container's own. */
/* A session keyring of its own, as runc gives each container (unless --no-new-keyring):
 * the keys of the caller's session (a login's, kerberos', NFS's) are not the container's
 * to use.  Before the seccomp filter, which may refuse keyctl (docker's profile does); a
 * kernel without keyrings has nothing to share. */
static int join_new_keyring(const struct pyctr_plan *plan, struct pyctr_err *err)
{
    if (plan->new_keyring && syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, NULL) < 0 && errno != ENOSYS)
        return pyctr_set_err(err, PYCTR_STAGE_NAMESPACE, errno, "join a new session keyring", NULL);
    return 0;
}

static int prepare_process(const struct pyctr_plan *plan, int sync_fd, struct pyctr_err *err)
{
    umask(022); /* the container's, as docker and the OCI default have it: not pyctr's */
    if (setup_stdio(plan, sync_fd, err) < 0)
        return -1;
    if (enter_cwd(plan, err) < 0)
        return -1;
    if (set_rlimits(plan, err) < 0)
        return -1;
    if (set_oom_score_adj(plan, err) < 0)
        return -1;
    if (plan->set_personality && personality(plan->personality) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_PERSONALITY, errno, "personality", NULL);
    if (join_new_keyring(plan, err) < 0)
        return -1;
    /* Without no_new_privs the kernel wants CAP_SYS_ADMIN to load a filter, so it goes in
     * before the capabilities are dropped (as runc does); the filter must then allow the
     * remaining steps. */
    if (!plan->no_new_privs && load_seccomp(plan, err) < 0)
        return -1;
    if (drop_bounding(plan, err) < 0)
        return -1;
    if (set_user(plan, err) < 0)
        return -1;
    if (set_caps(plan, err) < 0)
        return -1;
    if (plan->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_NO_NEW_PRIVS, errno, "set no_new_privs", NULL);
    if (plan->no_new_privs && load_seccomp(plan, err) < 0)
        return -1;
    /* a change of credentials resets this to the sysctl's value */
    if (plan->join_pidfd >= 0 && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_NAMESPACE, errno, "set not dumpable", NULL);
    return 0;
}

static int finish_process(const struct pyctr_plan *plan, int sync_fd, struct pyctr_err *err)
{
    if (prepare_process(plan, sync_fd, err) < 0 || start_session(plan, err) < 0)
        return -1;
    return exec_command(plan, sync_fd, err);
}

static int child_run(const struct pyctr_plan *plan, int sync_fd, struct pyctr_err *err)
{
    if (reset_signals(err) < 0)
        return -1;
    umask(022); /* directories made in the rootfs get 0755, whatever pyctr's caller had */
    pyctr_userns_receive(plan, sync_fd);
    pyctr_wait_for_go(sync_fd);
    if (join_namespaces(plan, err) < 0)
        return -1;
    if (plan->uid_map && pyctr_userns_enter(err) < 0)
        return -1;
    if (plan->unshare_flags && unshare((int)plan->unshare_flags) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_NAMESPACE, errno, "unshare", NULL);
    if (pyctr_setup_rootfs(plan, sync_fd, err) < 0)
        return -1;
    if (plan->hostname && sethostname(plan->hostname, strlen(plan->hostname)) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_HOSTNAME, errno, "sethostname", plan->hostname);
    if (plan->domainname && setdomainname(plan->domainname, strlen(plan->domainname)) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_HOSTNAME, errno, "setdomainname", plan->domainname);
    if (plan->loopback_up && bring_up_loopback(err) < 0)
        return -1;
    return finish_process(plan, sync_fd, err);
}

static int move_sync_fd(int sync_fd)
{
    if (sync_fd >= 3)
        return sync_fd;
    /* stdio setup takes 0..2; keep the socket out of its way */
    int moved = fcntl(sync_fd, F_DUPFD_CLOEXEC, 3);
    if (moved < 0)
        _exit(1);
    return moved;
}

/* The start fifo, above 2 too, close-on-exec.  It stays O_NONBLOCK (the flag lives on the
 * file description the parent opened): wait_for_start polls, and takes EAGAIN as "not yet". */
static void take_start_fd(const struct pyctr_plan *plan)
{
    if (plan->start_fd < 0)
        return;
    start_fd = fcntl(plan->start_fd, F_DUPFD_CLOEXEC, 3);
    if (start_fd < 0)
        _exit(1);
}

void pyctr_child_main(const struct pyctr_plan *plan, int sync_fd)
{
    struct pyctr_err err;
    memset(&err, 0, sizeof err);
    sync_fd = move_sync_fd(sync_fd);
    take_start_fd(plan);
    child_run(plan, sync_fd, &err);
    if (fail_on_stderr) {
        char line[PYCTR_ERR_MSG + 128];
        int n = snprintf(line, sizeof line, "pyctr-runtime: %s: %s%s%s\n", pyctr_stage_name(err.stage), err.message,
                         err.errnum ? ": " : "", err.errnum ? strerrordesc_np(err.errnum) : ""); /* no locale, no allocation */
        int code = err.stage == PYCTR_STAGE_EXEC && err.errnum != ENOENT ? 126 : 127;
        if (n > 0 && write(2, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1) < 0)
            _exit(code);
        _exit(code);
    }
    pyctr_msg_send(sync_fd, PYCTR_MSG_ERROR, &err, -1);
    _exit(127);
}

#ifndef CLONE_PARENT
#define CLONE_PARENT 0x00008000
#endif

/* exec.  Joining a pid namespace only places the caller's *children* in it, so this
 * process joins, then clones the real one with CLONE_PARENT: that one lives in the
 * container's pid namespace yet is the child of our caller, which waits for it. */
void pyctr_join_main(const struct pyctr_plan *plan, int sync_fd)
{
    struct pyctr_err err;
    memset(&err, 0, sizeof err);
    sync_fd = move_sync_fd(sync_fd);
    /* First: our host binary is the Python interpreter, and from here on we share the
     * container's namespaces; nothing in it may reach us through /proc (ptrace, fds). */
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
        pyctr_set_err(&err, PYCTR_STAGE_NAMESPACE, errno, "set not dumpable", NULL);
        goto fail;
    }
    if (reset_signals(&err) < 0)
        goto fail;
    if (setns(plan->join_pidfd, (int)plan->join_flags) < 0) {
        pyctr_set_err(&err, PYCTR_STAGE_NAMESPACE, errno, "join the container's namespaces", NULL);
        goto fail;
    }
    if ((plan->join_flags & CLONE_NEWUSER) && pyctr_userns_enter(&err) < 0)
        goto fail;
    /* Everything privileged happens here, before the clone, while no process of the
     * container can see us: the process it can see holds the container's credentials,
     * filter and fds only, so a container with CAP_SYS_PTRACE that catches it before
     * its execve finds nothing of ours to use (pyctr's capabilities, the caller's fds). */
    if (prepare_process(plan, sync_fd, &err) < 0)
        goto fail;
    /* clone, not clone3: docker's filter, loaded now, answers clone3 with ENOSYS */
    pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid < 0) {
        pyctr_set_err(&err, PYCTR_STAGE_CLONE, errno, "clone into the container", NULL);
        goto fail;
    }
    if (pid == 0) {
        pyctr_wait_for_go(sync_fd);
        if (start_session(plan, &err) == 0)
            exec_command(plan, sync_fd, &err);
        pyctr_msg_send(sync_fd, PYCTR_MSG_ERROR, &err, -1);
        _exit(127);
    }
    if (pyctr_msg_send_pid(sync_fd, pid) < 0)
        _exit(1);
    _exit(0);
fail:
    pyctr_msg_send(sync_fd, PYCTR_MSG_ERROR, &err, -1);
    _exit(127);
}
