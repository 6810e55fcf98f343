/* pyctr-monitor: the parent of a detached container (podman's conmon, ours).
 *
 * pyctr forks, the fork creates and starts the container (so the container is its
 * child), then execs this program, which keeps that pid and so stays the parent:
 *
 *   pyctr-monitor --pid PID --stdout-fd N [--stderr-fd M] --log FILE --exit-file FILE
 *                 -- EXIT-COMMAND...
 *
 * It is a child subreaper, writes every line the container prints to FILE as a JSON
 * record {"time", "stream", "log"} (docker's json-file format), reaps whatever is
 * reparented to it, and when PID exits and its output has drained, writes the exit code
 * (128 + signal when killed) and the time to the exit file, then execs EXIT-COMMAND
 * (pyctr's cleanup: store, cgroup, --rm).  A few hundred kilobytes of RSS. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LINE_MAX_BYTES 16384 /* a longer line is written in pieces, as docker does */

struct stream {
    const char *name;
    int fd;
    char buf[LINE_MAX_BYTES];
    size_t len;
};

static void timestamp(char out[40])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%09ldZ", ts.tv_nsec);
}

/* One JSON record; the line's bytes are escaped as JSON strings need. */
static void write_record(FILE *log, const char *stream, const char *line, size_t len)
{
    char ts[40];
    timestamp(ts);
    fprintf(log, "{\"time\":\"%s\",\"stream\":\"%s\",\"log\":\"", ts, stream);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c == '"' || c == '\\')
            fprintf(log, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", log);
        else if (c == '\r')
            fputs("\\r", log);
        else if (c == '\t')
            fputs("\\t", log);
        else if (c < 0x20)
            fprintf(log, "\\u%04x", c);
        else
            fputc(c, log);
    }
    fputs("\"}\n", log);
}

/* Writes out every complete line in the buffer (and, at EOF or when full, the rest). */
static void flush_lines(FILE *log, struct stream *s, int all)
{
    size_t start = 0;
    for (size_t i = 0; i < s->len; i++) {
        if (s->buf[i] == '\n') {
            write_record(log, s->name, s->buf + start, i + 1 - start);
            start = i + 1;
        }
    }
    if ((all || s->len == sizeof s->buf) && start < s->len) {
        write_record(log, s->name, s->buf + start, s->len - start);
        start = s->len;
    }
    memmove(s->buf, s->buf + start, s->len - start);
    s->len -= start;
    fflush(log);
}

/* Returns 0 at EOF. */
static int pump(FILE *log, struct stream *s)
{
    ssize_t n = read(s->fd, s->buf + s->len, sizeof s->buf - s->len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 1;
    if (n <= 0) { /* EOF, or EIO from a pty whose last slave closed */
        flush_lines(log, s, 1);
        close(s->fd);
        s->fd = -1;
        return 0;
    }
    s->len += (size_t)n;
    flush_lines(log, s, 0);
    return 1;
}

static int write_exit_file(const char *path, int code)
{
    char tmp[4096], ts[40];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    timestamp(ts);
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

/* Whatever else the process that started pyctr left open is not ours to hold for the
 * container's whole life. */
static void close_all_but(int a, int b)
{
    int lo = a < b ? a : b, hi = a < b ? b : a;
    if (lo < 3) /* one of them unused (-1) */
        lo = hi;
    if (lo < 3)
        return;
    if (lo > 3)
        close_range(3, (unsigned)lo - 1, 0);
    if (hi > lo + 1)
        close_range((unsigned)lo + 1, (unsigned)hi - 1, 0);
    close_range((unsigned)hi + 1, ~0U, 0);
}

static int usage(void)
{
    fputs("usage: pyctr-monitor --pid PID --stdout-fd N [--stderr-fd M] --log FILE --exit-file FILE -- CMD...\n", stderr);
    return 2;
}

int main(int argc, char **argv)
{
    pid_t container = 0;
    const char *log_path = NULL, *exit_path = NULL;
    struct stream streams[2] = {{.name = "stdout", .fd = -1}, {.name = "stderr", .fd = -1}};
    int i = 1;
    for (; i + 1 < argc && strcmp(argv[i], "--") != 0; i += 2) {
        if (!strcmp(argv[i], "--pid"))
            container = (pid_t)atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--stdout-fd"))
            streams[0].fd = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--stderr-fd"))
            streams[1].fd = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--log"))
            log_path = argv[i + 1];
        else if (!strcmp(argv[i], "--exit-file"))
            exit_path = argv[i + 1];
        else
            return usage();
    }
    if (i >= argc || strcmp(argv[i], "--") != 0 || i + 1 >= argc || container <= 0 || !log_path || !exit_path)
        return usage();
    char **exit_command = argv + i + 1;
    close_all_but(streams[0].fd, streams[1].fd);

    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); /* the container's orphans come to us */
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGCHLD);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    int sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    FILE *log = fopen(log_path, "ae");
    if (sfd < 0 || !log)
        return 1;

    int code = -1, exited = reap(container, &code);
    for (;;) {
        int open_streams = (streams[0].fd >= 0) + (streams[1].fd >= 0);
        if (exited && open_streams == 0)
            break;
        struct pollfd p[3] = {{.fd = sfd, .events = POLLIN},
                              {.fd = streams[0].fd, .events = POLLIN},
                              {.fd = streams[1].fd, .events = POLLIN}};
        /* once it exited, what is left to read is there now: do not wait on holders */
        if (poll(p, 3, exited ? 200 : -1) == 0 && exited)
            break;
        if (p[0].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) > 0)
                ;
            exited |= reap(container, &code);
        }
        for (int s = 0; s < 2; s++)
            if (p[s + 1].revents)
                pump(log, &streams[s]);
    }
    for (int s = 0; s < 2; s++)
        if (streams[s].fd >= 0)
            flush_lines(log, &streams[s], 1);
    fclose(log);
    write_exit_file(exit_path, code);
    sigprocmask(SIG_UNBLOCK, &mask, NULL);
    execvp(exit_command[0], exit_command);
    return 127;
}
