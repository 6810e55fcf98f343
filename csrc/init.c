/* pyctr-init: pid 1 for `run --init` (docker's tini, ours).
 *
 *   /dev/init -- COMMAND [ARG...]
 *
 * A shell or a plain program as pid 1 neither reaps the orphans reparented to it nor
 * dies of SIGTERM (pid 1 ignores signals it has no handler for).  This runs the command
 * as its child, forwards every signal it gets to it, reaps every child, and exits with
 * the command's status (128 + signal when killed).  Linked statically: it runs in any
 * image, with or without a libc. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    int first = (argc > 1 && strcmp(argv[1], "--") == 0) ? 2 : 1;
    if (first >= argc) {
        fputs("usage: pyctr-init [--] COMMAND [ARG...]\n", stderr);
        return 2;
    }
    sigset_t all, old;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, &old); /* taken with sigwaitinfo below, never lost */
    pid_t child = fork();
    if (child < 0) {
        perror("pyctr-init: fork");
        return 1;
    }
    if (child == 0) {
        sigprocmask(SIG_SETMASK, &old, NULL);
        execvp(argv[first], argv + first);
        fprintf(stderr, "pyctr-init: exec %s: %s\n", argv[first], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&all, &info);
        if (sig < 0)
            continue;
        if (sig != SIGCHLD) {
            kill(child, sig);
            continue;
        }
        int status;
        pid_t pid;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
            if (pid == child)
                return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
        }
    }
}
