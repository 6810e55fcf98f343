/* The monitor's attach socket; the protocol is in attach.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "attach.h"

void attach_init(struct attach *a, int owner, int input, int tty)
{
    memset(a, 0, sizeof *a);
    a->listener = a->dirfd = -1;
    a->owner = owner;
    a->input = input;
    a->tty = tty;
    if (input >= 0)
        fcntl(input, F_SETFL, fcntl(input, F_GETFL) | O_NONBLOCK);
    if (owner >= 0)
        a->clients[a->nclients++] = owner;
}

/* The path may be longer than sun_path holds: bind through /proc/self/fd of its dir. */
int attach_listen(struct attach *a, const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    if (!slash || (size_t)(slash - path) >= sizeof dir)
        return -1;
    memcpy(dir, path, (size_t)(slash - path));
    dir[slash - path] = '\0';
    a->name = slash + 1;
    a->dirfd = open(dir[0] ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    a->listener = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (a->dirfd < 0 || a->listener < 0)
        return -1;
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/%s", a->dirfd, a->name);
    unlinkat(a->dirfd, a->name, 0); /* a killed monitor's */
    /* 0600 whatever umask we were started with: whoever connects types into the container */
    mode_t old = umask(0177);
    int rc = bind(a->listener, (struct sockaddr *)&addr, sizeof addr);
    umask(old);
    if (rc < 0 || fchmodat(a->dirfd, a->name, 0600, 0) < 0 || listen(a->listener, 8) < 0)
        return -1;
    return 0;
}

/* The socket's mode is one lock; the peer's credentials are the other: only root, or the
 * user the monitor runs as, may attach (a socket file can be reached by other means than
 * its path, e.g. through an fd passed on). */
static int peer_allowed(int fd)
{
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return 0;
    return cred.uid == 0 || cred.uid == geteuid();
}

static void drop_client(struct attach *a, int i)
{
    int fd = a->clients[i];
    if (fd == a->owner) {
        a->owner = -1;
        /* `run -i` went away: the input ends with it (docker's StdinOnce) */
        if (a->input >= 0 && !a->tty) {
            close(a->input);
            a->input = -1;
        }
    }
    close(fd);
    a->clients[i] = a->clients[--a->nclients];
}

void attach_broadcast(struct attach *a, char type, const char *data, size_t len)
{
    for (int i = a->nclients - 1; i >= 0; i--) {
        struct iovec iov[2] = {{.iov_base = &type, .iov_len = 1}, {.iov_base = (void *)data, .iov_len = len}};
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
        int flags = MSG_NOSIGNAL | (a->clients[i] == a->owner ? 0 : MSG_DONTWAIT);
        ssize_t n;
        do
            n = sendmsg(a->clients[i], &msg, flags);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            drop_client(a, i);
    }
}

static void take_frame(struct attach *a, const char *frame, size_t len)
{
    if (len == 0)
        return;
    if (frame[0] == 'i' && a->input >= 0 && len > 1) {
        memcpy(a->pending, frame + 1, len - 1);
        a->pending_len = len - 1;
        a->pending_off = 0;
    } else if (frame[0] == 'c' && a->input >= 0 && !a->tty) {
        close(a->input);
        a->input = -1;
    } else if (frame[0] == 'w' && a->tty && a->input >= 0 && len == 5) {
        uint16_t size[2];
        memcpy(size, frame + 1, sizeof size);
        struct winsize ws = {.ws_row = size[0], .ws_col = size[1]};
        ioctl(a->input, TIOCSWINSZ, &ws);
    }
}

/* Returns -1 when the client is gone. */
static int read_client(struct attach *a, int fd)
{
    char frame[FRAME_MAX + 1];
    ssize_t n = recv(fd, frame, sizeof frame, MSG_DONTWAIT);
    if (n < 0)
        return errno == EINTR || errno == EAGAIN ? 0 : -1;
    if (n == 0)
        return -1;
    take_frame(a, frame, (size_t)n);
    return 0;
}

static void flush_input(struct attach *a)
{
    ssize_t n = write(a->input, a->pending + a->pending_off, a->pending_len - a->pending_off);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return;
    if (n < 0) { /* EPIPE: nobody reads the input any more */
        a->pending_len = 0;
        if (!a->tty) {
            close(a->input);
            a->input = -1;
        }
        return;
    }
    a->pending_off += (size_t)n;
    if (a->pending_off == a->pending_len)
        a->pending_len = 0;
}

/* Entries: the listener, the input (while something waits for it), every client (read
 * only while no input waits: one frame at a time is the backpressure). */
int attach_poll_fill(struct attach *a, struct pollfd *p)
{
    p[0] = (struct pollfd){.fd = a->listener, .events = POLLIN};
    p[1] = (struct pollfd){.fd = a->pending_len ? a->input : -1, .events = POLLOUT};
    for (int i = 0; i < a->nclients; i++)
        p[2 + i] = (struct pollfd){.fd = a->clients[i], .events = a->pending_len ? 0 : POLLIN};
    return 2 + a->nclients;
}

void attach_poll_handle(struct attach *a, struct pollfd *p, int n)
{
    if (p[1].revents && a->input >= 0)
        flush_input(a);
    for (int i = n - 3; i >= 0; i--) { /* backwards: a drop moves the last client into i */
        /* a client dropped since the poll (a failed send) moved another into its slot */
        if (i >= a->nclients || !p[2 + i].revents || a->clients[i] != p[2 + i].fd)
            continue;
        if ((p[2 + i].revents & POLLIN) && !a->pending_len) {
            if (read_client(a, a->clients[i]) < 0)
                drop_client(a, i);
        } else if (p[2 + i].revents & (POLLHUP | POLLERR)) {
            drop_client(a, i);
        }
    }
    if (p[0].revents & POLLIN && a->nclients < MAX_CLIENTS) {
        int fd = accept4(a->listener, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0 && peer_allowed(fd))
            a->clients[a->nclients++] = fd;
        else if (fd >= 0)
            close(fd);
    }
}

int attach_finish(struct attach *a, int code)
{
    if (a->listener >= 0) {
        close(a->listener);
        unlinkat(a->dirfd, a->name, 0);
    }
    char text[16];
    int len = snprintf(text, sizeof text, "%d", code);
    attach_broadcast(a, 'x', text, (size_t)len);
    for (int i = a->nclients - 1; i >= 0; i--)
        if (a->clients[i] != a->owner)
            drop_client(a, i);
    if (a->owner < 0)
        return 0;
    /* the owner records the exit (and removes a --rm container), then says 'd' */
    int done = 0;
    for (;;) {
        char frame[FRAME_MAX + 1];
        ssize_t n = recv(a->owner, frame, sizeof frame, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (frame[0] == 'd') {
            done = 1;
            break;
        }
    }
    close(a->owner);
    return done;
}
