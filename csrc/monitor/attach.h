/* The monitor's attach socket: who sees the container's output and types its input.
 *
 * SOCK_SEQPACKET, one message per frame, its first byte the frame's type:
 *
 *   monitor -> client   'o' stdout bytes | 'e' stderr bytes | 'x' the exit code, in decimal
 *   client -> monitor   'i' input bytes  | 'c' close the input | 'w' rows, cols (2 x uint16)
 *                       'd' (the owner) the exit is handled
 *
 * The owner is the `pyctr run` (or `start -a`) that started the container in the
 * foreground: it holds a socketpair end from before the start, so it misses no output,
 * and its sends are blocking (backpressure, as a pipe gives).  Others connect to the
 * listening socket later (`pyctr attach`); one that falls a socket buffer behind is let
 * go rather than let stall the container.  After the exit the owner records it and sends
 * 'd'; if it goes away without that (killed), the monitor runs the cleanup itself. */
#ifndef PYCTR_MONITOR_ATTACH_H
#define PYCTR_MONITOR_ATTACH_H

#include <poll.h>
#include <stddef.h>

#define MAX_CLIENTS 32
#define FRAME_MAX 32768

struct attach {
    int listener, dirfd;
    const char *name; /* of the socket, in dirfd */
    int clients[MAX_CLIENTS];
    int nclients;
    int owner; /* fd, or -1 */
    int input; /* the stdin pipe's write end or the pty master, or -1 */
    int tty;
    char pending[FRAME_MAX];
    size_t pending_len, pending_off;
};

void attach_init(struct attach *a, int owner, int input, int tty);
int attach_listen(struct attach *a, const char *path);
/* Adds the poll entries it needs at p; returns how many. */
int attach_poll_fill(struct attach *a, struct pollfd *p);
void attach_poll_handle(struct attach *a, struct pollfd *p, int n);
void attach_broadcast(struct attach *a, char type, const char *data, size_t len);
/* After the exit: tells every client the code and lets them go, then waits for the owner.
 * Returns 1 when the owner handled the exit. */
int attach_finish(struct attach *a, int code);

#endif
