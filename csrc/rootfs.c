#define _GNU_SOURCE
#include "rootfs.h"

#include <errno.h>
#include <sched.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/mount.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "cleanup.h"
#include "userns.h"

void pyctr_fd_path(char buf[32], int fd)
{
    static const char prefix[] = "/proc/self/fd/";
    char digits[12];
    int n = 0;
    unsigned int v = (unsigned int)fd;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    memcpy(buf, prefix, sizeof prefix - 1);
    size_t pos = sizeof prefix - 1;
    while (n)
        buf[pos++] = digits[--n];
    buf[pos] = '\0';
}

static int openat2_retrying(int dirfd, const char *path, uint64_t flags, uint64_t resolve)
{
    struct open_how how = {.flags = flags | O_CLOEXEC, .resolve = resolve};
    int fd = -1;
    /* openat2 asks for a retry when a rename raced the lookup; bounded, as runc does, so a
     * rename loop in another container cannot spin us forever */
    for (int tries = 0; tries < 32; tries++) {
        fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof how);
        if (fd >= 0 || errno != EAGAIN)
            break;
    }
    return fd;
}

static int openat2_in_root(int rootfd, const char *path, uint64_t flags, uint64_t resolve)
{
    while (*path == '/')
        path++;
    if (!*path)
        path = ".";
    return openat2_retrying(rootfd, path, flags, RESOLVE_IN_ROOT | resolve);
}

int pyctr_open_in_root(int rootfd, const char *path, int flags)
{
    return openat2_in_root(rootfd, path, (uint64_t)flags, RESOLVE_NO_MAGICLINKS);
}

/* As pyctr_open_in_root, but no symbolic link may appear anywhere on the way: for the
 * places the kernel's own filesystems go, and masks. */
static int open_in_root_nofollow(int rootfd, const char *path, int flags)
{
    return openat2_in_root(rootfd, path, (uint64_t)flags, RESOLVE_NO_SYMLINKS);
}

/* Splits "a/b/c" into parent "a/b" (in `parent`) and returns "c". */
static const char *split_path(const char *path, char parent[PATH_MAX])
{
    while (*path == '/')
        path++;
    size_t len = strnlen(path, PATH_MAX - 1);
    while (len > 1 && path[len - 1] == '/')
        len--;
    memcpy(parent, path, len);
    parent[len] = '\0';
    char *slash = strrchr(parent, '/');
    if (!slash) {
        parent[0] = '.';
        parent[1] = '\0';
        return path;
    }
    *slash = '\0';
    return path + (slash - parent) + 1;
}

/* Copies `len` bytes of `src` to `dst` as a string: "." for nothing. */
static void copy_prefix(char dst[PATH_MAX], const char *src, size_t len)
{
    while (len > 0 && src[len - 1] == '/')
        len--;
    if (len == 0) {
        dst[0] = '.';
        dst[1] = '\0';
        return;
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* want = target of the symlink `name` in directory `dir` (the path `parent`), followed by
 * the components that remained after it. */
static int redirect(char want[PATH_MAX], int dirfd, const char *parent, const char *name,
                    const char *rest, int stage, struct pyctr_err *err)
{
    char target[PATH_MAX], next[PATH_MAX];
    ssize_t n = readlinkat(dirfd, name, target, sizeof target - 1);
    if (n < 0)
        return pyctr_set_err(err, stage, ENOTDIR, "not a directory in rootfs", name);
    target[n] = '\0';
    int len = target[0] == '/' ? snprintf(next, sizeof next, "%s/%s", target, rest)
                               : snprintf(next, sizeof next, "%s/%s/%s", parent, target, rest);
    if (len < 0 || (size_t)len >= sizeof next)
        return pyctr_set_err(err, stage, ENAMETOOLONG, "path too long in rootfs", name);
    memcpy(want, next, (size_t)len + 1);
    return 0;
}

/* mkdir -p inside the root, one component at a time in a single frame (an image's long
 * WorkingDir must not exhaust the stack).  A dangling symlink on the way gets its target
 * created, as mkdir -p through a symlink would: the walk restarts on the link's target,
 * at most 40 times. */
int pyctr_mkdir_in_root(int rootfd, const char *path, int stage, struct pyctr_err *err)
{
    char want[PATH_MAX], parent[PATH_MAX], name[NAME_MAX + 1];
    if (strlen(path) >= sizeof want)
        return pyctr_set_err(err, stage, ENAMETOOLONG, "path too long in rootfs", path);
    strcpy(want, path);
    for (int hops = 0; hops <= 40; hops++) {
        int fd = pyctr_open_in_root(rootfd, want, O_PATH | O_DIRECTORY);
        if (fd >= 0 || errno != ENOENT) {
            if (fd < 0)
                pyctr_set_err(err, stage, errno, "open directory in rootfs", path);
            return fd;
        }
        int redirected = 0;
        size_t len = strlen(want);
        for (size_t pos = 0, end; pos < len && !redirected; pos = end + 1) {
            for (end = pos; end < len && want[end] != '/'; end++)
                ;
            if (end == pos || end - pos > NAME_MAX)
                continue; /* an empty component; an overlong one fails at the final open */
            copy_prefix(parent, want, pos);
            memcpy(name, want + pos, end - pos);
            name[end - pos] = '\0';
            _cleanup_close_ int dfd = pyctr_open_in_root(rootfd, parent, O_RDONLY | O_DIRECTORY);
            if (dfd < 0)
                return pyctr_set_err(err, stage, errno, "open directory in rootfs", parent);
            if (mkdirat(dfd, name, 0755) == 0)
                continue;
            if (errno != EEXIST)
                return pyctr_set_err(err, stage, errno, "mkdir in rootfs", path);
            char saved = want[end];
            want[end] = '\0';
            _cleanup_close_ int probe = pyctr_open_in_root(rootfd, want, O_PATH | O_DIRECTORY);
            int probe_errno = errno;
            want[end] = saved;
            if (probe >= 0)
                continue;
            if (probe_errno != ENOENT)
                return pyctr_set_err(err, stage, probe_errno, "open directory in rootfs", path);
            if (redirect(want, dfd, parent, name, end < len ? want + end + 1 : "", stage, err) < 0)
                return -1;
            redirected = 1;
        }
    }
    return pyctr_set_err(err, stage, ELOOP, "too many symlinks in rootfs", path);
}

/* The directory that is to hold `path`, made if missing (inside the root), as an O_PATH fd
 * for the *at() calls (which take one as their directory); *name is set to the last
 * component.  Failures are reported as `stage`. */
static int open_parent(int rootfd, const char *path, const char **name, int stage, struct pyctr_err *err)
{
    char parent[PATH_MAX];
    *name = split_path(path, parent);
    return pyctr_mkdir_in_root(rootfd, parent, stage, err);
}

int pyctr_touch_in_root(int rootfd, const char *path, int stage, struct pyctr_err *err)
{
    int fd = pyctr_open_in_root(rootfd, path, O_PATH);
    if (fd >= 0 || errno != ENOENT) {
        if (fd < 0)
            pyctr_set_err(err, stage, errno, "open file in rootfs", path);
        return fd;
    }
    const char *name;
    _cleanup_close_ int dfd = open_parent(rootfd, path, &name, stage, err);
    if (dfd < 0)
        return -1;
    int created = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (created < 0 && errno != EEXIST)
        return pyctr_set_err(err, stage, errno, "create file in rootfs", path);
    if (created >= 0)
        close(created);
    fd = pyctr_open_in_root(rootfd, path, O_PATH);
    if (fd < 0)
        pyctr_set_err(err, stage, errno, "open file in rootfs", path);
    return fd;
}

/* One overlay option through fsconfig: KEY=VALUE, or a flag; lowerdir's layers one by
 * one as "lowerdir+" (Linux 6.8), which no page-sized option string limits. */
static int overlay_option(int fs, char *option)
{
    char *value = strchr(option, '=');
    if (!value)
        return (int)syscall(SYS_fsconfig, fs, FSCONFIG_SET_FLAG, option, NULL, 0);
    *value++ = '\0';
    if (strcmp(option, "lowerdir") != 0)
        return (int)syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, option, value, 0);
    for (char *save = NULL, *layer = strtok_r(value, ":", &save); layer; layer = strtok_r(NULL, ":", &save))
        if (syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "lowerdir+", layer, 0) < 0)
            return -1;
    return 0;
}

/* An overlay whose options do not fit in mount(2)'s one page (past ~40 layers): made with
 * fsopen/fsconfig/fsmount and moved onto `target`.  Options are split on ',' and layers
 * on ':', as mount(2) would split them. */
static int mount_overlay_by_parts(const char *options, const char *target)
{
    _cleanup_close_ int fs = (int)syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC);
    if (fs < 0)
        return -1;
    size_t n = strlen(options);
    char copy[n + 1];
    memcpy(copy, options, n + 1);
    for (char *save = NULL, *option = strtok_r(copy, ",", &save); option; option = strtok_r(NULL, ",", &save))
        if (overlay_option(fs, option) < 0)
            return -1;
    if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
        return -1;
    _cleanup_close_ int mnt = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV);
    if (mnt < 0)
        return -1;
    return (int)syscall(SYS_move_mount, mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH);
}

/* rootfsPropagation: rprivate unless the config says.  Shared and unbindable cannot be
 * had before pivot_root (it refuses a shared parent; an unbindable tree cannot be bound
 * as the rootfs), so until then the tree is a slave, and they are applied to the new
 * root after it (as runc does). */
static unsigned long root_propagation(const struct pyctr_plan *plan, int final)
{
    unsigned long wanted = plan->root_propagation ? plan->root_propagation : MS_PRIVATE | MS_REC;
    if (wanted & (MS_SHARED | MS_UNBINDABLE))
        return final ? wanted : MS_SLAVE | MS_REC;
    return final ? 0 : wanted;
}

/* Whether the child has a mount namespace of its own (made, or joined by path).  A config
 * without one (runc and crun take it) runs in the runtime's: nothing may then touch "/"
 * or mount the rootfs, its mounts are the host's to see, and chroot stands for pivot_root. */
static int own_mount_ns(const struct pyctr_plan *plan)
{
    if (plan->clone_flags & CLONE_NEWNS)
        return 1;
    for (size_t i = 0; i < plan->n_setns; i++)
        if (plan->setns[i].nstype == CLONE_NEWNS)
            return 1;
    return 0;
}

static int mount_root(const struct pyctr_plan *plan, struct pyctr_err *err)
{
    if (!own_mount_ns(plan)) {
        int fd = open(plan->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return pyctr_set_err(err, PYCTR_STAGE_ROOTFS, errno, "open rootfs", plan->rootfs);
        return fd;
    }
    unsigned long prop = root_propagation(plan, 0);
    /* Without this, mounts below would propagate back to the host's namespace. */
    if (mount(NULL, "/", NULL, prop, NULL) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_PROPAGATION, errno, "make / private", NULL);
    char idmapped_root[PATH_MAX], idmapped_data[PYCTR_MOUNT_DATA_MAX];
    const char *rootfs = plan->rootfs, *data = plan->rootfs_data;
    if (plan->n_idmapped) { /* a user namespace: through idmapped mounts (userns.h) */
        if (pyctr_userns_rootfs(plan, idmapped_root, idmapped_data, err) < 0)
            return -1;
        rootfs = idmapped_root;
        data = data ? idmapped_data : NULL;
    }
    int rc;
    /* nodev: device nodes belong in /dev (its own tmpfs); one shipped in an image layer
     * or made elsewhere in the rootfs does not open */
    if (plan->rootfs_fstype && data && strlen(data) >= PYCTR_MOUNT_DATA_MAX && strcmp(plan->rootfs_fstype, "overlay") == 0)
        rc = mount_overlay_by_parts(data, rootfs);
    else if (plan->rootfs_fstype)
        rc = mount(plan->rootfs_source, rootfs, plan->rootfs_fstype, MS_NODEV, data);
    else if (plan->n_idmapped) /* attached: a mount point already */
        rc = 0;
    else /* pivot_root needs the new root to be a mount point */
        rc = mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL);
    if (rc < 0)
        return pyctr_set_err(err, PYCTR_STAGE_ROOTFS, errno, "mount rootfs", plan->rootfs);
    int fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return pyctr_set_err(err, PYCTR_STAGE_ROOTFS, errno, "open rootfs", plan->rootfs);
    return fd;
}

/* The kernel's own filesystems (proc, sysfs, devpts, mqueue, tmpfs, cgroup) go only onto
 * real directories: an image that makes /proc a link to /dev/p would otherwise have proc
 * mounted where the masks do not look, and a nested namespace could mount a fresh,
 * unmasked one (runc refuses the same). */
static int needs_real_dir(const struct pyctr_mount *m)
{
    static const char *const kinds[] = {"proc", "sysfs", "devpts", "mqueue", "tmpfs", "cgroup", "cgroup2"};
    if ((m->flags & MS_BIND) || !m->fstype)
        return 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(m->fstype, kinds[i]) == 0)
            return 1;
    return 0;
}

static int real_dir_target(int rootfd, const struct pyctr_mount *m, int stage, struct pyctr_err *err)
{
    int fd = open_in_root_nofollow(rootfd, m->target, O_PATH | O_DIRECTORY);
    if (fd < 0 && errno == ENOENT) {
        _cleanup_close_ int made = pyctr_mkdir_in_root(rootfd, m->target, stage, err);
        if (made < 0)
            return -1;
        fd = open_in_root_nofollow(rootfd, m->target, O_PATH | O_DIRECTORY);
    }
    if (fd >= 0)
        return fd;
    if (errno == ELOOP)
        return pyctr_set_err(err, stage, errno, "mount destination is a symbolic link in the rootfs", m->target);
    if (errno == ENOTDIR)
        return pyctr_set_err(err, stage, errno, "mount destination is not a directory in the rootfs", m->target);
    return pyctr_set_err(err, stage, errno, "open mount destination in rootfs", m->target);
}

static int mount_target(int rootfd, const struct pyctr_mount *m, int stage, struct pyctr_err *err)
{
    if (needs_real_dir(m))
        return real_dir_target(rootfd, m, stage, err);
    return pyctr_mkdir_in_root(rootfd, m->target, stage, err);
}

/* MS_* flags -> mount_setattr attributes: returns the set and fills *clear. */
static __u64 mount_attrs(unsigned long flags, __u64 *clear)
{
    __u64 set = 0;
    *clear = 0;
    if (flags & MS_RDONLY)
        set |= MOUNT_ATTR_RDONLY;
    if (flags & MS_NOSUID)
        set |= MOUNT_ATTR_NOSUID;
    if (flags & MS_NODEV)
        set |= MOUNT_ATTR_NODEV;
    if (flags & MS_NOEXEC)
        set |= MOUNT_ATTR_NOEXEC;
    if (flags & MS_NODIRATIME)
        set |= MOUNT_ATTR_NODIRATIME;
    if (flags & (MS_NOATIME | MS_RELATIME | MS_STRICTATIME)) {
        *clear = MOUNT_ATTR__ATIME; /* the atime modes are one field: clear, then set one */
        set |= (flags & MS_NOATIME) ? MOUNT_ATTR_NOATIME
             : (flags & MS_STRICTATIME) ? MOUNT_ATTR_STRICTATIME : MOUNT_ATTR_RELATIME;
    }
    return set;
}

/* A detached copy of `source_fd` (an O_PATH fd, or AT_FDCWD with `source`), with its
 * submounts under MS_REC; -1 with errno set. */
static int clone_tree(int source_fd, const char *source, unsigned long flags)
{
    unsigned int rec = (flags & MS_REC) ? AT_RECURSIVE : 0;
    unsigned int empty = *source ? 0 : AT_EMPTY_PATH;
    return (int)syscall(SYS_open_tree, source_fd, source, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | rec | empty);
}

/* A detached `tree` onto `target_fd` with `flags` applied to it and, with MS_REC, to
 * every submount: a remount only reaches the top mount, and would look the target up
 * again by name.  Returns -1 with errno set (ENOSYS before Linux 5.12). */
static int attach_tree(int tree, int target_fd, unsigned long flags)
{
    unsigned int rec = (flags & MS_REC) ? AT_RECURSIVE : 0;
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = mount_attrs(flags, &attr.attr_clr);
    if ((attr.attr_set || attr.attr_clr) &&
        syscall(SYS_mount_setattr, tree, "", AT_EMPTY_PATH | rec, &attr, sizeof attr) < 0)
        return -1;
    return (int)syscall(SYS_move_mount, tree, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
}

static int bind_with_attrs(int source_fd, const char *source, int target_fd, unsigned long flags)
{
    _cleanup_close_ int tree = clone_tree(source_fd, source, flags);
    if (tree < 0)
        return -1;
    return attach_tree(tree, target_fd, flags);
}

/* A bind's source is looked up once: cloned first, then its kind (file or directory)
 * read off the clone, which is what gets mounted.  A source renamed or swapped for a
 * link meanwhile cannot make the target one kind and the mount another's content. */
static int bind_mount(int rootfd, const struct pyctr_mount *m, int stage, struct pyctr_err *err)
{
    _cleanup_close_ int source = -1;
    if (m->source[0] == '{') { /* with a user namespace, idmapped by the parent (userns.h) */
        char attached[PATH_MAX];
        if (pyctr_userns_fill(m->source, attached, sizeof attached) < 0)
            return pyctr_set_err(err, stage, errno, "bind source", m->source);
        source = (int)syscall(SYS_open_tree, AT_FDCWD, attached, OPEN_TREE_CLOEXEC); /* the attached mount */
        if (source < 0)
            return pyctr_set_err(err, stage, errno, "open bind source", m->source);
    } else if (m->source_no_symlinks) {
        source = openat2_retrying(AT_FDCWD, m->source, O_PATH, RESOLVE_NO_SYMLINKS);
        if (source < 0 && errno == ELOOP)
            return pyctr_set_err(err, stage, errno, "bind source became a symbolic link since it was checked", m->source);
        if (source < 0)
            return pyctr_set_err(err, stage, errno, "open bind source", m->source);
    }
    _cleanup_close_ int tree = source >= 0 ? clone_tree(source, "", m->flags) : clone_tree(AT_FDCWD, m->source, m->flags);
    if (tree < 0)
        return pyctr_set_err(err, stage, errno, "open bind source", m->source);
    struct stat st;
    if (fstat(tree, &st) < 0)
        return pyctr_set_err(err, stage, errno, "stat bind source", m->source);
    _cleanup_close_ int fd = S_ISDIR(st.st_mode) ? pyctr_mkdir_in_root(rootfd, m->target, stage, err)
                                                 : pyctr_touch_in_root(rootfd, m->target, stage, err);
    if (fd < 0)
        return -1;
    if (attach_tree(tree, fd, m->flags) < 0)
        return pyctr_set_err(err, stage, errno, "bind mount", m->target);
    return 0;
}

int pyctr_mount_in_root(int rootfd, const struct pyctr_mount *m, int stage, struct pyctr_err *err)
{
    char where[32];
    if (m->flags & MS_BIND) {
        if (bind_mount(rootfd, m, stage, err) < 0)
            return -1;
    } else {
        _cleanup_close_ int fd = mount_target(rootfd, m, stage, err);
        if (fd < 0)
            return -1;
        pyctr_fd_path(where, fd);
        if (mount(m->source, where, m->fstype, m->flags, m->data) < 0)
            return pyctr_set_err(err, stage, errno, "mount", m->target);
    }
    if (m->propagation) {
        _cleanup_close_ int pfd = pyctr_open_in_root(rootfd, m->target, O_PATH);
        if (pfd < 0)
            return pyctr_set_err(err, stage, errno, "reopen mount", m->target);
        pyctr_fd_path(where, pfd);
        if (mount(NULL, where, NULL, m->propagation, NULL) < 0)
            return pyctr_set_err(err, stage, errno, "set propagation", m->target);
    }
    return 0;
}

static int make_device(int rootfd, const struct pyctr_device *d, struct pyctr_err *err)
{
    const char *name;
    _cleanup_close_ int dfd = open_parent(rootfd, d->path, &name, PYCTR_STAGE_DEVICE, err);
    if (dfd < 0)
        return -1;
    if (mknodat(dfd, name, d->mode, makedev(d->major, d->minor)) == 0) {
        if (fchownat(dfd, name, d->uid, d->gid, AT_SYMLINK_NOFOLLOW) < 0)
            return pyctr_set_err(err, PYCTR_STAGE_DEVICE, errno, "chown device", d->path);
        /* the mode asked for, not what the umask left of it: a non-root user inside must
         * be able to open /dev/null */
        if (fchmodat(dfd, name, d->mode & 07777, 0) < 0)
            return pyctr_set_err(err, PYCTR_STAGE_DEVICE, errno, "chmod device", d->path);
        return 0;
    }
    if (errno == EEXIST)
        return 0;
    if (errno != EPERM)
        return pyctr_set_err(err, PYCTR_STAGE_DEVICE, errno, "mknod", d->path);
    /* No CAP_MKNOD (a user namespace): bind the host's node instead, as runc does. */
    struct pyctr_mount bind = {.source = NULL, .target = d->path, .flags = MS_BIND};
    char host[PATH_MAX];
    host[0] = '/';
    strncpy(host + 1, d->path, PATH_MAX - 2);
    host[PATH_MAX - 1] = '\0';
    bind.source = host;
    return pyctr_mount_in_root(rootfd, &bind, PYCTR_STAGE_DEVICE, err);
}

static int make_symlink(int rootfd, const struct pyctr_symlink *s, struct pyctr_err *err)
{
    const char *name;
    _cleanup_close_ int dfd = open_parent(rootfd, s->linkpath, &name, PYCTR_STAGE_SYMLINK, err);
    if (dfd < 0)
        return -1;
    if (symlinkat(s->target, dfd, name) < 0 && errno != EEXIST)
        return pyctr_set_err(err, PYCTR_STAGE_SYMLINK, errno, "symlink", s->linkpath);
    return 0;
}

/* Masking fails closed: a path that exists but cannot be masked aborts the start, and so
 * does a symbolic link on the way (it would send the mask elsewhere, leaving the path). */
static int mask_path(int rootfd, const char *path, struct pyctr_err *err)
{
    _cleanup_close_ int fd = open_in_root_nofollow(rootfd, path, O_PATH);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        if (errno == ELOOP)
            return pyctr_set_err(err, PYCTR_STAGE_MASK, errno, "masked path is a symbolic link in the rootfs", path);
        return pyctr_set_err(err, PYCTR_STAGE_MASK, errno, "open masked path", path);
    }
    struct stat st;
    if (fstat(fd, &st) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_MASK, errno, "stat masked path", path);
    char where[32];
    pyctr_fd_path(where, fd);
    int rc = S_ISDIR(st.st_mode) ? mount("tmpfs", where, "tmpfs", MS_RDONLY, "size=0")
                                 : mount("/dev/null", where, NULL, MS_BIND, NULL);
    if (rc < 0)
        return pyctr_set_err(err, PYCTR_STAGE_MASK, errno, "mask", path);
    return 0;
}

static int readonly_path(int rootfd, const char *path, struct pyctr_err *err)
{
    _cleanup_close_ int fd = open_in_root_nofollow(rootfd, path, O_PATH);
    if (fd < 0) {
        if (errno == ENOENT)
            return 0;
        if (errno == ELOOP)
            return pyctr_set_err(err, PYCTR_STAGE_READONLY, errno, "read-only path is a symbolic link in the rootfs", path);
        return pyctr_set_err(err, PYCTR_STAGE_READONLY, errno, "open read-only path", path);
    }
    /* A read-only copy of the subtree, submounts included, laid over itself. */
    unsigned long flags = MS_REC | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC;
    if (bind_with_attrs(fd, "", fd, flags) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_READONLY, errno, "make read-only", path);
    return 0;
}

/* --no-pivot: for a rootfs on ramfs/initramfs, where pivot_root refuses; the old root
 * stays reachable for whoever can escape a chroot, so it is the caller's explicit ask. */
static int move_root(const struct pyctr_plan *plan, struct pyctr_err *err)
{
    if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_PIVOT, errno, "move rootfs onto /", plan->rootfs);
    if (chroot(".") < 0)
        return pyctr_set_err(err, PYCTR_STAGE_PIVOT, errno, "chroot", plan->rootfs);
    if (chdir("/") < 0)
        return pyctr_set_err(err, PYCTR_STAGE_PIVOT, errno, "chdir /", NULL);
    return 0;
}

static int pivot(int rootfd, const struct pyctr_plan *plan, struct pyctr_err *err)
{
    if (fchdir(rootfd) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_PIVOT, errno, "chdir to rootfs", plan->rootfs);
    if (!own_mount_ns(plan)) {
        if (chroot(".") < 0 || chdir("/") < 0)
            return pyctr_set_err(err, PYCTR_STAGE_PIVOT, errno, "chroot", plan->rootfs);
        return 0;
    }
    if (plan->no_pivot) {
        if (move_root(plan, err) < 0)
            return -1;
        goto pivoted;
    }
    /* pivot_root(".", ".") stacks the old root on the new one; detaching "." then drops
     * it without needing a directory for it inside the image (runc, crun do the same). */
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        return pyctr_set_err(err, PYCTR_STAGE_PIVOT, errno, "pivot_root", plan->rootfs);
    if (umount2(".", MNT_DETACH) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_PIVOT, errno, "detach old root", NULL);
    if (chdir("/") < 0)
        return pyctr_set_err(err, PYCTR_STAGE_PIVOT, errno, "chdir /", NULL);
pivoted:
    if (root_propagation(plan, 1) && mount(NULL, "/", NULL, root_propagation(plan, 1), NULL) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_PROPAGATION, errno, "set the root's propagation", NULL);
    if (plan->rootfs_readonly && mount(NULL, "/", NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) < 0)
        return pyctr_set_err(err, PYCTR_STAGE_PIVOT, errno, "remount / read-only", NULL);
    return 0;
}

/* linux.sysctl, into the container's own /proc/sys (its proc mount, found inside the
 * root without following a link), before the read-only paths cover it. */
static int write_sysctls(int rootfd, const struct pyctr_plan *plan, struct pyctr_err *err)
{
    for (size_t i = 0; i < plan->n_sysctls; i++) {
        const struct pyctr_sysctl *s = &plan->sysctls[i];
        char path[PATH_MAX];
        int len = snprintf(path, sizeof path, "proc/sys/%s", s->key);
        if (len < 0 || (size_t)len >= sizeof path)
            return pyctr_set_err(err, PYCTR_STAGE_SYSCTL, ENAMETOOLONG, "sysctl", s->key);
        for (char *c = path + 9; *c; c++)
            if (*c == '.')
                *c = '/';
        _cleanup_close_ int fd = openat2_in_root(rootfd, path, O_WRONLY, RESOLVE_NO_SYMLINKS);
        if (fd < 0)
            return pyctr_set_err(err, PYCTR_STAGE_SYSCTL, errno, "open sysctl", s->key);
        size_t n = strlen(s->value);
        if (write(fd, s->value, n) != (ssize_t)n)
            return pyctr_set_err(err, PYCTR_STAGE_SYSCTL, errno, "write sysctl", s->key);
    }
    return 0;
}

int pyctr_setup_rootfs(const struct pyctr_plan *plan, int sync_fd, struct pyctr_err *err)
{
    _cleanup_close_ int rootfd = mount_root(plan, err);
    if (rootfd < 0)
        return -1;
    for (size_t i = 0; i < plan->n_mounts; i++)
        if (pyctr_mount_in_root(rootfd, &plan->mounts[i], PYCTR_STAGE_MOUNT, err) < 0)
            return -1;
    for (size_t i = 0; i < plan->n_devices; i++)
        if (make_device(rootfd, &plan->devices[i], err) < 0)
            return -1;
    for (size_t i = 0; i < plan->n_symlinks; i++)
        if (make_symlink(rootfd, &plan->symlinks[i], err) < 0)
            return -1;
    if (write_sysctls(rootfd, plan, err) < 0)
        return -1;
    for (size_t i = 0; i < plan->n_masked; i++)
        if (mask_path(rootfd, plan->masked_paths[i], err) < 0)
            return -1;
    for (size_t i = 0; i < plan->n_readonly; i++)
        if (readonly_path(rootfd, plan->readonly_paths[i], err) < 0)
            return -1;
    if (plan->cwd) {
        /* docker creates a missing working directory; do it while paths are still
         * resolved inside the root. */
        _cleanup_close_ int cfd = pyctr_mkdir_in_root(rootfd, plan->cwd, PYCTR_STAGE_CWD, err);
        if (cfd < 0)
            return -1;
    }
    if (pyctr_hooks_before_pivot(plan, sync_fd, err) < 0)
        return -1;
    return pivot(rootfd, plan, err);
}
