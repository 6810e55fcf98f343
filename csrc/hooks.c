/* The OCI hooks a container's own process runs (createContainer before pivot_root,
 * startContainer just before execve: both inside its namespaces, as the runtime spec
 * says), and the HOOKS pause in which the parent runs createRuntime (and, for run,
 * prestart).
 *
 * This is the child of a raw clone (see child.c): no allocation, and the hook is
 * started with a raw clone too.  Its stdin carries the container's state (state_as_file);
 * the JSON is the parent's, but for the pid, which only the parent learns after clone
 * and sends before the GO. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "pyctr.h"
#include "sync.h"

static pid_t host_pid;

void pyctr_hooks_set_pid(pid_t pid)
{
    host_pid = pid;
}

void pyctr_wait_for_go(int sync_fd)
{
    struct pyctr_msg msg;
    for (;;) {
        int r = pyctr_msg_recv(sync_fd, &msg, NULL);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 1 && msg.type == PYCTR_MSG_PID) {
            host_pid = msg.pid;
            continue;
        }
        if (r <= 0 || msg.type != PYCTR_MSG_GO)
            _exit(1); /* the parent went away or gave up on us: nobody to report to */
        return;
    }
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

/* The state, whole, into the hook's stdin.  A hook that does not read it (and exits
 * first) is no failure of ours: EPIPE is ignored, SIGPIPE blocked meanwhile. */
static void write_state(const struct pyctr_plan *plan, int fd)
{
    char pid[16];
    int n = snprintf(pid, sizeof pid, "%d", (int)host_pid);
    sigset_t pipe_only, old;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigprocmask(SIG_BLOCK, &pipe_only, &old);
    const char *head = plan->hook_state_head ? plan->hook_state_head : "{";
    const char *tail = plan->hook_state_tail ? plan->hook_state_tail : "}";
    if (write_all(fd, head, strlen(head)) == 0 && write_all(fd, pid, (size_t)n) == 0)
        write_all(fd, tail, strlen(tail));
    struct timespec none = {0, 0};
    sigtimedwait(&pipe_only, NULL, &none); /* a SIGPIPE raised meanwhile: dropped */
    sigprocmask(SIG_SETMASK, &old, NULL);
}

/* Whether `pid` exited within `timeout` seconds: a pidfd polled, or (a kernel or filter
 * without pidfd_open) waitpid(WNOHANG) every 10 ms.  Returns 1 when it has exited (still
 * to be reaped, or reaped into *status with *reaped set), 0 at the timeout. */
static int exited_within(pid_t pid, int timeout, int *status, int *reaped)
{
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd >= 0) {
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        int r;
        do
            r = poll(&p, 1, timeout * 1000);
        while (r < 0 && errno == EINTR);
        close(pidfd);
        return r != 0;
    }
    struct timespec tick = {0, 10 * 1000 * 1000};
    for (long waited_ms = 0; waited_ms < timeout * 1000L; waited_ms += 10) {
        if (waitpid(pid, status, WNOHANG) == pid) {
            *reaped = 1;
            return 1;
        }
        nanosleep(&tick, NULL);
    }
    return 0;
}

/* Waits for the hook, killing it after its timeout; its wait status, or -1 (timed out:
 * ETIMEDOUT). */
static int wait_hook(pid_t pid, int timeout)
{
    int status = 0, reaped = 0;
    if (timeout > 0 && !exited_within(pid, timeout, &status, &reaped)) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        errno = ETIMEDOUT;
        return -1;
    }
    while (!reaped && waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

/* The hook's stdin: a memfd holding the whole state, read from its start, so that no
 * write of ours can block on a hook that does not read (its timeout runs from the start).
 * Where memfd is refused (a seccomp profile), a pipe, written after the clone. */
static int state_as_file(const struct pyctr_plan *plan)
{
    int fd = (int)syscall(SYS_memfd_create, "pyctr-hook-state", MFD_CLOEXEC);
    if (fd < 0)
        return -1;
    write_state(plan, fd);
    if (lseek(fd, 0, SEEK_SET) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A hook's stdout and stderr go to a memfd, never to ours: they are the container's
 * stdio (conmon's log pipe), which runc and crun keep hook output out of.  A file, not a
 * pipe: nobody has to drain it while the hook runs, and a daemon the hook leaves behind
 * holding it cannot make us wait.  Without memfd (a seccomp profile may refuse it),
 * /dev/null; -1 if neither opens (the hook then writes where we would). */
static int open_hook_output(void)
{
    int fd = (int)syscall(SYS_memfd_create, "pyctr-hook-output", MFD_CLOEXEC);
    return fd >= 0 ? fd : open("/dev/null", O_WRONLY | O_CLOEXEC);
}

/* The start of what the hook wrote, on one line, into out (for its failure's message). */
static void read_hook_output(int fd, char *out, size_t size)
{
    ssize_t n = fd >= 0 ? pread(fd, out, size - 1, 0) : -1;
    n = n < 0 ? 0 : n;
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
        n--;
    out[n] = '\0';
    for (char *c = out; *c; c++)
        if (*c == '\n' || *c == '\r' || *c == '\t')
            *c = ' ';
}

static int run_hook(const struct pyctr_plan *plan, const struct pyctr_hook *h, struct pyctr_err *err)
{
    int fds[2] = {state_as_file(plan), -1};
    if (fds[0] < 0 && pipe2(fds, O_CLOEXEC) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_HOOK, errno, "pipe for hook", h->path);
    _cleanup_close_ int output = open_hook_output();
    pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, NULL);
    if (pid < 0) {
        int saved = errno;
        close(fds[0]);
        if (fds[1] >= 0)
            close(fds[1]);
        return pyctr_set_err(err, PYCTR_STAGE_HOOK, saved, "start hook", h->path);
    }
    if (pid == 0) {
        if (dup2(fds[0], 0) < 0)
            _exit(127);
        if (output >= 0 && (dup2(output, 1) < 0 || dup2(output, 2) < 0))
            _exit(127);
        /* createContainer runs before setup_stdio has closed what the runtime's caller
         * left open (not CLOEXEC): none of it is the hook's */
        close_range(3, ~0U, 0);
        static const char *const no_env[] = {NULL};
        execve(h->path, (char *const *)h->argv, (char *const *)(h->envp ? h->envp : no_env));
        _exit(127);
    }
    close(fds[0]);
    if (fds[1] >= 0) { /* the pipe: written now, as far as the hook reads it */
        write_state(plan, fds[1]);
        close(fds[1]);
    }
    int status = wait_hook(pid, h->timeout);
    if (status < 0)
        return pyctr_set_err(err, PYCTR_STAGE_HOOK, ETIMEDOUT, "hook timed out", h->path);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    char said[120], detail[160];
    read_hook_output(output, said, sizeof said);
    if (WIFSIGNALED(status))
        snprintf(detail, sizeof detail, "killed by signal %d%s%s", WTERMSIG(status), *said ? ", output: " : "", said);
    else
        snprintf(detail, sizeof detail, "exit status %d%s%s", WEXITSTATUS(status), *said ? ", output: " : "", said);
    char what[PYCTR_ERR_MSG / 2];
    snprintf(what, sizeof what, "hook %s failed", h->path);
    return pyctr_set_err(err, PYCTR_STAGE_HOOK, 0, what, detail);
}

int pyctr_run_hooks(const struct pyctr_plan *plan, const struct pyctr_hook *hooks, size_t n, struct pyctr_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (run_hook(plan, &hooks[i], err) < 0)
            return -1;
    return 0;
}

int pyctr_hooks_before_pivot(const struct pyctr_plan *plan, int sync_fd, struct pyctr_err *err)
{
    if (plan->hooks_sync) {
        if (pyctr_msg_send(sync_fd, PYCTR_MSG_HOOKS, NULL, -1) < 0)
            return pyctr_set_err(err, PYCTR_STAGE_SYNC, errno, "announce hooks", NULL);
        pyctr_wait_for_go(sync_fd);
    }
    return pyctr_run_hooks(plan, plan->create_hooks, plan->n_create_hooks, err);
}
