/* `pyctr`: the command users run.  A small client of the warm pyctr process (`pyctr
 * system server`, pyctr/cli/server.py), which has Python and every module imported and
 * forks a worker per command: the worker takes this process's argv, environment, working
 * directory, umask, resource limits and stdin/stdout/stderr (SCM_RIGHTS) and becomes the
 * Python CLI this program would otherwise have exec'd.  This program forwards the signals
 * it gets to the worker and exits with the worker's code (or dies of its signal).
 *
 * When there is no warm process, or it declines, or anything about it is off, this
 * program execs the Python CLI (pyctr-cli, beside it) exactly as `pyctr` ran before the
 * warm process existed, and (unless the failure says one would not help) starts one in
 * the background for the next call.  PYCTR_NO_SERVER=1 or `server = false` in
 * <root>/pyctr.toml turn all of this off.  protocol.h has the wire format. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "protocol.h"
#include "where.h"

#define CLI_NAME "pyctr-cli" /* the Python CLI, installed beside this program */
#define CONFIG_NAME "pyctr.toml"
#define CONFIG_MAX 65536
#define SPAWN_DELAY_MS 1000 /* the longest a new server waits for the cold command to end */

extern char **environ;

/* What the client forwards to the worker: what a terminal or a user sends a command. */
static const int FORWARDED[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGUSR1, SIGUSR2, SIGTSTP, SIGCONT};

static int open_server_dir(const struct pyctr_where *w);

static char cli_path[PATH_MAX];
/* bit i: fd i was open when the command started (a closed one is /dev/null from then on,
 * so that the client's own files do not take its number; the worker gets it closed) */
static unsigned stdio_open;
/* Signals read (and forwarded) before the command began: if it falls back, the cold
 * command gets them as the client did. */
static int early[64];
static int nearly;

/* The Python CLI beside the real file of this program (/proc/self/exe: pyctr is often a
 * symlink into a virtualenv's bin/). */
static int find_cli(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return -1;
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (!slash)
        return -1;
    *slash = '\0';
    n = snprintf(cli_path, sizeof(cli_path), "%s/" CLI_NAME, self);
    return n > 0 && (size_t)n < sizeof(cli_path) ? 0 : -1;
}

/* Runs the command as pyctr always did: the Python CLI in this process (with the
 * signals that came meanwhile, once the caller's mask is back). */
static void __attribute__((noreturn)) cold(char **argv, const sigset_t *mask)
{
    for (int i = 0; i < nearly; i++)
        kill(getpid(), early[i]);
    sigprocmask(SIG_SETMASK, mask, NULL);
    if (cli_path[0] || find_cli() == 0) {
        char *old = argv[0];
        argv[0] = cli_path;
        execv(cli_path, argv);
        argv[0] = old;
    }
    fprintf(stderr, "pyctr: cannot run %s: %s\n", cli_path[0] ? cli_path : CLI_NAME, strerror(errno));
    exit(125);
}

/* A command started in the background of a terminal's shell (`pyctr ... &`): the cold
 * CLI is stopped by the terminal when it reads it (SIGTTIN); a worker, in no session of
 * that terminal, would not be.  Such a command runs cold. */
static int in_background(void)
{
    pid_t fg = tcgetpgrp(0);
    return fg > 0 && fg != getpgrp();
}

static int env_says_off(void)
{
    const char *v = getenv("PYCTR_NO_SERVER");
    return v && *v && strcmp(v, "0") != 0;
}

static int config_says_off(const char *root)
{
    char path[PATH_MAX + sizeof(CONFIG_NAME) + 1];
    snprintf(path, sizeof(path), "%s/" CONFIG_NAME, root);
    int fd = open(path, O_RDONLY | O_CLOEXEC); /* followed, as server.py's open() does */
    if (fd < 0)
        return 0; /* one failed open on the common path: no file, nothing turned off */
    static char text[CONFIG_MAX + 1];
    ssize_t n = read(fd, text, CONFIG_MAX);
    close(fd);
    text[n > 0 ? n : 0] = '\0';
    return pyctr_config_says_off(text);
}

/* Whether a debugger traces this process (strace -f): a warm process started from here
 * would stay traced, and keep the tracer waiting, long after the command. */
static int traced(void)
{
    char status[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, status, sizeof(status) - 1);
    close(fd);
    status[n > 0 ? n : 0] = '\0';
    const char *tracer = strstr(status, "\nTracerPid:");
    return tracer && strtol(tracer + 11, NULL, 10) != 0;
}

/* Starts `pyctr-cli [globals] system server --on-demand` in a session of its own, once
 * this command (about to run cold, in this process) has ended or had a second to itself,
 * and at idle priority while it imports: the cold command must not share the CPUs with
 * a server's imports.  The server's lock is taken here, before this command runs, and handed
 * to it as fd 3: of a burst of cold clients one starts a server, and once this command
 * is done a server is known to be on its way (`system server --stop` waits for it). */
static void spawn_server(int dirfd, char **argv, int globals)
{
    if (traced())
        return;
    int lock = openat(dirfd, PYCTR_SERVER_LOCK, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (lock < 0)
        return;
    if (flock(lock, LOCK_EX | LOCK_NB) < 0 || (!cli_path[0] && find_cli() < 0)) {
        close(lock); /* held: one is starting or running */
        return;
    }
    pid_t command = getpid();
    pid_t pid = fork();
    if (pid != 0) {
        close(lock); /* the server's copy holds it */
        if (pid > 0)
            waitpid(pid, NULL, 0); /* the middle process exits at once */
        return;
    }
    /* a grandchild, so that the command's own process has no child it did not make */
    setsid();
    if (fork() != 0)
        _exit(0);
    /* the lock names its holder: `--stop` may end a server still importing */
    char holder[24];
    int len = snprintf(holder, sizeof(holder), "%d\n", (int)getpid());
    if (ftruncate(lock, 0) < 0 || pwrite(lock, holder, (size_t)len, 0) != len)
        _exit(1);
    prctl(PR_SET_NAME, PYCTR_SERVER_STARTING); /* until its exec: `--stop` may end it meanwhile */
    /* first: the caller's stdio and whatever else it let this command inherit (a pipe a
     * reader waits on) must not stay open in a server for its life */
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0 ||
        dup2(lock, PYCTR_SERVER_LOCK_FD) < 0)
        _exit(1);
    close_range(PYCTR_SERVER_LOCK_FD + 1, ~0U, 0);
    struct sched_param param = {0};
    sched_setscheduler(0, SCHED_IDLE, &param);
    int command_fd = (int)syscall(SYS_pidfd_open, command, 0);
    if (command_fd >= 0) {
        struct pollfd ended = {command_fd, POLLIN, 0};
        poll(&ended, 1, SPAWN_DELAY_MS);
        close(command_fd);
    }
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    char *args[globals + 5];
    int n = 0;
    args[n++] = cli_path;
    for (int i = 1; i <= globals; i++)
        args[n++] = argv[i];
    args[n++] = "system";
    args[n++] = "server";
    args[n++] = "--on-demand";
    args[n] = NULL;
    execv(cli_path, args);
    _exit(127);
}

/* <runroot>/server, made (0700) if the runroot exists: a cold first command makes the
 * runroot, and the next one starts the server. */
static int make_server_dir(const struct pyctr_where *w)
{
    int runroot = open(w->runroot, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (runroot < 0)
        return -1;
    int made = mkdirat(runroot, PYCTR_SERVER_DIR, 0700);
    close(runroot);
    return made < 0 && errno != EEXIST ? -1 : open_server_dir(w);
}

static int send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static size_t strings_size(char **strings, uint32_t *count)
{
    size_t size = 0;
    *count = 0;
    for (char **s = strings; *s; s++, (*count)++)
        size += strlen(*s) + 1;
    return size;
}

static char *append_strings(char *p, char **strings)
{
    for (char **s = strings; *s; s++) {
        size_t n = strlen(*s) + 1;
        memcpy(p, *s, n);
        p += n;
    }
    return p;
}

/* The request and its fds: the working directory, then each open one of fds 0-2. */
static int send_request(int sock, char **argv, uint64_t ignored, const sigset_t *blocked)
{
    struct pyctr_request_header h = {.magic = PYCTR_SERVER_MAGIC, .version = PYCTR_SERVER_VERSION,
                                     .kind = PYCTR_REQUEST_RUN};
    size_t body = strings_size(argv, &h.argc) + strings_size(environ, &h.envc);
    if (body > PYCTR_SERVER_MAX_BODY)
        return -1;
    h.body = (uint32_t)body;
    mode_t mask = umask(0);
    umask(mask);
    h.umask = mask;
    h.ignored = ignored;
    for (int sig = 1; sig < 64; sig++)
        if (sigismember(blocked, sig) == 1)
            h.sigmask |= 1ull << sig;
    for (int r = 0; r < PYCTR_SERVER_RLIMITS; r++) {
        struct rlimit lim = {RLIM_INFINITY, RLIM_INFINITY};
        getrlimit(r, &lim);
        h.rlimits[r][0] = lim.rlim_cur;
        h.rlimits[r][1] = lim.rlim_max;
    }
    int fds[4], nfds = 0;
    fds[nfds++] = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fds[0] < 0)
        return -1; /* a working directory removed from under it: the cold CLI says so */
    for (int fd = 0; fd < 3; fd++)
        if (stdio_open & (1u << fd)) {
            h.stdio |= 1u << fd;
            fds[nfds++] = fd;
        }
    char control[CMSG_SPACE(sizeof(fds))];
    memset(control, 0, sizeof(control));
    struct iovec iov = {&h, sizeof(h)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control,
                         .msg_controllen = CMSG_SPACE(sizeof(int) * nfds)};
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * nfds);
    ssize_t sent;
    do
        sent = sendmsg(sock, &msg, MSG_NOSIGNAL);
    while (sent < 0 && errno == EINTR);
    close(fds[0]);
    if (sent < 0 || (sent < (ssize_t)sizeof(h) && send_all(sock, (char *)&h + sent, sizeof(h) - sent) < 0))
        return -1;
    char *strings = malloc(body ? body : 1);
    if (!strings)
        return -1;
    append_strings(append_strings(strings, argv), environ);
    int rc = send_all(sock, strings, body);
    free(strings);
    return rc;
}

/* <runroot>/server, not through a symlink, and only if it is this user's and no one
 * else's to write: whoever can put a socket there gets this command's environment and
 * fds. */
static int open_server_dir(const struct pyctr_where *w)
{
    int runroot = open(w->runroot, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (runroot < 0)
        return -1;
    int dirfd = openat(runroot, PYCTR_SERVER_DIR, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    int saved = errno;
    close(runroot);
    errno = saved;
    if (dirfd < 0)
        return -1;
    struct stat st;
    if (fstat(dirfd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077)) {
        close(dirfd);
        errno = EPERM;
        return -1;
    }
    return dirfd;
}

/* Whether the process at the other end runs as this one's user: a server of another
 * user (root's, for a user; a user's, for root) must not get this command. */
static int peer_is_us(int sock)
{
    struct ucred peer;
    socklen_t len = sizeof(peer);
    return getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0 && peer.uid == geteuid();
}

/* The warm process's socket for this command line; -1 with *spawn set when starting one
 * could help (none listening), clear when it could not (not ours to use). */
static int connect_server(const struct pyctr_where *w, int *spawn, int *dirfd)
{
    *dirfd = open_server_dir(w);
    if (*dirfd < 0) {
        *spawn = errno == ENOENT;
        return -1;
    }
    /* through the directory's fd: a runroot's path may be longer than sun_path */
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof(addr.sun_path), "/proc/self/fd/%d/" PYCTR_SERVER_SOCKET, *dirfd);
    int sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (sock < 0) {
        *spawn = 0;
        return -1;
    }
    if (connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        *spawn = errno == ENOENT || errno == ECONNREFUSED;
        close(sock);
        return -1;
    }
    if (!peer_is_us(sock)) {
        *spawn = 0;
        close(sock);
        return -1;
    }
    return sock;
}

static int read_message(int sock, struct pyctr_message *m)
{
    ssize_t n;
    do
        n = recv(sock, m, sizeof(*m), MSG_WAITALL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof(*m) ? 0 : -1;
}

static void tell(int sock, uint32_t kind, int value)
{
    struct pyctr_message m = {kind, value};
    send_all(sock, &m, sizeof(m));
}

/* Stops this process by the signal that stopped the worker (the shell says "Stopped"
 * for SIGTSTP, as for a cold command), unblocked for the moment it takes. */
static void stop_as(int sig)
{
    if (sig != SIGTSTP && sig != SIGTTIN && sig != SIGTTOU) {
        raise(SIGSTOP);
        return;
    }
    struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
    sigaction(sig, &dfl, &old);
    sigset_t one, before;
    sigemptyset(&one);
    sigaddset(&one, sig);
    raise(sig);
    sigprocmask(SIG_UNBLOCK, &one, &before);
    sigprocmask(SIG_SETMASK, &before, NULL);
    sigaction(sig, &old, NULL);
}

static void __attribute__((noreturn)) die_of(int sig, const sigset_t *mask)
{
    signal(sig, SIG_DFL);
    sigprocmask(SIG_SETMASK, mask, NULL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    sigprocmask(SIG_UNBLOCK, &one, NULL);
    raise(sig);
    exit(128 + sig); /* a signal that does not kill (the worker's did) */
}

/* Relays until the worker is done.  Returns only to fall back (nothing of the command
 * ran): 1 when the server is leaving and a new one would help, else 0. */
static int relay(int sock, int sigfd, const sigset_t *old)
{
    int running = 0, forwarded = 0;
    struct pollfd fds[2] = {{sock, POLLIN, 0}, {sigfd, POLLIN, 0}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (fds[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            while (read(sigfd, &si, sizeof(si)) == sizeof(si)) {
                tell(sock, si.ssi_signo == SIGCONT ? PYCTR_MESSAGE_CONT : PYCTR_MESSAGE_SIGNAL, (int)si.ssi_signo);
                forwarded = si.ssi_signo != SIGCONT && si.ssi_signo != SIGWINCH;
                if (!running && nearly < 64)
                    early[nearly++] = (int)si.ssi_signo;
            }
        }
        if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        struct pyctr_message m;
        if (read_message(sock, &m) < 0)
            break;
        switch (m.kind) {
        case PYCTR_REPLY_RUNNING:
            running = 1;
            break;
        case PYCTR_REPLY_EXIT:
            if (!running && !forwarded)
                return 0; /* the worker failed before it took the command */
            exit(m.value);
        case PYCTR_REPLY_SIGNALED:
            if (!running && !forwarded)
                return 0;
            die_of(m.value, old);
        case PYCTR_REPLY_STOPPED:
            stop_as(m.value); /* as the worker did; SIGCONT (forwarded) continues both */
            break;
        case PYCTR_REPLY_FALLBACK:
            if (!running)
                return m.value == PYCTR_FALLBACK_CHANGED || m.value == PYCTR_FALLBACK_CLOSING;
            break;
        case PYCTR_REPLY_REFUSED:
            if (!running)
                return 0;
            break;
        default:
            break;
        }
    }
    if (!running)
        return 0; /* the server went away before the command began */
    fprintf(stderr, "pyctr: lost the warm pyctr process while the command ran\n");
    exit(125);
}

int main(int argc, char **argv)
{
    /* a signal the caller ignores (nohup, `cmd &` in a script) is neither forwarded nor
     * taken: the worker ignores it too */
    sigset_t forwarded, old;
    uint64_t ignored = 0;
    for (int sig = 1; sig < 32; sig++) { /* every one a cold CLI would inherit ignored */
        struct sigaction sa;
        if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
            ignored |= 1ull << sig;
    }
    sigemptyset(&forwarded);
    for (size_t i = 0; i < sizeof(FORWARDED) / sizeof(FORWARDED[0]); i++)
        if (!(ignored & (1ull << FORWARDED[i])))
            sigaddset(&forwarded, FORWARDED[i]);
    sigprocmask(SIG_BLOCK, &forwarded, &old);
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) >= 0)
            stdio_open |= 1u << fd;
    for (int fd = 0; fd < 3; fd++) /* in order: each open takes the lowest closed number */
        if (!(stdio_open & (1u << fd)) && open("/dev/null", O_RDWR) < 0)
            cold(argv, &old);
    if (env_says_off() || argc < 1 || in_background())
        cold(argv, &old);
    char cwd[PATH_MAX];
    struct pyctr_where w;
    if (!getcwd(cwd, sizeof(cwd)) || pyctr_where(argc, argv, getenv, cwd, &w) < 0)
        cold(argv, &old);
    /* the server itself, and `system server --stop`, always run in Python */
    if (argc > w.globals + 2 && strcmp(argv[w.globals + 1], "system") == 0 &&
        strcmp(argv[w.globals + 2], "server") == 0)
        cold(argv, &old);
    if (config_says_off(w.root))
        cold(argv, &old);
    int spawn = 0, dirfd = -1;
    int sock = connect_server(&w, &spawn, &dirfd);
    if (sock >= 0) {
        int sigfd = signalfd(-1, &forwarded, SFD_CLOEXEC | SFD_NONBLOCK);
        if (sigfd >= 0 && send_request(sock, argv, ignored, &old) == 0)
            spawn = relay(sock, sigfd, &old);
        close(sock);
        if (sigfd >= 0)
            close(sigfd);
    }
    /* pyctr's own background commands (a monitor's `_cleanup`, `_restart`) use a warm
     * process but start none: it would outlive what the user ran by its idle time */
    if (spawn && !(argc > w.globals + 1 && argv[w.globals + 1][0] == '_')) {
        if (dirfd < 0)
            dirfd = make_server_dir(&w);
        if (dirfd >= 0)
            spawn_server(dirfd, argv, w.globals);
    }
    if (dirfd >= 0)
        close(dirfd);
    cold(argv, &old);
}
