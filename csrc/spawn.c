/* The parent side: clone the child, let it go, learn whether it reached execve. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pyctr.h"
#include "sync.h"

#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif

/* Without a stack clone3 behaves like fork: the child returns 0 here and never comes
 * back.  With a cgroup fd the child starts life inside its cgroup (v2); kernels or
 * hierarchies that refuse that get a plain clone and the caller places the child. */
static pid_t clone_child(const struct pyctr_plan *plan, int *in_cgroup)
{
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.flags = plan->clone_flags;
    args.exit_signal = SIGCHLD;
    *in_cgroup = 0;
    if (plan->cgroup_fd >= 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)plan->cgroup_fd;
        pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
        if (pid >= 0) {
            *in_cgroup = 1;
            return pid;
        }
        if (errno != EINVAL && errno != ENOSYS && errno != E2BIG && errno != EOPNOTSUPP)
            return pid;
        args.flags &= ~CLONE_INTO_CGROUP;
        args.cgroup = 0;
    }
    pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0 && errno == ENOSYS)
        pid = (pid_t)syscall(SYS_clone, plan->clone_flags | SIGCHLD, NULL, NULL, NULL, NULL);
    return pid;
}

static int reap(pid_t pid);

/* exec: the intermediate child reports the pid of the process it made in the container
 * (our child too, through CLONE_PARENT) and exits; that process becomes `child`. */
static int adopt_joined(struct pyctr_child *child, struct pyctr_err *err)
{
    struct pyctr_msg msg;
    int r, fd = -1;
    do {
        r = pyctr_msg_recv(child->sync_fd, &msg, &fd);
        if (r == 1 && msg.type == PYCTR_MSG_PTY && fd >= 0 && child->master < 0) {
            child->master = fd; /* -t: the helper made the pty before the clone */
            fd = -1;
            r = -1;
            errno = EINTR;
        } else if (fd >= 0) {
            close(fd);
            fd = -1;
        }
    } while (r < 0 && errno == EINTR);
    pid_t intermediate = child->pid;
    if (r == 1 && msg.type == PYCTR_MSG_PID && msg.pid > 0) {
        reap(intermediate);
        child->pid = msg.pid;
        return 0;
    }
    if (r == 1 && msg.type == PYCTR_MSG_ERROR)
        *err = msg.err;
    else
        pyctr_set_err(err, PYCTR_STAGE_SYNC, r < 0 ? errno : EPROTO, "no pid from the exec helper", NULL);
    child->pid = -1;
    reap(intermediate);
    pyctr_abort(child);
    return -1;
}

int pyctr_spawn(const struct pyctr_plan *plan, struct pyctr_child *child, struct pyctr_err *err)
{
    int sv[2];
    child->pid = -1;
    child->sync_fd = -1;
    child->go_sent = child->exec_seen = child->hooks_paused = 0;
    child->master = -1;
    child->send_pid = plan->n_create_hooks + plan->n_start_hooks > 0;
    /* SEQPACKET keeps records whole; CLOEXEC makes the child's end vanish on execve. */
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_SYNC, errno, "socketpair", NULL);
    /* A new container's process is born with PYCTR_CREATED_NAME: the child takes the
     * calling thread's name at clone, so we wear it for that instant (no moment in which
     * the child is alive under another name). */
    char own_name[17] = "";
    int renamed = plan->join_pidfd < 0 && prctl(PR_GET_NAME, own_name, 0, 0, 0) == 0 &&
                  prctl(PR_SET_NAME, PYCTR_CREATED_NAME, 0, 0, 0) == 0;
    pid_t pid = clone_child(plan, &child->in_cgroup);
    if (renamed && pid != 0)
        prctl(PR_SET_NAME, own_name, 0, 0, 0);
    if (pid < 0) {
        int saved = errno;
        close(sv[0]);
        close(sv[1]);
        return pyctr_set_err(err, PYCTR_STAGE_CLONE, saved, "clone", NULL);
    }
    if (pid == 0) {
        close(sv[0]);
        if (plan->join_pidfd >= 0)
            pyctr_join_main(plan, sv[1]);
        pyctr_child_main(plan, sv[1]);
    }
    close(sv[1]);
    child->pid = pid;
    child->sync_fd = sv[0];
    if (plan->join_pidfd >= 0)
        return adopt_joined(child, err);
    return 0;
}

static int reap(pid_t pid)
{
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

void pyctr_abort(struct pyctr_child *child)
{
    if (child->pid > 0) {
        kill(child->pid, SIGKILL);
        reap(child->pid);
        child->pid = -1;
    }
    if (child->sync_fd >= 0) {
        close(child->sync_fd);
        child->sync_fd = -1;
    }
    if (child->master >= 0) {
        close(child->master);
        child->master = -1;
    }
}

/* EOF before the EXEC record: the child died in setup without a word (a signal, a crash). */
static int died_in_setup(struct pyctr_child *child, struct pyctr_err *err)
{
    int status = reap(child->pid);
    child->pid = -1;
    char detail[32];
    if (WIFSIGNALED(status))
        snprintf(detail, sizeof detail, "killed by signal %d", WTERMSIG(status));
    else
        snprintf(detail, sizeof detail, "exit status %d", WEXITSTATUS(status));
    pyctr_set_err(err, PYCTR_STAGE_SYNC, 0, "the container's process died before exec", detail);
    pyctr_abort(child);
    return -1;
}

int pyctr_release(struct pyctr_child *child, int *master, struct pyctr_err *err)
{
    *master = -1;
    if (!child->go_sent || child->hooks_paused) {
        if (child->send_pid && pyctr_msg_send_pid(child->sync_fd, child->pid) < 0)
            return died_in_setup(child, err);
        child->send_pid = 0;
        if (pyctr_msg_send(child->sync_fd, PYCTR_MSG_GO, NULL, -1) < 0)
            return died_in_setup(child, err);
        child->go_sent = 1;
        child->hooks_paused = 0;
    }
    for (;;) {
        struct pyctr_msg msg;
        int fd = -1;
        int r = pyctr_msg_recv(child->sync_fd, &msg, &fd);
        if (r < 0 && errno == ECONNRESET)
            r = 0; /* the child died with our GO unread: the same as EOF */
        if (r == 0) {
            if (!child->exec_seen)
                return died_in_setup(child, err);
            break; /* EOF after EXEC: the child's close-on-exec end went away in execve */
        }
        if (r < 0) {
            if (errno == EINTR)
                return 1;
            pyctr_set_err(err, PYCTR_STAGE_SYNC, errno, "read from child", NULL);
            pyctr_abort(child);
            return -1;
        }
        if (msg.type == PYCTR_MSG_PTY && fd >= 0 && child->master < 0) {
            child->master = fd;
            continue;
        }
        if (fd >= 0)
            close(fd);
        if (msg.type == PYCTR_MSG_EXEC) {
            child->exec_seen = 1;
            continue;
        }
        if (msg.type == PYCTR_MSG_HOOKS) {
            child->hooks_paused = 1;
            return 2;
        }
        if (msg.type == PYCTR_MSG_CREATED)
            break; /* it waits for `start` now, which no longer needs us */
        if (msg.type == PYCTR_MSG_ERROR)
            *err = msg.err;
        else
            pyctr_set_err(err, PYCTR_STAGE_SYNC, EPROTO, "unexpected message from child", NULL);
        pyctr_abort(child);
        return -1;
    }
    close(child->sync_fd);
    child->sync_fd = -1;
    *master = child->master;
    child->master = -1;
    return 0;
}
