/* The client's view of Paths.resolve (where.h). */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "where.h"

#ifndef PYCTR_DEFAULT_ROOT
#error "PYCTR_DEFAULT_ROOT comes from pyctr/engine/paths.py (setup.py, CMakeLists.txt)"
#endif
#ifndef PYCTR_DEFAULT_RUNROOT
#error "PYCTR_DEFAULT_RUNROOT comes from pyctr/engine/paths.py (setup.py, CMakeLists.txt)"
#endif

int pyctr_abspath(const char *cwd, const char *path, char *out, size_t size)
{
    char joined[2 * PATH_MAX + 2];
    int n = path[0] == '/' ? snprintf(joined, sizeof(joined), "%s", path)
                           : snprintf(joined, sizeof(joined), "%s%s%s", cwd,
                                      cwd[0] && cwd[strlen(cwd) - 1] == '/' ? "" : "/", path);
    if (n < 0 || (size_t)n >= sizeof(joined))
        return -1;
    /* posixpath.normpath keeps exactly two leading slashes, and folds more to one */
    size_t lead = joined[0] == '/' ? (joined[1] == '/' && joined[2] != '/' ? 2 : 1) : 0;
    size_t len = lead;
    if (len >= size)
        return -1;
    memcpy(out, "//", lead);
    char *save = NULL;
    for (char *part = strtok_r(joined, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
        if (strcmp(part, ".") == 0)
            continue;
        if (strcmp(part, "..") == 0) {
            while (len > lead && out[len - 1] != '/')
                len--; /* drop the last component ... */
            if (len > lead)
                len--; /* ... and its slash */
            continue;
        }
        size_t plen = strlen(part);
        int slash = len > lead;
        if (len + slash + plen + 1 > size)
            return -1;
        if (slash)
            out[len++] = '/';
        memcpy(out + len, part, plen);
        len += plen;
    }
    out[len] = '\0';
    return 0;
}

/* `--root X`, `--root=X`: the value of one of the global options at argv[*i], or NULL if
 * argv[*i] is not one; *i moves past it.  *bad on a flag without a value. */
static const char *global_value(int argc, char **argv, int *i, const char *name, int *bad)
{
    size_t n = strlen(name);
    const char *arg = argv[*i];
    if (strncmp(arg, name, n) != 0)
        return NULL;
    if (arg[n] == '=') {
        (*i)++;
        return arg + n + 1;
    }
    if (arg[n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *bad = 1;
        return NULL;
    }
    *i += 2;
    return argv[*i - 1];
}

int pyctr_where(int argc, char **argv, char *(*getenv_fn)(const char *), const char *cwd,
                struct pyctr_where *w)
{
    const char *root = NULL, *runroot = NULL;
    int i = 1, bad = 0;
    while (i < argc && !bad) {
        const char *v;
        if ((v = global_value(argc, argv, &i, "--root", &bad)))
            root = v;
        else if (!bad && (v = global_value(argc, argv, &i, "--runroot", &bad)))
            runroot = v;
        else
            break;
    }
    if (bad)
        return -1;
    w->globals = i - 1;
    /* an empty option is as good as none (flags.paths), an empty variable too */
    if (!root || !*root)
        root = getenv_fn("PYCTR_ROOT");
    if (!runroot || !*runroot)
        runroot = getenv_fn("PYCTR_RUNROOT");
    if (pyctr_abspath(cwd, root && *root ? root : PYCTR_DEFAULT_ROOT, w->root, sizeof(w->root)) < 0)
        return -1;
    if (runroot && *runroot)
        return pyctr_abspath(cwd, runroot, w->runroot, sizeof(w->runroot));
    if (strcmp(w->root, PYCTR_DEFAULT_ROOT) == 0)
        return pyctr_abspath(cwd, PYCTR_DEFAULT_RUNROOT, w->runroot, sizeof(w->runroot));
    int n = snprintf(w->runroot, sizeof(w->runroot), "%s/run", strcmp(w->root, "/") ? w->root : "");
    return n < 0 || (size_t)n >= sizeof(w->runroot) ? -1 : 0;
}

int pyctr_config_says_off(const char *text)
{
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        while (*line == ' ' || *line == '\t')
            line++;
        if (*line == '[')
            return 0; /* a table: top-level keys come first */
        if (strncmp(line, "server", 6) != 0)
            continue;
        const char *p = line + 6;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p++ != '=')
            continue;
        while (*p == ' ' || *p == '\t')
            p++;
        if (strncmp(p, "false", 5) != 0)
            return 0;
        p += 5;
        while (*p == ' ' || *p == '\t' || *p == '\r')
            p++;
        return *p == '\0' || *p == '\n' || *p == '#';
    }
    return 0;
}
