/* The parent <-> child sync protocol over a SOCK_SEQPACKET socketpair.
 *
 *   parent                                  child (waits first thing)
 *   clone ------------------------------->  [user namespace: read(IDMAP) x 2n, userns.h]
 *                                           read(GO)
 *   cgroups, uid maps, network ...            |
 *   write(GO) --------------------------->    v
 *                                           mounts, pivot_root, stdio ...
 *   recv(PTY + SCM_RIGHTS master)  <------  [tty only] send(PTY, master fd)
 *   [hooks: send(PID, the child's host pid) before GO]
 *   recv(HOOKS), run hooks, GO ----->  [hooks_sync: before pivot_root, waits for GO]
 *   recv(CREATED)                  <------  [start_fd: set up, waits on the fifo for `start`]
 *   recv(EXEC)                     <------  setup done, about to execve
 *   recv(ERROR)                    <------  on any failure: send(ERROR {stage, errno, msg}), _exit
 *   recv() == 0 (EOF) after EXEC   <------  execve succeeded: the child's end is close-on-exec
 *   recv() == 0 (EOF) before EXEC  <------  the child died during setup (a signal, a crash)
 */
#ifndef PYCTR_SYNC_H
#define PYCTR_SYNC_H

#include "pyctr.h"

enum pyctr_msg_type {
    PYCTR_MSG_GO = 1,
    PYCTR_MSG_ERROR = 2,
    PYCTR_MSG_PTY = 3,
    PYCTR_MSG_EXEC = 4,
    PYCTR_MSG_PID = 5, /* exec: the pid of the process made inside the container */
    PYCTR_MSG_IDMAP = 6, /* user namespace: an idmapped mount, then where to attach it */
    PYCTR_MSG_HOOKS = 7, /* the child waits for GO while the parent runs its hooks */
    PYCTR_MSG_CREATED = 8, /* set up: it waits for `start` (start_fd), then finds its command */
};

struct pyctr_msg {
    uint32_t type;
    int32_t pid; /* PYCTR_MSG_PID */
    struct pyctr_err err;
};

/* Sends a message, with `fd` attached as SCM_RIGHTS when fd >= 0. */
int pyctr_msg_send(int sock, uint32_t type, const struct pyctr_err *body, int fd);
int pyctr_msg_send_pid(int sock, pid_t pid);
/* Receives one message.  Returns 1 on a message, 0 on EOF, -1 on error (errno set;
 * EINTR included).  A received fd lands in *fd (else -1). */
int pyctr_msg_recv(int sock, struct pyctr_msg *msg, int *fd);

#endif
