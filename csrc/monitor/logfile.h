/* The container's log in docker's json-file format: one record per line, stream tagged. */
#ifndef PYCTR_MONITOR_LOGFILE_H
#define PYCTR_MONITOR_LOGFILE_H

#include <stdio.h>

#define LINE_MAX_BYTES 16384 /* a longer line is written in pieces, as docker does */

struct stream {
    const char *name; /* "stdout" or "stderr" */
    int kind;         /* the frame type attach clients get its bytes as */
    int fd;
    char buf[LINE_MAX_BYTES];
    size_t len;
};

void log_timestamp(char out[40]);
/* Takes n new bytes at the end of s->buf and writes out every complete line. */
void log_take(FILE *log, struct stream *s, size_t n);
/* Writes out what is left, a last line without its newline included. */
void log_flush(FILE *log, struct stream *s);

#endif
