#define _GNU_SOURCE
#include "../pyctr.h"
#include "check.h"

static void test_exec_candidates(void)
{
    const char *cursor = "/usr/bin::/bin";
    char out[64];
    CHECK(pyctr_next_exec_candidate(&cursor, "sh", out, sizeof out) == 1);
    CHECK_STR(out, "/usr/bin/sh");
    CHECK(pyctr_next_exec_candidate(&cursor, "sh", out, sizeof out) == 1);
    CHECK_STR(out, "sh"); /* empty entry: current directory, as execvpe */
    CHECK(pyctr_next_exec_candidate(&cursor, "sh", out, sizeof out) == 1);
    CHECK_STR(out, "/bin/sh");
    CHECK(pyctr_next_exec_candidate(&cursor, "sh", out, sizeof out) == 0);
}

static void test_exec_candidate_too_long_is_skipped(void)
{
    const char *cursor = "/a-very-long-directory-name:/b";
    char out[8];
    CHECK(pyctr_next_exec_candidate(&cursor, "sh", out, sizeof out) == 1);
    CHECK_STR(out, "/b/sh");
    CHECK(pyctr_next_exec_candidate(&cursor, "sh", out, sizeof out) == 0);
}

static void test_env_lookup(void)
{
    const char *env[] = {"PATHX=1", "PATH=/bin", "HOME=/root", NULL};
    CHECK_STR(pyctr_env_lookup(env, "PATH"), "/bin");
    CHECK(pyctr_env_lookup(env, "TERM") == NULL);
    CHECK(pyctr_env_lookup(NULL, "PATH") == NULL);
}

static void test_set_err_truncates(void)
{
    struct pyctr_err err;
    char detail[600];
    memset(detail, 'x', sizeof detail - 1);
    detail[sizeof detail - 1] = '\0';
    CHECK(pyctr_set_err(&err, PYCTR_STAGE_MOUNT, 2, "mount", detail) == -1);
    CHECK(err.stage == PYCTR_STAGE_MOUNT && err.errnum == 2);
    CHECK(strlen(err.message) == PYCTR_ERR_MSG - 1);
    CHECK(strncmp(err.message, "mount: xx", 9) == 0);
}

static void test_stage_names(void)
{
    CHECK_STR(pyctr_stage_name(PYCTR_STAGE_NONE), "none");
    CHECK_STR(pyctr_stage_name(PYCTR_STAGE_MOUNT), "mount");
    CHECK_STR(pyctr_stage_name(PYCTR_STAGE_NAMESPACE), "namespace");
    CHECK(pyctr_stage_name(PYCTR_STAGE_COUNT) == NULL);
    CHECK(pyctr_stage_name(-1) == NULL);
}

int main(void)
{
    test_stage_names();
    test_exec_candidates();
    test_exec_candidate_too_long_is_skipped();
    test_env_lookup();
    test_set_err_truncates();
    return check_failures != 0;
}
