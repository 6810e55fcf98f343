/* Keeps cgroup v1's attach path warm while a container is being prepared.
 *
 * On v1 a container is placed by writing its pid into cgroup.procs.  Each such write takes
 * the kernel's cgroup_threadgroup_rwsem for writing, and the first write after a quiet
 * spell waits for an RCU grace period first (rcu_sync_enter): 5-20 ms here, the largest
 * single cost of `pyctr run` on a v1 host (benchmarks/RESULTS.md).  Writes that come while
 * an earlier one is still waiting, or within a grace period after one, do not wait again.
 *
 * So pyctr starts this thread as soon as it knows it will place a process: it moves its
 * own process into the cgroup it is already in (a no-op move, in a hierarchy with no attach
 * side effects), every 2 ms, until told to stop or for at most a second.  The grace period
 * then passes while Python imports its modules, and the real placement finds it passed.
 * On v2, clone3(CLONE_INTO_CGROUP) takes no such lock and this is not used. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pyctr.h"

#define WARM_PERIOD_NS 2000000L
#define WARM_MAX_ROUNDS 500 /* a second: the start-up it serves is far shorter */

static atomic_int warm_stop;
static atomic_int warm_running;

static void *warm_loop(void *arg)
{
    int fd = (int)(long)arg;
    struct timespec period = {0, WARM_PERIOD_NS};
    for (int i = 0; i < WARM_MAX_ROUNDS && !atomic_load(&warm_stop); i++) {
        if (write(fd, "0", 1) < 0) /* "0": the writing process itself */
            break;
        nanosleep(&period, NULL);
    }
    close(fd);
    atomic_store(&warm_running, 0);
    return NULL;
}

int pyctr_warm_attach_start(const char *own_procs)
{
    int expected = 0;
    if (!atomic_compare_exchange_strong(&warm_running, &expected, 1))
        return 0; /* one is enough */
    atomic_store(&warm_stop, 0);
    int fd = open(own_procs, O_WRONLY | O_CLOEXEC);
    pthread_attr_t attr;
    pthread_t thread;
    if (fd < 0 || pthread_attr_init(&attr) != 0)
        goto fail;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    int rc = pthread_create(&thread, &attr, warm_loop, (void *)(long)fd);
    pthread_attr_destroy(&attr);
    if (rc == 0)
        return 0;
fail:
    if (fd >= 0)
        close(fd);
    atomic_store(&warm_running, 0);
    return -1;
}

void pyctr_warm_attach_stop(void)
{
    atomic_store(&warm_stop, 1);
}

int pyctr_warm_attach_running(void)
{
    return atomic_load(&warm_running);
}
