/* Where the warm pyctr of a command line listens: its --root and --runroot resolved the
 * way pyctr/engine/paths.py's Paths.resolve does, from the same global options and
 * environment (pyctr/cli/flags.py's GLOBAL). */
#ifndef PYCTR_CLIENT_WHERE_H
#define PYCTR_CLIENT_WHERE_H

#include <limits.h>
#include <stddef.h>

struct pyctr_where {
    char root[PATH_MAX];
    char runroot[PATH_MAX];
    int globals; /* argv[1 .. globals] are the global options */
};

/* Fills `w` for argv (argv[0] the program); `getenv_fn` reads the environment.  -1 when
 * the global options are not for certain (a flag without its value): the Python CLI says
 * what is wrong. */
int pyctr_where(int argc, char **argv, char *(*getenv_fn)(const char *), const char *cwd,
                struct pyctr_where *w);

/* os.path.abspath: `path` made absolute against `cwd`, then normalized by its text alone
 * (`.`, `..`, repeated slashes).  -1 if it does not fit. */
int pyctr_abspath(const char *cwd, const char *path, char *out, size_t size);

/* Whether a pyctr.toml's text turns the warm process off: a top-level `server = false`
 * (pyctr/cli/server.py reads the same key with tomllib). */
int pyctr_config_says_off(const char *text);

#endif
