/* The client's Paths.resolve (client/where.c): the same answers as pyctr/engine/paths.py
 * (tests/cli/test_server.py checks the two against each other through the real client). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "where.h"

static const char *env_root, *env_runroot;

static char *fake_getenv(const char *name)
{
    if (strcmp(name, "PYCTR_ROOT") == 0)
        return (char *)env_root;
    if (strcmp(name, "PYCTR_RUNROOT") == 0)
        return (char *)env_runroot;
    return NULL;
}

static void test_abspath(void)
{
    char out[PATH_MAX];
    CHECK(pyctr_abspath("/home/u", "x/../y/./z/", out, sizeof(out)) == 0);
    CHECK_STR(out, "/home/u/y/z");
    CHECK(pyctr_abspath("/", "..", out, sizeof(out)) == 0);
    CHECK_STR(out, "/");
    CHECK(pyctr_abspath("/a", "/var//lib/pyctr/", out, sizeof(out)) == 0);
    CHECK_STR(out, "/var/lib/pyctr");
    CHECK(pyctr_abspath("/a", "//x/y", out, sizeof(out)) == 0); /* posixpath keeps two */
    CHECK_STR(out, "//x/y");
    CHECK(pyctr_abspath("/a", "///x", out, sizeof(out)) == 0);
    CHECK_STR(out, "/x");
    CHECK(pyctr_abspath("/a", "b", out, 4) == -1);
}

static int where(const char *const *args, struct pyctr_where *w)
{
    int argc = 0;
    while (args[argc])
        argc++;
    return pyctr_where(argc, (char **)args, fake_getenv, "/cwd", w);
}

static void test_where(void)
{
    struct pyctr_where w;
    env_root = env_runroot = NULL;
    CHECK(where((const char *[]){"pyctr", "ps", NULL}, &w) == 0);
    CHECK_STR(w.root, PYCTR_DEFAULT_ROOT);
    CHECK_STR(w.runroot, PYCTR_DEFAULT_RUNROOT);
    CHECK(w.globals == 0);
    CHECK(where((const char *[]){"pyctr", "--root", "r", "--runroot=/x/", "ps", "--root", "no", NULL}, &w) == 0);
    CHECK_STR(w.root, "/cwd/r");
    CHECK_STR(w.runroot, "/x");
    CHECK(w.globals == 3);
    CHECK(where((const char *[]){"pyctr", "--root=" PYCTR_DEFAULT_ROOT "/", "ps", NULL}, &w) == 0);
    CHECK_STR(w.runroot, PYCTR_DEFAULT_RUNROOT); /* the default root, however spelled */
    env_root = "/t/root";
    CHECK(where((const char *[]){"pyctr", "ps", NULL}, &w) == 0);
    CHECK_STR(w.runroot, "/t/root/run");
    CHECK(where((const char *[]){"pyctr", "--root=", "ps", NULL}, &w) == 0); /* empty: the variable's */
    CHECK_STR(w.root, "/t/root");
    env_runroot = "rr";
    CHECK(where((const char *[]){"pyctr", "--root", "/a", "ps", NULL}, &w) == 0);
    CHECK_STR(w.runroot, "/cwd/rr");
    CHECK(where((const char *[]){"pyctr", "--root", NULL}, &w) == -1); /* the CLI says what is wrong */
    env_root = "/";
    env_runroot = "";
    CHECK(where((const char *[]){"pyctr", "ps", NULL}, &w) == 0);
    CHECK_STR(w.runroot, "/run");
}

static void test_config(void)
{
    CHECK(pyctr_config_says_off("server = false\n"));
    CHECK(pyctr_config_says_off("runtime = \"crun\"\n  server=false # no warm process\n"));
    CHECK(!pyctr_config_says_off("server = true\n"));
    CHECK(!pyctr_config_says_off("servers = false\n"));
    CHECK(!pyctr_config_says_off("[x]\nserver = false\n")); /* a table's key, not the top level's */
    CHECK(!pyctr_config_says_off("server = falsey\n"));
    CHECK(!pyctr_config_says_off(""));
}

int main(void)
{
    test_abspath();
    test_where();
    test_config();
    return check_failures != 0;
}
