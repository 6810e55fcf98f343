#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../sync.h"
#include "check.h"

static void test_error_record_round_trip(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    struct pyctr_err err;
    pyctr_set_err(&err, PYCTR_STAGE_PIVOT, 22, "pivot_root", "/x");
    CHECK(pyctr_msg_send(sv[1], PYCTR_MSG_ERROR, &err, -1) == 0);
    close(sv[1]);
    struct pyctr_msg msg;
    int fd;
    CHECK(pyctr_msg_recv(sv[0], &msg, &fd) == 1);
    CHECK(msg.type == PYCTR_MSG_ERROR && fd == -1);
    CHECK(msg.err.stage == PYCTR_STAGE_PIVOT && msg.err.errnum == 22);
    CHECK_STR(msg.err.message, "pivot_root: /x");
    CHECK(pyctr_msg_recv(sv[0], &msg, &fd) == 0); /* EOF */
    close(sv[0]);
}

static void test_fd_passing(void)
{
    int sv[2], pipefd[2];
    CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
    CHECK(pipe(pipefd) == 0);
    CHECK(pyctr_msg_send(sv[1], PYCTR_MSG_PTY, NULL, pipefd[1]) == 0);
    struct pyctr_msg msg;
    int fd;
    CHECK(pyctr_msg_recv(sv[0], &msg, &fd) == 1);
    CHECK(msg.type == PYCTR_MSG_PTY && fd >= 0);
    CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    CHECK(write(fd, "k", 1) == 1);
    char c = 0;
    CHECK(read(pipefd[0], &c, 1) == 1 && c == 'k');
    close(fd);
    close(pipefd[0]);
    close(pipefd[1]);
    close(sv[0]);
    close(sv[1]);
}

int main(void)
{
    test_error_record_round_trip();
    test_fd_passing();
    return check_failures != 0;
}
