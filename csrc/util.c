/* Small pure helpers shared by parent and child; all safe to call after clone
 * (no allocation, no locks). */
#define _GNU_SOURCE
#include "pyctr.h"

#include <string.h>

#define PYCTR_STAGE_NAME(id, name) name,
static const char *const stage_names[] = {PYCTR_STAGES(PYCTR_STAGE_NAME)};
#undef PYCTR_STAGE_NAME

const char *pyctr_stage_name(int stage)
{
    return stage >= 0 && stage < PYCTR_STAGE_COUNT ? stage_names[stage] : NULL;
}

/* The message is "what: detail"; strerror is added by Python from errnum. */
int pyctr_set_err(struct pyctr_err *err, int stage, int errnum, const char *what, const char *detail)
{
    if (!err)
        return -1;
    err->stage = stage;
    err->errnum = errnum;
    size_t n = 0;
    const char *parts[3] = {what, detail ? ": " : NULL, detail};
    for (int i = 0; i < 3; i++) {
        for (const char *p = parts[i]; p && *p && n < PYCTR_ERR_MSG - 1; p++)
            err->message[n++] = *p;
    }
    err->message[n] = '\0';
    return -1;
}

const char *pyctr_env_lookup(const char *const *envp, const char *name)
{
    size_t len = strlen(name);
    for (; envp && *envp; envp++) {
        if (strncmp(*envp, name, len) == 0 && (*envp)[len] == '=')
            return *envp + len + 1;
    }
    return NULL;
}

/* Like execvpe's search: an empty PATH entry means the current directory. */
int pyctr_next_exec_candidate(const char **cursor, const char *file, char *out, size_t outlen)
{
    const char *p = *cursor;
    if (!p)
        return 0;
    const char *end = strchrnul(p, ':');
    size_t dirlen = (size_t)(end - p);
    size_t filelen = strlen(file);
    *cursor = *end ? end + 1 : NULL;
    if (dirlen == 0) {
        if (filelen + 1 > outlen)
            return pyctr_next_exec_candidate(cursor, file, out, outlen);
        memcpy(out, file, filelen + 1);
        return 1;
    }
    if (dirlen + 1 + filelen + 1 > outlen) /* too long: skip, as execvpe does */
        return pyctr_next_exec_candidate(cursor, file, out, outlen);
    memcpy(out, p, dirlen);
    out[dirlen] = '/';
    memcpy(out + dirlen + 1, file, filelen + 1);
    return 1;
}
