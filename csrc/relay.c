/* Copies between the host terminal and a container's pty master. */
#define _GNU_SOURCE
#include <errno.h>
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
static int pump_master(int master, int out_fd, struct pyctr_err *err)
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

static int pump_input(int in_fd, int master, int *in_open, struct pyctr_err *err)
{
    char buf[4096];
    ssize_t n = read(in_fd, buf, sizeof buf);
    if (n > 0)
        return write_all(master, buf, (size_t)n) < 0
                   ? pyctr_set_err(err, PYCTR_STAGE_TTY, errno, "write to pty", NULL)
                   : 0;
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    *in_open = 0; /* EOF or error on our input: stop reading it, keep showing output */
    return 0;
}

int pyctr_relay(int master, int in_fd, int out_fd, int wake_fd, int *in_open, struct pyctr_err *err)
{
    for (;;) {
        struct pollfd p[3] = {{.fd = master, .events = POLLIN},
                              {.fd = wake_fd, .events = POLLIN},
                              {.fd = (in_fd >= 0 && *in_open) ? in_fd : -1, .events = POLLIN}};
        if (poll(p, 3, -1) < 0) {
            if (errno == EINTR)
                return 1;
            return pyctr_set_err(err, PYCTR_STAGE_TTY, errno, "poll", NULL);
        }
        if (p[0].revents) {
            int r = pump_master(master, out_fd, err);
            if (r <= 0)
                return r;
        }
        if (p[2].revents && pump_input(in_fd, master, in_open, err) < 0)
            return -1;
        if (p[1].revents)
            return 1;
    }
}
