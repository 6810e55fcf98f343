/* The warm pyctr's wire protocol: what the `pyctr` client (client/main.c) and the warm
 * process (pyctr/cli/server.py, which reads these numbers through _core) say over the
 * unix stream socket <runroot>/server/sock.
 *
 * The client sends one request: a header, the client's resource limits, then argv and
 * the environment as NUL-terminated strings; with the header's bytes go its working
 * directory (an O_PATH fd) and its stdin, stdout and stderr (SCM_RIGHTS; only those the
 * `stdio` mask says are open).  Then, while the command runs, SIGNAL and CONT messages.
 * The server answers with 8-byte messages: the worker's RUNNING (from here on the
 * command has begun), then EXIT, SIGNALED or STOPPED.  FALLBACK or REFUSED before RUNNING
 * mean "run the command yourself": nothing of it was done. */
#ifndef PYCTR_CLIENT_PROTOCOL_H
#define PYCTR_CLIENT_PROTOCOL_H

#include <stdint.h>

#define PYCTR_SERVER_MAGIC 0x50594353u /* "PYCS" */
#define PYCTR_SERVER_VERSION 1u
#define PYCTR_SERVER_DIR "server"  /* under the runroot, 0700 */
#define PYCTR_SERVER_SOCKET "sock" /* in it, 0600 */
#define PYCTR_SERVER_LOCK "lock"   /* held by the one server of a runroot */
#define PYCTR_SERVER_LOCK_FD 3     /* where a client that starts a server hands it the lock */
#define PYCTR_SERVER_STARTING "pyctr-server" /* the name of a client's child about to exec one */
#define PYCTR_SERVER_MAX_BODY (4u << 20) /* argv and environment together */
#define PYCTR_SERVER_RLIMITS 16    /* RLIM_NLIMITS on Linux */

enum pyctr_server_kind {
    PYCTR_REQUEST_RUN = 1,  /* a command line to run */
    PYCTR_REQUEST_STOP = 2, /* `pyctr system server --stop` */
};

/* server -> client */
enum pyctr_server_reply {
    PYCTR_REPLY_RUNNING = 1,  /* the worker took the command: no fallback any more */
    PYCTR_REPLY_EXIT = 2,     /* value: the exit code */
    PYCTR_REPLY_SIGNALED = 3, /* value: the signal that killed the worker */
    PYCTR_REPLY_FALLBACK = 4, /* run it cold; value: why (below) */
    PYCTR_REPLY_REFUSED = 5,  /* not root nor the socket's owner */
    PYCTR_REPLY_STOPPED = 6,  /* the worker stopped (SIGSTOP, SIGTSTP ...): stop too */
    PYCTR_REPLY_STOPPING = 7, /* answer to STOP; value: the server's pid */
};

/* client -> server, after the request */
enum pyctr_client_message {
    PYCTR_MESSAGE_SIGNAL = 1, /* value: a signal the client received, for the worker */
    PYCTR_MESSAGE_CONT = 2,   /* the client was continued: continue the worker */
};

/* why a request went back to the client (FALLBACK's value) */
enum pyctr_fallback_reason {
    PYCTR_FALLBACK_CHANGED = 1,   /* the installed pyctr changed: the server restarts */
    PYCTR_FALLBACK_ELSEWHERE = 2, /* the client is in other namespaces, root or cgroups */
    PYCTR_FALLBACK_LIMITS = 3,    /* its resource limits cannot be taken on */
    PYCTR_FALLBACK_BAD = 4,       /* a request the server could not read */
    PYCTR_FALLBACK_CLOSING = 5,   /* the server is on its way out */
};

struct pyctr_request_header {
    uint32_t magic, version, kind;
    uint32_t body; /* bytes of strings after the limits */
    uint32_t argc, envc;
    uint32_t umask;
    uint32_t stdio; /* bit i: fd i was open and is among the fds sent */
    uint64_t ignored; /* bit n: signal n was ignored (SIG_IGN), as the worker must have it */
    uint64_t sigmask; /* bit n: signal n was blocked when the client started */
    uint64_t rlimits[PYCTR_SERVER_RLIMITS][2]; /* {soft, hard} */
};

struct pyctr_message {
    uint32_t kind;
    int32_t value;
};

#endif
