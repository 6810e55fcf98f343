/* Copies between the host terminal and a container's pty master.
 *
 * The master is non-blocking and input waits in a buffer until the master can take it:
 * a container that does not read its input must neither stop its output from flowing
 * nor keep us from returning to Python to handle signals. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "pyctr.h"

static int write_all(int fd, const char *buf, size_t len)
{
    while (len) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Returns 1 while the master has more to say, 0 once the container side is closed. */
static int pump_output(int master, int out_fd, struct pyctr_err *err)
{
    char buf[16384];
    ssize_t n = read(master, buf, sizeof buf);
    if (n > 0) {
        if (write_all(out_fd, buf, (size_t)n) < 0)
            return pyctr_set_err(err, PYCTR_STAGE_TTY, errno, "write to terminal", NULL);
        return 1;
    }
    if (n == 0 || errno == EIO) /* EIO: every slave fd is closed */
        return 0;
    if (errno == EINTR || errno == EAGAIN)
        return 1;
    return pyctr_set_err(err, PYCTR_STAGE_TTY, errno, "read from pty", NULL);
}

static void read_input(struct pyctr_relay *r, int in_fd)
{
    ssize_t n = read(in_fd, r->buf, sizeof r->buf);
    if (n > 0) {
        r->len = (size_t)n;
        r->off = 0;
    } else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
        r->in_open = 0; /* EOF or error on our input: stop reading it, keep showing output */
    }
}

/* Returns 1 while the container side is open, 0 once it is closed. */
static int flush_input(struct pyctr_relay *r, int master, struct pyctr_err *err)
{
    ssize_t n = write(master, r->buf + r->off, r->len - r->off);
    if (n > 0) {
        r->off += (size_t)n;
        if (r->off == r->len)
            r->len = r->off = 0;
        return 1;
    }
    if (errno == EAGAIN || errno == EINTR)
        return 1;
    if (errno == EIO)
        return 0;
    return pyctr_set_err(err, PYCTR_STAGE_TTY, errno, "write to pty", NULL);
}

int pyctr_relay(struct pyctr_relay *r, int master, int in_fd, int out_fd, int wake_fd, struct pyctr_err *err)
{
    int flags = fcntl(master, F_GETFL);
    if (flags < 0 || fcntl(master, F_SETFL, flags | O_NONBLOCK) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_TTY, errno, "make pty non-blocking", NULL);
    for (;;) {
        int pending = r->len > r->off;
        struct pollfd p[3] = {
            {.fd = master, .events = (short)(POLLIN | (pending ? POLLOUT : 0))},
            {.fd = wake_fd, .events = POLLIN},
            {.fd = (in_fd >= 0 && r->in_open && !pending) ? in_fd : -1, .events = POLLIN},
        };
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                return 1;
            return pyctr_set_err(err, PYCTR_STAGE_TTY, errno, "poll", NULL);
        }
        if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            int rc = pump_output(master, out_fd, err);
            if (rc <= 0)
                return rc;
        }
        if ((p[0].revents & POLLOUT) && pending) {
            int rc = flush_input(r, master, err);
            if (rc <= 0)
                return rc;
        }
        if (p[2].revents)
            read_input(r, in_fd);
        if (p[1].revents)
            return 1;
    }
}
