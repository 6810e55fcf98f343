/* pyctr-monitor: the parent of a container (podman's conmon, ours).
 *
 * pyctr forks, the fork creates and starts the container (so the container is its
 * child), then execs this program, which keeps that pid and so stays the parent:
 *
 *   pyctr-monitor --pid PID --stdout-fd N [--stderr-fd M] [--stdin-fd I] [--tty]
 *                 [--attach-fd A] [--socket PATH] --log FILE [--log-max-size BYTES]
 *                 [--log-max-file N] --exit-file FILE -- EXIT-COMMAND...
 *
 * It is a child subreaper, writes every line the container prints to FILE as a JSON
 * record {"time", "stream", "log"} (docker's json-file format; rotated past BYTES, N
 * files kept: logfile.c), passes the output to
 * attached clients and their input to the container (attach.h), reaps whatever is
 * reparented to it, and when PID exits and its output has drained, writes the exit code
 * (128 + signal when killed) and the time to the exit file.  Then, unless the owner
 * client handled the exit, it execs EXIT-COMMAND (pyctr's cleanup: store, cgroup, --rm).
 * About a megabyte of RSS. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attach.h"
#include "logfile.h"

struct options {
    pid_t container;
    const char *log_path, *exit_path, *socket_path;
    int stdout_fd, stderr_fd, stdin_fd, attach_fd, tty, log_max_file;
    long long log_max_size;
    char **exit_command;
};

static int usage(void)
{
    fputs("usage: pyctr-monitor --pid PID --stdout-fd N [--stderr-fd M] [--stdin-fd I] [--tty]\n"
          "       [--attach-fd A] [--socket PATH] --log FILE [--log-max-size BYTES]\n"
          "       [--log-max-file N] --exit-file FILE -- CMD...\n", stderr);
    return 2;
}

/* A whole number from 1 to max, else -1. */
static long long positive(const char *text, long long max)
{
    char *end;
    errno = 0;
    long long n = strtoll(text, &end, 10);
    return errno || end == text || *end || n < 1 || n > max ? -1 : n;
}

static int parse(int argc, char **argv, struct options *o)
{
    *o = (struct options){.stdout_fd = -1, .stderr_fd = -1, .stdin_fd = -1, .attach_fd = -1, .log_max_file = 1};
    int i = 1;
    for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
        const char *flag = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(flag, "--tty")) {
            o->tty = 1;
            continue;
        }
        if (!value)
            return -1;
        i++;
        if (!strcmp(flag, "--pid"))
            o->container = (pid_t)atoi(value);
        else if (!strcmp(flag, "--stdout-fd"))
            o->stdout_fd = atoi(value);
        else if (!strcmp(flag, "--stderr-fd"))
            o->stderr_fd = atoi(value);
        else if (!strcmp(flag, "--stdin-fd"))
            o->stdin_fd = atoi(value);
        else if (!strcmp(flag, "--attach-fd"))
            o->attach_fd = atoi(value);
        else if (!strcmp(flag, "--socket"))
            o->socket_path = value;
        else if (!strcmp(flag, "--log"))
            o->log_path = value;
        else if (!strcmp(flag, "--exit-file"))
            o->exit_path = value;
        else if (!strcmp(flag, "--log-max-size"))
            o->log_max_size = positive(value, LLONG_MAX);
        else if (!strcmp(flag, "--log-max-file"))
            o->log_max_file = (int)positive(value, INT_MAX);
        else
            return -1;
    }
    if (i + 1 >= argc || o->container <= 0 || !o->log_path || !o->exit_path || o->log_max_size < 0 ||
        o->log_max_file < 0)
        return -1;
    o->exit_command = argv + i + 1;
    return 0;
}

static int compare_ints(const void *a, const void *b)
{
    return *(const int *)a - *(const int *)b;
}

/* Whatever else the process that started pyctr left open is not ours to hold for the
 * container's whole life. */
static void close_all_but(int *keep, int n)
{
    qsort(keep, (size_t)n, sizeof *keep, compare_ints);
    unsigned next = 3;
    for (int i = 0; i < n; i++) {
        if (keep[i] < (int)next)
            continue;
        if ((unsigned)keep[i] > next)
            close_range(next, (unsigned)keep[i] - 1, 0);
        next = (unsigned)keep[i] + 1;
    }
    close_range(next, ~0U, 0);
}

static int write_exit_file(const char *path, int code)
{
    char tmp[4096], ts[40];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    log_timestamp(ts);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%d %s\n", code, ts);
    if (fclose(f) != 0)
        return -1;
    return rename(tmp, path);
}

static int reap(pid_t container, int *code)
{
    int status, done = 0;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid == container) {
            *code = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
            done = 1;
        }
    }
    return done;
}

/* New output: into the log and to the attached clients.  Returns 0 at the end. */
static int pump(struct logfile *log, struct stream *s, struct attach *a)
{
    ssize_t n = read(s->fd, s->buf + s->len, sizeof s->buf - s->len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 1;
    if (n <= 0) { /* EOF, or EIO from a pty whose last slave closed */
        log_flush(log, s);
        close(s->fd);
        s->fd = -1;
        return 0;
    }
    attach_broadcast(a, (char)s->kind, s->buf + s->len, (size_t)n);
    log_take(log, s, (size_t)n);
    return 1;
}

int main(int argc, char **argv)
{
    struct options o;
    if (parse(argc, argv, &o) < 0)
        return usage();
    int keep[] = {o.stdout_fd, o.stderr_fd, o.stdin_fd, o.attach_fd};
    close_all_but(keep, 4);

    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); /* the container's orphans come to us */
    signal(SIGPIPE, SIG_IGN);                 /* a client or the input gone is an errno */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    static struct logfile log; /* its buffer is large for a stack */
    if (sfd < 0 || log_open(&log, o.log_path, o.log_max_size, o.log_max_file) < 0)
        return 1;
    struct stream streams[2] = {{.name = "stdout", .kind = 'o', .fd = o.stdout_fd},
                                {.name = "stderr", .kind = 'e', .fd = o.stderr_fd}};
    struct attach a;
    attach_init(&a, o.attach_fd, o.tty ? o.stdout_fd : o.stdin_fd, o.tty);
    if (o.socket_path && attach_listen(&a, o.socket_path) < 0)
        perror("pyctr-monitor: attach socket"); /* the container runs on, unattachable */

    int code = -1, exited = reap(o.container, &code);
    for (;;) {
        if (exited && streams[0].fd < 0 && streams[1].fd < 0)
            break;
        struct pollfd p[3 + 2 + MAX_CLIENTS] = {{.fd = sfd, .events = POLLIN},
                                               {.fd = streams[0].fd, .events = POLLIN},
                                               {.fd = streams[1].fd, .events = POLLIN}};
        int n = attach_poll_fill(&a, p + 3);
        /* once it exited, what is left to read is there now: do not wait on holders */
        if (poll(p, (nfds_t)(3 + n), exited ? 200 : -1) == 0 && exited)
            break;
        if (p[0].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) > 0)
                ;
            exited |= reap(o.container, &code);
        }
        for (int s = 0; s < 2; s++)
            if (p[s + 1].revents)
                pump(&log, &streams[s], &a);
        attach_poll_handle(&a, p + 3, n);
    }
    for (int s = 0; s < 2; s++)
        if (streams[s].fd >= 0)
            log_flush(&log, &streams[s]);
    log_close(&log);
    write_exit_file(o.exit_path, code);
    if (attach_finish(&a, code))
        return 0; /* the owner recorded the exit */
    sigprocmask(SIG_UNBLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_DFL);
    execvp(o.exit_command[0], o.exit_command);
    return 127;
}
