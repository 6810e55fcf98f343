/* User namespaces: the maps and the idmapped mounts a new container's rootfs is reached
 * through, parent side and child side.
 *
 * Container root is an unprivileged host uid, so the child cannot walk to its rootfs:
 * the layers and the container's directory sit under host root's 0700 directories, and
 * their files belong to host uids the child's user namespace does not map.  So the
 * parent mounts each host directory in plan->idmapped idmapped through the child's user
 * namespace (on-disk uid 0 is container root) and passes the detached mount, with an fd
 * on the same directory as the child's own mount namespace sees it, over the sync socket.
 * The child attaches each over itself and names it "/proc/self/fd/N" in the rootfs path
 * and the overlay's options, where plan->rootfs and plan->rootfs_data say "{i}".  The
 * overlay is mounted by the child, inside its user namespace: overlayfs refuses an
 * idmapped overlay mount, and host root writing through an idmapped upper dir gets
 * EOVERFLOW, so only container root can write to it.
 *
 *   parent                                   child
 *   clone(CLONE_NEWUSER|...) ------------->  recv(IDMAP) x 2n  [pyctr_userns_receive]
 *   ... cgroups; the engine writes the container's directories ...
 *   [pyctr_userns_prepare, then pyctr_release:]
 *   uid_map, gid_map; per directory:
 *     open_tree + MOUNT_ATTR_IDMAP
 *     /proc/PID/root/<dir>  (O_PATH)
 *   send(IDMAP tree), send(IDMAP target) ->
 *   send(GO) ----------------------------->  setres[ug]id(0): container root [pyctr_userns_enter]
 *                                            / private; attach; overlay      [pyctr_userns_rootfs]
 */
#ifndef PYCTR_USERNS_H
#define PYCTR_USERNS_H

#include <limits.h>

#include "pyctr.h"

/* Directories a plan may idmap: an image's layers and the container's directory. */
#define PYCTR_MAX_IDMAPPED 128
/* One page: the most mount(2) takes as options. */
#define PYCTR_MOUNT_DATA_MAX 4096

/* Parent, just before the go-ahead (the directories exist by then): writes the maps and
 * sends the idmapped mounts of plan->idmapped.  Reads only uid_map, gid_map, idmapped. */
int pyctr_userns_prepare(const struct pyctr_plan *plan, pid_t pid, int sync_fd, struct pyctr_err *err);

/* Child, before the go-ahead: the parent's 2 x n_idmapped fds.  Exits if the parent went. */
void pyctr_userns_receive(const struct pyctr_plan *plan, int sync_fd);
/* Child, after the go-ahead: becomes root of its user namespace (container root). */
int pyctr_userns_enter(struct pyctr_err *err);
/* Child, with "/" private: attaches the idmapped mounts and writes the rootfs path and
 * the rootfs mount options with "{i}" filled in. */
int pyctr_userns_rootfs(const struct pyctr_plan *plan, char rootfs[PATH_MAX], char data[PYCTR_MOUNT_DATA_MAX],
                        struct pyctr_err *err);

/* Child, after pyctr_userns_rootfs: a bind source "{i}" (a volume or a user's directory,
 * idmapped like the layers) filled in with the attached mounts' fds. */
int pyctr_userns_fill(const char *template, char *out, size_t outlen);

/* "{i}" in `template` -> "/proc/self/fd/<fds[i]>", "{{" -> "{".  0, or -1 with errno
 * EINVAL (a bad index or brace) or ENAMETOOLONG. */
int pyctr_fill_fd_template(const char *template, const int *fds, size_t n_fds, char *out, size_t outlen);

#endif
