/* pyctr_remove_tree: everything below goes, nothing a symbolic link points at does. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../pyctr.h"
#include "check.h"

static char base[] = "/tmp/pyctr-test-tree-XXXXXX";

static void path(char *out, const char *name)
{
    snprintf(out, 256, "%s/%s", base, name);
}

static void make_file(const char *name)
{
    char p[256];
    path(p, name);
    int fd = open(p, O_CREAT | O_WRONLY, 0600);
    CHECK(fd >= 0);
    close(fd);
}

static void make_dir(const char *name, mode_t mode)
{
    char p[256];
    path(p, name);
    CHECK(mkdir(p, mode) == 0);
}

static void test_removes_a_tree_but_not_what_links_point_at(void)
{
    char p[256], q[256];
    make_dir("outside", 0700);
    make_file("outside/keep");
    make_dir("tree", 0700);
    make_dir("tree/a", 0000); /* no permissions: root removes it all the same */
    make_file("tree/a/file");
    path(p, "outside");
    path(q, "tree/link");
    CHECK(symlink(p, q) == 0); /* a container's symlink to the host: not followed */
    path(q, "tree/fifo");
    CHECK(mkfifo(q, 0600) == 0);

    path(p, "tree");
    CHECK(pyctr_remove_tree(p) == 0);
    CHECK(access(p, F_OK) < 0);
    path(p, "outside/keep");
    CHECK(access(p, F_OK) == 0);
}

/* Deeper than PATH_MAX in bytes, as a container can make its upper dir. */
static void test_removes_a_tree_longer_than_path_max(void)
{
    char p[256], name[201];
    memset(name, 'd', 200);
    name[200] = '\0';
    make_dir("deep", 0700);
    path(p, "deep");
    int fd = open(p, O_RDONLY | O_DIRECTORY);
    for (int i = 0; i < 30 && fd >= 0; i++) { /* 30 x 201 bytes */
        CHECK(mkdirat(fd, name, 0700) == 0);
        int sub = openat(fd, name, O_RDONLY | O_DIRECTORY);
        close(fd);
        fd = sub;
    }
    CHECK(fd >= 0);
    int file = openat(fd, "file", O_CREAT | O_WRONLY, 0600);
    CHECK(file >= 0);
    close(file);
    close(fd);
    CHECK(pyctr_remove_tree(p) == 0);
    CHECK(access(p, F_OK) < 0);
}

/* A mount inside the tree is not entered: its content stays, and the failure says so. */
static void test_does_not_enter_a_mount(void)
{
    if (geteuid() != 0 || unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
        fprintf(stderr, "test_does_not_enter_a_mount: skipped (needs root)\n");
        return;
    }
    char p[256], q[256];
    make_dir("source", 0700);
    make_file("source/keep");
    make_dir("tree2", 0700);
    make_dir("tree2/mnt", 0700);
    path(p, "tree2/mnt");
    path(q, "source");
    CHECK(mount(q, p, NULL, MS_BIND, NULL) == 0); /* the same filesystem: only the mount id tells */
    path(p, "tree2");
    errno = 0;
    CHECK(pyctr_remove_tree(p) < 0 && errno == EBUSY);
    path(p, "source/keep");
    CHECK(access(p, F_OK) == 0);
    path(p, "tree2/mnt");
    CHECK(umount2(p, MNT_DETACH) == 0);
    path(p, "tree2");
    CHECK(pyctr_remove_tree(p) == 0);
    path(p, "source/keep");
    unlink(p);
    path(p, "source");
    rmdir(p);
}

static void test_a_missing_tree_is_no_failure(void)
{
    char p[256];
    path(p, "never-made");
    CHECK(pyctr_remove_tree(p) == 0);
}

int main(void)
{
    CHECK(mkdtemp(base) != NULL);
    test_removes_a_tree_but_not_what_links_point_at();
    test_a_missing_tree_is_no_failure();
    test_removes_a_tree_longer_than_path_max();
    test_does_not_enter_a_mount(); /* last: it moves this process into a mount namespace of its own */
    char p[256];
    path(p, "outside/keep");
    unlink(p);
    path(p, "outside");
    rmdir(p);
    rmdir(base);
    return check_failures != 0;
}
