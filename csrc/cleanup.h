/* Cleanup attributes (as in crun and systemd) keep error paths short and leak-free. */
#ifndef PYCTR_CLEANUP_H
#define PYCTR_CLEANUP_H

#include <errno.h>
#include <unistd.h>

static inline void pyctr_closep(int *fd)
{
    if (*fd >= 0) {
        int saved = errno; /* close must not clobber the errno an error path reports */
        close(*fd);
        errno = saved;
    }
}

#define _cleanup_close_ __attribute__((cleanup(pyctr_closep)))

#endif
