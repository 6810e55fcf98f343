/* In-root path resolution on a scratch directory: needs no privileges. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../rootfs.h"
#include "check.h"

static char root[] = "/tmp/pyctr-test-rootfs-XXXXXX";

static int exists(const char *rel)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    struct stat st;
    return lstat(p, &st) == 0;
}

static void test_mkdir_creates_parents(int rootfd)
{
    struct pyctr_err err;
    int fd = pyctr_mkdir_in_root(rootfd, "/a/b/c", PYCTR_STAGE_MOUNT, &err);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    CHECK(exists("a/b/c"));
}

static void test_symlink_cannot_escape(int rootfd)
{
    /* An image's "evil -> /../../etc" must resolve inside the root, not on the host. */
    char link[512];
    snprintf(link, sizeof link, "%s/evil", root);
    CHECK(symlink("/../../tmp/pyctr-escaped-by-test", link) == 0);
    struct pyctr_err err;
    int fd = pyctr_mkdir_in_root(rootfd, "evil/sub", PYCTR_STAGE_MOUNT, &err);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
    CHECK(exists("tmp/pyctr-escaped-by-test/sub"));
    CHECK(access("/tmp/pyctr-escaped-by-test", F_OK) != 0);
}

static void test_touch_file(int rootfd)
{
    struct pyctr_err err;
    int fd = pyctr_touch_in_root(rootfd, "dev/console", PYCTR_STAGE_TTY, &err);
    CHECK(fd >= 0);
    struct stat st;
    CHECK(fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode));
    if (fd >= 0)
        close(fd);
}

static void test_deep_path_does_not_exhaust_the_stack(int rootfd)
{
    /* 1000 components used to mean 1000 recursive frames of ~12 KB each */
    char path[2100];
    size_t n = 0;
    for (int i = 0; i < 1000; i++) {
        path[n++] = 'd';
        path[n++] = '/';
    }
    path[n - 1] = '\0';
    struct pyctr_err err;
    int fd = pyctr_mkdir_in_root(rootfd, path, PYCTR_STAGE_CWD, &err);
    CHECK(fd >= 0);
    if (fd >= 0)
        close(fd);
}

static void test_symlink_loop_is_refused(int rootfd)
{
    char link[512];
    snprintf(link, sizeof link, "%s/loop", root);
    CHECK(symlink("/loop/x", link) == 0);
    struct pyctr_err err;
    CHECK(pyctr_mkdir_in_root(rootfd, "loop/y", PYCTR_STAGE_SYMLINK, &err) < 0);
    CHECK(err.errnum == ELOOP);
    CHECK(err.stage == PYCTR_STAGE_SYMLINK); /* the step that wanted the directory */
}

static void test_fd_path(void)
{
    char buf[32];
    pyctr_fd_path(buf, 0);
    CHECK_STR(buf, "/proc/self/fd/0");
    pyctr_fd_path(buf, 1234);
    CHECK_STR(buf, "/proc/self/fd/1234");
}

static void write_file(const char *rel, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", root, rel);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Binds as volumes use them, in a mount namespace of a child's own: a file source gets a
 * file target, ro is enforced on submounts too (rbind), and a target whose parent is a
 * link stays inside the root. */
static void bind_checks(void)
{
    char rootfs[512], src[512], p[600];
    snprintf(rootfs, sizeof rootfs, "%s/bindroot", root);
    snprintf(src, sizeof src, "%s/src", root);
    CHECK(mkdir(rootfs, 0755) == 0 && mkdir(src, 0755) == 0 && mkdir(strcat(strcpy(p, src), "/sub"), 0755) == 0);
    write_file("file", "f\n");
    snprintf(p, sizeof p, "%s/sub", src);
    CHECK(mount("tmpfs", p, "tmpfs", 0, "size=64k") == 0); /* a submount of the source */
    CHECK(symlink("/../../outside", strcat(strcpy(p, rootfs), "/lnk")) == 0);
    int rootfd = open(rootfs, O_PATH | O_DIRECTORY);
    struct pyctr_err err;
    snprintf(p, sizeof p, "%s/file", root);
    struct pyctr_mount file = {.source = p, .target = "etc/f", .flags = MS_BIND | MS_RDONLY};
    CHECK(pyctr_mount_in_root(rootfd, &file, PYCTR_STAGE_MOUNT, &err) == 0);
    struct stat st;
    CHECK(fstatat(rootfd, "etc/f", &st, 0) == 0 && S_ISREG(st.st_mode));
    CHECK(openat(rootfd, "etc/f", O_WRONLY) < 0 && errno == EROFS);
    struct pyctr_mount dir = {.source = src, .target = "lnk/data", .flags = MS_BIND | MS_REC | MS_RDONLY};
    CHECK(pyctr_mount_in_root(rootfd, &dir, PYCTR_STAGE_MOUNT, &err) == 0);
    CHECK(fstatat(rootfd, "outside/data/sub", &st, 0) == 0 && S_ISDIR(st.st_mode));
    CHECK(access("/outside", F_OK) < 0);
    CHECK(openat(rootfd, "outside/data/sub/new", O_WRONLY | O_CREAT, 0600) < 0 && errno == EROFS);
    /* a source the engine resolved, with a link on it now: refused, not followed */
    char linked[600];
    snprintf(linked, sizeof linked, "%s/src-link", root);
    CHECK(symlink(src, linked) == 0);
    strcat(linked, "/sub");
    struct pyctr_mount swapped = {.source = linked, .target = "swapped", .flags = MS_BIND, .source_no_symlinks = 1};
    CHECK(pyctr_mount_in_root(rootfd, &swapped, PYCTR_STAGE_MOUNT, &err) < 0 && err.errnum == ELOOP);
    swapped.source_no_symlinks = 0; /* a runtime bundle's bind follows links, as runc's */
    CHECK(pyctr_mount_in_root(rootfd, &swapped, PYCTR_STAGE_MOUNT, &err) == 0);
    close(rootfd);
}

static void test_bind_mounts(void)
{
    if (geteuid() != 0) {
        fprintf(stderr, "test_bind_mounts: skipped (needs root)\n");
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
            _exit(2);
        bind_checks();
        _exit(check_failures != 0);
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    if (!mkdtemp(root))
        return 2;
    int rootfd = open(root, O_PATH | O_DIRECTORY);
    test_mkdir_creates_parents(rootfd);
    test_symlink_cannot_escape(rootfd);
    test_touch_file(rootfd);
    test_deep_path_does_not_exhaust_the_stack(rootfd);
    test_symlink_loop_is_refused(rootfd);
    test_fd_path();
    test_bind_mounts();
    close(rootfd);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    if (system(cmd) != 0)
        return 2;
    return check_failures != 0;
}
