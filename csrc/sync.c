#define _GNU_SOURCE
#include "sync.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

int pyctr_msg_send(int sock, uint32_t type, const struct pyctr_err *body, int fd)
{
    struct pyctr_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.type = type;
    if (body)
        msg.err = *body;
    struct iovec iov = {.iov_base = &msg, .iov_len = sizeof msg};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr hdr = {.msg_iov = &iov, .msg_iovlen = 1};
    if (fd >= 0) {
        memset(&ctl, 0, sizeof ctl);
        hdr.msg_control = ctl.buf;
        hdr.msg_controllen = sizeof ctl.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&hdr);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    ssize_t n;
    do
        n = sendmsg(sock, &hdr, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    if ((size_t)n != sizeof msg) {
        errno = EPROTO;
        return -1;
    }
    return 0;
}

int pyctr_msg_send_pid(int sock, pid_t pid)
{
    struct pyctr_msg msg;
    memset(&msg, 0, sizeof msg);
    msg.type = PYCTR_MSG_PID;
    msg.pid = pid;
    ssize_t n;
    do
        n = send(sock, &msg, sizeof msg, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)sizeof msg ? 0 : -1;
}

int pyctr_msg_recv(int sock, struct pyctr_msg *msg, int *fd)
{
    struct iovec iov = {.iov_base = msg, .iov_len = sizeof *msg};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr hdr = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = sizeof ctl.buf};
    if (fd)
        *fd = -1;
    /* EINTR is returned, not retried: the parent's caller must get to run signal handlers */
    ssize_t n = recvmsg(sock, &hdr, MSG_CMSG_CLOEXEC);
    if (n < 0)
        return -1;
    if (n == 0)
        return 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&hdr); c; c = CMSG_NXTHDR(&hdr, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && fd)
            memcpy(fd, CMSG_DATA(c), sizeof(int));
    }
    if ((size_t)n != sizeof *msg) {
        if (fd && *fd >= 0) {
            close(*fd);
            *fd = -1;
        }
        errno = EPROTO;
        return -1;
    }
    msg->err.message[PYCTR_ERR_MSG - 1] = '\0';
    return 1;
}
