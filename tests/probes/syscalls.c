/* A static probe run as a container's process: tries syscalls a seccomp profile decides
 * on and prints one line per case, "name errno" (0: allowed and it worked).  Cases that
 * would change the probe itself run in a child. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/io_uring.h>
#include <linux/perf_event.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEY_SPEC_PROCESS_KEYRING -2
#define KEY_SPEC_USER_KEYRING -4
#define UFFD_USER_MODE_ONLY 1

static int result(long rc) { return rc < 0 ? errno : 0; }

/* Runs `fn` in a child; its exit code is the errno it saw. */
static int in_child(int (*fn)(void))
{
    pid_t pid = fork();
    if (pid == 0)
        _exit(fn());
    int status;
    if (pid < 0 || waitpid(pid, &status, 0) < 0)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static int reap(long pid)
{
    if (pid < 0)
        return errno;
    if (pid == 0)
        _exit(0);
    waitpid((pid_t)pid, NULL, 0);
    return 0;
}

static int do_unshare_user(void) { return result(unshare(CLONE_NEWUSER)); }
static int do_clone_newuser(void) { return reap(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0)); }
static int do_clone3(void)
{
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.exit_signal = SIGCHLD;
    return reap(syscall(SYS_clone3, &args, sizeof args));
}
static int do_personality(void)
{
    int rc = personality(READ_IMPLIES_EXEC);
    return rc < 0 ? errno : personality(0xffffffff) & READ_IMPLIES_EXEC ? 0 : EPERM;
}
static int do_fork(void) { return reap(fork()); }
static void *thread_body(void *arg) { return arg; }
static int do_thread(void)
{
    pthread_t t;
    int rc = pthread_create(&t, NULL, thread_body, NULL);
    if (rc)
        return rc;
    return pthread_join(t, NULL);
}
static int do_perf(void)
{
    struct perf_event_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    attr.exclude_kernel = 1;
    return result(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
}
static int do_io_uring(void)
{
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    return result(syscall(SYS_io_uring_setup, 1, &p));
}
static int do_mmap(void)
{
    void *p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? errno : munmap(p, 1 << 20) < 0 ? errno : 0;
}
static int do_futex(void)
{
    uint32_t word = 0;
    return result(syscall(SYS_futex, &word, 1 /* FUTEX_WAKE */, 1, NULL, NULL, 0));
}

int main(void)
{
    printf("keyctl %d\n", result(syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, KEY_SPEC_USER_KEYRING, 0)));
    printf("add_key %d\n", result(syscall(SYS_add_key, "user", "pyctr-probe", "x", 1, KEY_SPEC_PROCESS_KEYRING)));
    printf("request_key %d\n", result(syscall(SYS_request_key, "user", "pyctr-probe-none", NULL, 0)));
    printf("unshare_user %d\n", in_child(do_unshare_user));
    printf("clone_newuser %d\n", in_child(do_clone_newuser));
    printf("clone3 %d\n", in_child(do_clone3));
    printf("personality %d\n", in_child(do_personality));
    printf("perf_event_open %d\n", do_perf());
    printf("io_uring_setup %d\n", do_io_uring());
    printf("userfaultfd %d\n", result(syscall(SYS_userfaultfd, UFFD_USER_MODE_ONLY)));
    printf("fork %d\n", in_child(do_fork));
    printf("thread %d\n", in_child(do_thread));
    printf("mmap %d\n", do_mmap());
    printf("futex %d\n", do_futex());
    printf("socket %d\n", result(socket(AF_INET, SOCK_STREAM, 0)));
    printf("socket_vsock %d\n", result(socket(40 /* AF_VSOCK */, SOCK_STREAM, 0)));
    return 0;
}
