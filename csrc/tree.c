/* Removing a container's directory tree, for `rm` and `run --rm` (parent side: it
 * allocates).  In C because shutil, the Python way, costs `run --rm` an import of re,
 * fnmatch and the compression modules, more than the removal itself.
 *
 * What a container wrote into its upper directory is not trusted, so the walk goes by
 * file descriptor, as shutil.rmtree's does: every entry is looked at and removed
 * relative to its directory (no path grows past PATH_MAX however deep the tree), no
 * symbolic link is followed, and no other mount is entered.  It holds one descriptor at
 * any depth: a directory is left through "..", checked to be the one it was entered from,
 * and what is still to visit lives on the heap, not the C stack. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pyctr.h"

#ifndef STATX_MNT_ID
#define STATX_MNT_ID 0x00001000U /* linux/stat.h, 5.8 */
#endif

struct level {
    char **names; /* the directory's entries, read when it was entered */
    size_t n, next;
    dev_t dev;
    ino_t ino; /* the directory itself: the way back up must lead here */
};

struct walk {
    struct level *levels;
    size_t depth, cap;
    int fd; /* the directory at the top of the stack */
    int first_errno;
    uint64_t mnt_id; /* the tree's mount */
};

static void note(struct walk *w, int err)
{
    if (err != ENOENT && !w->first_errno) /* gone already is what we want */
        w->first_errno = err;
}

static uint64_t mount_id(int fd)
{
    struct statx stx;
    if (statx(fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) < 0 || !(stx.stx_mask & STATX_MNT_ID))
        return 0; /* unknown: st_dev alone decides */
    return stx.stx_mnt_id;
}

static void free_level(struct level *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->names[i]);
    free(l->names);
}

/* Room on the stack for one more level. */
static int reserve(struct walk *w)
{
    if (w->depth < w->cap)
        return 0;
    size_t cap = w->cap ? 2 * w->cap : 16;
    struct level *grown = realloc(w->levels, cap * sizeof *grown);
    if (!grown)
        return -1;
    w->levels = grown;
    w->cap = cap;
    return 0;
}

/* Reads w->fd's entries into a new level on the stack (reserved already). */
static int push(struct walk *w)
{
    struct stat st;
    if (fstat(w->fd, &st) < 0)
        return -1;
    struct level l = {NULL, 0, 0, st.st_dev, st.st_ino};
    int dup_fd = fcntl(w->fd, F_DUPFD_CLOEXEC, 0);
    DIR *dir = dup_fd < 0 ? NULL : fdopendir(dup_fd);
    if (!dir) {
        if (dup_fd >= 0)
            close(dup_fd);
        return -1;
    }
    size_t cap = 0;
    struct dirent *e;
    int err = 0;
    while ((errno = 0, e = readdir(dir)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        if (l.n == cap) {
            cap = cap ? 2 * cap : 16;
            char **grown = realloc(l.names, cap * sizeof *grown);
            if (!grown) {
                err = ENOMEM;
                break;
            }
            l.names = grown;
        }
        if (!(l.names[l.n] = strdup(e->d_name))) {
            err = ENOMEM;
            break;
        }
        l.n++;
    }
    err = err ? err : errno;
    closedir(dir);
    if (err) {
        free_level(&l);
        errno = err;
        return -1;
    }
    w->levels[w->depth++] = l;
    return 0;
}

/* The next entry of the top directory: a file is removed, a directory entered. */
static void step(struct walk *w)
{
    struct level *top = &w->levels[w->depth - 1];
    const char *name = top->names[top->next++];
    struct stat st;
    if (fstatat(w->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        note(w, errno);
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(w->fd, name, 0) < 0)
            note(w, errno);
        return;
    }
    int sub = reserve(w) < 0 ? -1 : openat(w->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0) {
        note(w, errno);
        return;
    }
    if (st.st_dev != top->dev || (w->mnt_id && mount_id(sub) != w->mnt_id)) {
        close(sub); /* a mount point: not ours to empty, and its directory stays */
        note(w, EBUSY);
        return;
    }
    close(w->fd);
    w->fd = sub;
    if (push(w) < 0) { /* unreadable: an empty level, so that it is left at once */
        note(w, errno);
        w->levels[w->depth++] = (struct level){NULL, 0, 0, st.st_dev, st.st_ino};
    }
}

/* The top directory is empty: back up to its parent and remove it.  0, or -1 when the
 * way back does not lead where it came from (the walk must stop). */
static int leave(struct walk *w)
{
    free_level(&w->levels[--w->depth]);
    if (w->depth == 0)
        return 0;
    int up = openat(w->fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    close(w->fd);
    w->fd = up;
    struct level *parent = &w->levels[w->depth - 1];
    struct stat st;
    if (up < 0 || fstat(up, &st) < 0 || st.st_dev != parent->dev || st.st_ino != parent->ino) {
        note(w, up < 0 ? errno : ESTALE);
        return -1;
    }
    if (unlinkat(up, parent->names[parent->next - 1], AT_REMOVEDIR) < 0)
        note(w, errno);
    return 0;
}

/* Removes path and everything below it.  Returns 0, or -1 with errno of the first
 * failure after removing all it could (as rm -rf); a missing path is not a failure. */
int pyctr_remove_tree(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISDIR(st.st_mode))
        return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
    struct walk w = {NULL, 0, 0, -1, 0, 0};
    w.fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (w.fd < 0)
        return errno == ENOENT ? 0 : -1;
    w.mnt_id = mount_id(w.fd);
    if (reserve(&w) < 0 || push(&w) < 0)
        note(&w, errno);
    while (w.depth > 0) {
        struct level *top = &w.levels[w.depth - 1];
        if (top->next < top->n)
            step(&w);
        else if (leave(&w) < 0)
            break;
    }
    if (w.fd >= 0)
        close(w.fd);
    while (w.depth > 0)
        free_level(&w.levels[--w.depth]);
    free(w.levels);
    if (rmdir(path) < 0)
        note(&w, errno);
    if (w.first_errno) {
        errno = w.first_errno;
        return -1;
    }
    return 0;
}
