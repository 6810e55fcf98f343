/* Building the container's filesystem: everything from the rootfs mount to pivot_root.
 * Paths are resolved inside the rootfs with openat2(RESOLVE_IN_ROOT), so a symlink in an
 * image cannot send a mount, a device node or a mask outside it. */
#ifndef PYCTR_ROOTFS_H
#define PYCTR_ROOTFS_H

#include "pyctr.h"

/* Opens `path` (relative or absolute, both taken inside the root) as an O_PATH fd. */
int pyctr_open_in_root(int rootfd, const char *path, int flags);
/* mkdir -p inside the root; returns an O_PATH fd on the directory.  A failure is reported
 * as `stage`: the step that wanted the directory (a mount, a device, the working dir). */
int pyctr_mkdir_in_root(int rootfd, const char *path, int stage, struct pyctr_err *err);
/* Creates an empty file (and its parents) unless something exists there; returns an
 * O_PATH fd on it.  Failures are reported as `stage`. */
int pyctr_touch_in_root(int rootfd, const char *path, int stage, struct pyctr_err *err);
/* One mount onto its target resolved inside the root (made if missing).  A bind's source
 * is looked up once, cloned; the target takes the clone's kind (file or directory). */
int pyctr_mount_in_root(int rootfd, const struct pyctr_mount *m, int stage, struct pyctr_err *err);
/* "/proc/self/fd/N" for mount(2), which takes paths, not fds. */
void pyctr_fd_path(char buf[32], int fd);

/* Runs the whole sequence and leaves the process chdir'd into the new root.  Returns 0.
 * Just before pivot_root it pauses for the parent's hooks and runs its own (hooks.c),
 * talking to the parent over `sync_fd`. */
int pyctr_setup_rootfs(const struct pyctr_plan *plan, int sync_fd, struct pyctr_err *err);

#endif
