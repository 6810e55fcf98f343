/* Removing a container's directory tree, for `rm` and `run --rm` (parent side: nftw
 * allocates).  In C because shutil, the Python way, costs `run --rm` an import of re,
 * fnmatch and the compression modules, more than the removal itself. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <stdio.h>

#include "pyctr.h"

static int first_errno; /* nftw's callback has no argument; one caller at a time (the GIL) */

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (type == FTW_NS || type == FTW_DNR) /* cannot be read: still try to remove it */
        first_errno = first_errno ? first_errno : EACCES;
    if (remove(path) < 0 && errno != ENOENT && !first_errno)
        first_errno = errno;
    return 0; /* go on: remove what can be removed, as rm -rf */
}

/* Removes path and everything below it.  Never follows a symbolic link (FTW_PHYS: what a
 * container wrote into its upper directory is not trusted) and never crosses into another
 * mount (FTW_MOUNT).  Returns 0, or -1 with errno of the first failure; a missing path is
 * not one. */
int pyctr_remove_tree(const char *path)
{
    first_errno = 0;
    if (nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && errno != ENOENT)
        return -1;
    if (first_errno) {
        errno = first_errno;
        return -1;
    }
    return 0;
}
