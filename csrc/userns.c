/* User namespaces: see userns.h for the protocol and why the rootfs goes through
 * idmapped mounts.  The child's half runs between clone and execve: no allocation. */
#define _GNU_SOURCE
#include "userns.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cleanup.h"
#include "rootfs.h"
#include "sync.h"

static int write_map(pid_t pid, const char *file, const char *map, struct pyctr_err *err)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return pyctr_set_err(err, PYCTR_STAGE_NAMESPACE, errno, "open", path);
    size_t len = strlen(map);
    ssize_t n = write(fd, map, len); /* the kernel takes a map in one write or not at all */
    if (n != (ssize_t)len)
        return pyctr_set_err(err, PYCTR_STAGE_NAMESPACE, n < 0 ? errno : EIO, "write", path);
    return 0;
}

/* A detached copy of host directory `path` whose owners are seen through `userns_fd`'s
 * maps: on-disk 0 is the container's root, and what it creates is 0 on disk. */
static int idmapped_tree(const char *path, int userns_fd, struct pyctr_err *err)
{
    int tree = (int)syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tree < 0)
        return pyctr_set_err(err, PYCTR_STAGE_NAMESPACE, errno, "open_tree", path);
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = MOUNT_ATTR_IDMAP;
    attr.userns_fd = (__u64)userns_fd;
    if (syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH, &attr, sizeof attr) < 0) {
        int saved = errno;
        close(tree);
        const char *what = saved == EINVAL ? "the filesystem takes no idmapped mounts (tmpfs before Linux 6.3, nfs...)"
                                           : "idmap";
        return pyctr_set_err(err, PYCTR_STAGE_NAMESPACE, saved, what, path);
    }
    return tree;
}

/* `path` as the child's mount namespace sees it (its copy of ours, untouched yet). */
static int open_in_child(pid_t pid, const char *path, struct pyctr_err *err)
{
    char where[PATH_MAX];
    int len = snprintf(where, sizeof where, "/proc/%d/root%s", (int)pid, path);
    if (len < 0 || (size_t)len >= sizeof where)
        return pyctr_set_err(err, PYCTR_STAGE_NAMESPACE, ENAMETOOLONG, "path too long", path);
    int fd = open(where, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return pyctr_set_err(err, PYCTR_STAGE_NAMESPACE, errno, "open", where);
    return fd;
}

static int send_idmapped(pid_t pid, const char *path, int userns_fd, int sync_fd, struct pyctr_err *err)
{
    _cleanup_close_ int tree = idmapped_tree(path, userns_fd, err);
    if (tree < 0)
        return -1;
    _cleanup_close_ int target = open_in_child(pid, path, err);
    if (target < 0)
        return -1;
    if (pyctr_msg_send(sync_fd, PYCTR_MSG_IDMAP, NULL, tree) < 0 ||
        pyctr_msg_send(sync_fd, PYCTR_MSG_IDMAP, NULL, target) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_SYNC, errno, "send idmapped mount", path);
    return 0;
}

int pyctr_userns_prepare(const struct pyctr_plan *plan, pid_t pid, int sync_fd, struct pyctr_err *err)
{
    if (plan->n_idmapped > PYCTR_MAX_IDMAPPED)
        return pyctr_set_err(err, PYCTR_STAGE_NAMESPACE, E2BIG, "too many idmapped directories", NULL);
    /* gid_map after uid_map, both before anything needs them; /proc/PID/setgroups stays
     * "allow": we are privileged over the parent namespace */
    if (write_map(pid, "uid_map", plan->uid_map, err) < 0 || write_map(pid, "gid_map", plan->gid_map, err) < 0)
        return -1;
    if (!plan->n_idmapped)
        return 0;
    char ns_path[64];
    snprintf(ns_path, sizeof ns_path, "/proc/%d/ns/user", (int)pid);
    _cleanup_close_ int userns_fd = open(ns_path, O_RDONLY | O_CLOEXEC);
    if (userns_fd < 0)
        return pyctr_set_err(err, PYCTR_STAGE_NAMESPACE, errno, "open", ns_path);
    for (size_t i = 0; i < plan->n_idmapped; i++)
        if (send_idmapped(pid, plan->idmapped[i], userns_fd, sync_fd, err) < 0)
            return -1;
    return 0;
}

/* The child's copy of these: filled before the go-ahead, read by the rootfs setup. */
static int idmapped_trees[PYCTR_MAX_IDMAPPED];
static int idmapped_targets[PYCTR_MAX_IDMAPPED];
static size_t idmapped_attached;

static int receive_fd(int sync_fd)
{
    struct pyctr_msg msg;
    int fd = -1, r;
    do
        r = pyctr_msg_recv(sync_fd, &msg, &fd);
    while (r < 0 && errno == EINTR);
    if (r <= 0 || msg.type != PYCTR_MSG_IDMAP || fd < 0)
        _exit(1); /* the parent went away or gave up on us: nobody to report to */
    return fd;
}

void pyctr_userns_receive(const struct pyctr_plan *plan, int sync_fd)
{
    for (size_t i = 0; i < plan->n_idmapped && i < PYCTR_MAX_IDMAPPED; i++) {
        idmapped_trees[i] = receive_fd(sync_fd);
        idmapped_targets[i] = receive_fd(sync_fd);
    }
}

int pyctr_userns_enter(struct pyctr_err *err)
{
    /* Until now we are host root as the new namespace sees it: unmapped, so whatever we
     * created would fail (EOVERFLOW) and an overlay mounted now would keep those
     * credentials for its copy-ups.  Host groups go too. */
    if (syscall(SYS_setgroups, 0, NULL) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_USER, errno, "setgroups in the user namespace", NULL);
    if (syscall(SYS_setresgid, 0, 0, 0) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_USER, errno, "become gid 0 of the user namespace", NULL);
    if (syscall(SYS_setresuid, 0, 0, 0) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_USER, errno, "become root of the user namespace", NULL);
    return 0;
}

int pyctr_fill_fd_template(const char *template, const int *fds, size_t n_fds, char *out, size_t outlen)
{
    size_t pos = 0;
    for (const char *p = template; *p;) {
        char piece[32];
        const char *add = piece;
        size_t len = 1;
        if (p[0] == '{' && p[1] == '{') {
            piece[0] = '{';
            p += 2;
        } else if (p[0] == '{') {
            size_t index = 0;
            const char *q = p + 1;
            for (; *q >= '0' && *q <= '9' && index < n_fds; q++)
                index = index * 10 + (size_t)(*q - '0');
            if (q == p + 1 || *q != '}' || index >= n_fds) {
                errno = EINVAL;
                return -1;
            }
            pyctr_fd_path(piece, fds[index]);
            len = strlen(piece);
            p = q + 1;
        } else {
            add = p++;
        }
        if (pos + len >= outlen) {
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(out + pos, add, len);
        pos += len;
    }
    out[pos] = '\0';
    return 0;
}

int pyctr_userns_rootfs(const struct pyctr_plan *plan, char rootfs[PATH_MAX], char data[PYCTR_MOUNT_DATA_MAX],
                        struct pyctr_err *err)
{
    size_t n = plan->n_idmapped < PYCTR_MAX_IDMAPPED ? plan->n_idmapped : PYCTR_MAX_IDMAPPED;
    for (size_t i = 0; i < n; i++) {
        /* Into our namespace, over the directory it copies: overlayfs (before 6.15) takes
         * no layer from a detached mount.  The fd then names the attached mount. */
        if (syscall(SYS_move_mount, idmapped_trees[i], "", idmapped_targets[i], "",
                    MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
            return pyctr_set_err(err, PYCTR_STAGE_ROOTFS, errno, "attach idmapped mount", plan->idmapped[i]);
        close(idmapped_targets[i]);
        idmapped_targets[i] = -1;
    }
    idmapped_attached = n;
    if (pyctr_fill_fd_template(plan->rootfs, idmapped_trees, n, rootfs, PATH_MAX) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_ROOTFS, errno, "rootfs path", plan->rootfs);
    data[0] = '\0';
    if (plan->rootfs_data && pyctr_fill_fd_template(plan->rootfs_data, idmapped_trees, n, data,
                                                    PYCTR_MOUNT_DATA_MAX) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_ROOTFS, errno, "rootfs options", plan->rootfs_data);
    return 0;
}

int pyctr_userns_fill(const char *template, char *out, size_t outlen)
{
    return pyctr_fill_fd_template(template, idmapped_trees, idmapped_attached, out, outlen);
}
