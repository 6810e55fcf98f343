/* A minimal assertion harness: each failed CHECK prints its place, main returns failures. */
#ifndef PYCTR_CHECK_H
#define PYCTR_CHECK_H
#include <stdio.h>
#include <string.h>

static int check_failures;
#define CHECK(cond)                                                                    \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
            check_failures++;                                                          \
        }                                                                              \
    } while (0)
#define CHECK_STR(a, b) CHECK(strcmp((a), (b)) == 0)
#endif
