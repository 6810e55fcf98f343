/* pyctr_remove_tree: everything below goes, nothing a symbolic link points at does. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
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

static void test_removes_a_tree_but_not_what_links_point_at(void)
{
    char p[256], q[256];
    path(p, "outside");
    CHECK(mkdir(p, 0700) == 0);
    make_file("outside/keep");
    path(p, "tree");
    CHECK(mkdir(p, 0700) == 0);
    path(p, "tree/a");
    CHECK(mkdir(p, 0000) == 0); /* no permissions: root removes it all the same */
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
    char p[256];
    path(p, "outside/keep");
    unlink(p);
    path(p, "outside");
    rmdir(p);
    rmdir(base);
    return check_failures != 0;
}
