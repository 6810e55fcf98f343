/* userns.c's pure part: the "{i}" templates of the rootfs path and overlay options. */
#define _GNU_SOURCE
#include <errno.h>

#include "../userns.h"
#include "check.h"

static void test_fills_fd_paths(void)
{
    int fds[] = {7, 12};
    char out[128];
    CHECK(pyctr_fill_fd_template("lowerdir={0},upperdir={1}/upper,workdir={1}/work", fds, 2, out, sizeof out) == 0);
    CHECK_STR(out, "lowerdir=/proc/self/fd/7,upperdir=/proc/self/fd/12/upper,workdir=/proc/self/fd/12/work");
}

static void test_double_brace_is_a_brace(void)
{
    int fds[] = {3};
    char out[64];
    CHECK(pyctr_fill_fd_template("{0}/a{{b}", fds, 1, out, sizeof out) == 0);
    CHECK_STR(out, "/proc/self/fd/3/a{b}");
    CHECK(pyctr_fill_fd_template("", fds, 1, out, sizeof out) == 0);
    CHECK_STR(out, "");
}

static void test_refuses_bad_templates(void)
{
    int fds[] = {3, 4};
    char out[64];
    const char *bad[] = {"{2}", "{}", "{0", "{x}", "a{", "{99999999999999999999}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        errno = 0;
        CHECK(pyctr_fill_fd_template(bad[i], fds, 2, out, sizeof out) == -1);
        CHECK(errno == EINVAL);
    }
}

static void test_too_long(void)
{
    int fds[] = {1000};
    char out[16];
    errno = 0;
    CHECK(pyctr_fill_fd_template("{0}", fds, 1, out, sizeof out) == -1); /* 19 bytes */
    CHECK(errno == ENAMETOOLONG);
    CHECK(pyctr_fill_fd_template("0123456789abcdef", fds, 1, out, sizeof out) == -1);
    CHECK(pyctr_fill_fd_template("0123456789abcde", fds, 1, out, sizeof out) == 0);
}

int main(void)
{
    test_fills_fd_paths();
    test_double_brace_is_a_brace();
    test_refuses_bad_templates();
    test_too_long();
    return check_failures != 0;
}
