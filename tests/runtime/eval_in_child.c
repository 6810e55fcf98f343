/* Test-only: a child that runs Python between clone and execve, the negative control of
 * test_no_eval_in_child.py.  Never built into pyctr: the test compiles it and loads it into
 * the interpreter with ctypes (which releases the GIL around the call, as pyctr's spawn
 * does), and it clones as csrc/spawn.c does, with a raw clone3 and no stack. */
#define _GNU_SOURCE
#include <Python.h>
#include <errno.h>
#include <linux/sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The child runs `code` through the C API when it is not NULL (taking the GIL first, as
 * any C code in a clone of pyctr would have to), then execs `path`.  Returns the child's
 * exit status, or -1 if the clone failed. */
int clone_then_exec(const char *code, const char *path)
{
    struct clone_args args;
    memset(&args, 0, sizeof args);
    args.exit_signal = SIGCHLD;
    pid_t pid = (pid_t)syscall(SYS_clone3, &args, sizeof args);
    if (pid < 0)
        return -1;
    if (pid == 0) {
        if (code) {
            PyGILState_Ensure();
            PyRun_SimpleString(code);
        }
        char *const argv[] = {(char *)path, NULL};
        execve(path, argv, environ);
        _exit(127);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
